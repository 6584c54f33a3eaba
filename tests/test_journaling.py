"""Journal entries hold no key: one redactor per snapshot of the keys, rotated and deleted
channels' keys included within the store's bound."""

from __future__ import annotations

import time

from vivi_emulator.calls import Call, Trace
from vivi_emulator.journaling import Journaling
from vivi_emulator.redaction import REDACTED
from vivi_emulator.store.keys import KeyRing

KEY = "sk-journal-secret-1"


def _trace(body: str) -> Trace:
    call = Call("POST", "/channelsApi/a/invoke", "a", {"vivi-api-key": "key-a"}, 0.0, 0.0)
    return Trace(call, [], body=body, status=200)


def test_one_redactor_is_built_per_snapshot_of_the_keys() -> None:
    journaling = Journaling(48 * 1024, admin_token="admin-secret")
    ring = KeyRing.of({"a": "key-a"}, ever=["old-key-a", "deleted-channel-key"])
    first = journaling.redactor(ring)
    assert journaling.redactor(ring) is first  # the same snapshot: the same redactor
    newer = KeyRing.of({"a": "key-a2"}, ever=["key-a"], version=ring.version)
    assert journaling.redactor(newer) is not first  # a new snapshot, even at the same version
    entry = journaling.entry(_trace("key-a old-key-a deleted-channel-key admin-secret kept"), ring)
    assert entry.body == "[redacted] [redacted] [redacted] [redacted] kept"


def _failed(error: str) -> Trace:
    call = Call(
        "POST", "/channelsApi/c/invoke", "c", {"vivi-api-key": KEY}, time.time(), time.monotonic()
    )
    return Trace(call, [], body=f'{{"message": "my key {KEY}"}}', status=500, error=error)


def test_the_error_field_is_redacted_like_the_body_and_headers() -> None:
    entry = Journaling(entry_bytes=49152).entry(
        _failed(f"upstream said: bad key {KEY}"), KeyRing.of({"c": KEY})
    )
    assert entry.error == f"upstream said: bad key {REDACTED}"
    assert KEY not in (entry.body or "")
    assert dict(entry.headers)["vivi-api-key"] == REDACTED


def test_a_key_of_a_deleted_channel_is_still_redacted_from_the_error() -> None:
    ring = KeyRing.of({"other": "k2"}, ever=[KEY])
    entry = Journaling(entry_bytes=49152).entry(_failed(f"key {KEY} refused"), ring)
    assert entry.error == f"key {REDACTED} refused"
