"""Journal entries made from a request's trace: every written field redacted."""

from __future__ import annotations

import time

from vivi_emulator.calls import Call, Trace
from vivi_emulator.journaling import Journaling
from vivi_emulator.redaction import REDACTED
from vivi_emulator.store.keys import KeyRing

KEY = "sk-journal-secret-1"


def _trace(error: str) -> Trace:
    call = Call(
        "POST", "/channelsApi/c/invoke", "c", {"vivi-api-key": KEY}, time.time(), time.monotonic()
    )
    return Trace(call, [], body=f'{{"message": "my key {KEY}"}}', status=500, error=error)


def test_the_error_field_is_redacted_like_the_body_and_headers() -> None:
    entry = Journaling(entry_bytes=49152).entry(
        _trace(f"upstream said: bad key {KEY}"), KeyRing.of({"c": KEY})
    )
    assert entry.error == f"upstream said: bad key {REDACTED}"
    assert KEY not in (entry.body or "")
    assert dict(entry.headers)["vivi-api-key"] == REDACTED


def test_a_key_of_a_deleted_channel_is_still_redacted_from_the_error() -> None:
    ring = KeyRing.of({"other": "k2"}, ever=[KEY])
    entry = Journaling(entry_bytes=49152).entry(_trace(f"key {KEY} refused"), ring)
    assert entry.error == f"key {REDACTED} refused"
