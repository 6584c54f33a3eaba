"""The channels and their keys as the store hands them out (store/keys.py): a ``KeyRing``'s
contents and the order of its key checks (docs/decisions.md, rows 3 to 5). The checks through
requests, on both stores, are in tests/channels_api/test_routes.py."""

from __future__ import annotations

import pytest

from vivi_emulator.errors import MAX_ECHO_CHARS as ECHO
from vivi_emulator.errors import ApiError, Forbidden, NotFound, Unauthorized
from vivi_emulator.store.keys import KeyRing

RING = KeyRing.of({"a": "key-a", "b": "key-b"})


def test_a_ring_of_keys_holds_them_as_bytes_with_a_first_generation_each() -> None:
    ring = KeyRing.of({"a": "key-a", "b": "kéy-b"}, ever=["old-a"], version=4, epoch="e1")
    assert ring.keys == {"a": b"key-a", "b": "kéy-b".encode()}
    assert ring.channels() == ["a", "b"]
    # What the journal must never show: the keys ever used, the current ones included.
    assert ring.ever == frozenset({"old-a", "key-a", "kéy-b"})
    assert (ring.version, ring.epoch) == (4, "e1")
    assert (ring.generation("a"), ring.generation("b"), ring.generation("z")) == (1, 1, 0)


def test_a_ring_given_no_version_or_epoch_is_at_the_first_of_each() -> None:
    """Version 0 and the epoch '' of a store that has none: those of an empty ring."""
    ring = KeyRing.of({"a": "key-a"})
    assert (ring.version, ring.epoch) == (KeyRing().version, KeyRing().epoch) == (0, "")


def test_given_generations_are_the_rings_own_copy() -> None:
    given = {"a": 3}
    ring = KeyRing.of({"a": "key-a"}, generations=given)
    given["a"] = 4
    assert ring.generation("a") == 3
    assert KeyRing().generation("a") == 0


def test_each_channels_own_key_passes_and_the_others_is_refused() -> None:
    for channel, own, other in (("a", "key-a", "key-b"), ("b", "key-b", "key-a")):
        RING.check(channel, own)  # passes: no error
        with pytest.raises(Forbidden):
            RING.check(channel, other)


def _refusal(channel: str, presented: str | None) -> tuple[type[ApiError], str]:
    with pytest.raises(ApiError) as refused:
        RING.check(channel, presented)
    return type(refused.value), refused.value.detail


@pytest.mark.parametrize(
    ("channel", "presented", "refusal"),
    [
        # No key first, whatever the channel.
        ("a", None, (Unauthorized, "missing API key: send it in the 'vivi-api-key' header")),
        ("z", "", (Unauthorized, "missing API key: send it in the 'vivi-api-key' header")),
        # Then an unknown channel.
        ("z", "key-a", (NotFound, "unknown channel 'z'")),
        # Then another channel's key, then anything else.
        ("a", "key-b", (Forbidden, "this API key belongs to another channel, not to 'a'")),
        ("a", "key-c", (Unauthorized, "invalid API key")),
        ("a", "key-a ", (Unauthorized, "invalid API key")),
        # A header value that is no UTF-8 text (a lone surrogate) is a wrong key, not a crash.
        ("a", "key-\udcff", (Unauthorized, "invalid API key")),
    ],
)
def test_the_checks_come_in_their_order(
    channel: str, presented: str | None, refusal: tuple[type[ApiError], str]
) -> None:
    assert _refusal(channel, presented) == refusal


def test_a_long_channel_id_is_echoed_cut() -> None:
    long = "x" * (ECHO + 10)
    cut = f"{'x' * ECHO}... ({ECHO + 10} characters)"
    assert _refusal(long, "key-a") == (NotFound, f"unknown channel '{cut}'")
    ring = KeyRing.of({long: "mine", "b": "key-b"})
    with pytest.raises(Forbidden) as refused:
        ring.check(long, "key-b")
    assert refused.value.detail == f"this API key belongs to another channel, not to '{cut}'"
