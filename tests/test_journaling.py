"""Journal entries hold no key: one redactor per snapshot of the keys, rotated and deleted
channels' keys included within the store's bound."""

from __future__ import annotations

from vivi_emulator.calls import Call, Trace
from vivi_emulator.journaling import Journaling
from vivi_emulator.store.keys import KeyRing


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
