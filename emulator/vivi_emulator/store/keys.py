"""The channels and their keys, as the store hands them out: a ``KeyRing`` snapshot, and the
order of the key checks every request goes through."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from vivi_emulator.errors import Forbidden, NotFound, Unauthorized, echoed
from vivi_emulator.paths import API_KEY_HEADER


@dataclass(frozen=True, slots=True, eq=False)
class KeyRing:
    """A snapshot of the channels and their keys, and the order of the key checks.

    No key is 401; then an unknown channel is 404; then the channel's own key passes, a key of
    another channel is 403, anything else is 401 (docs/decisions.md, rows 3 to 5). Keys are
    compared with ``hmac.compare_digest``, always against every channel's key, so the time a
    check takes does not tell which keys exist or how much of one matched.

    A channel has a *generation*: a number given when it is added, never reused, that ends when
    it is deleted. What a request writes after its channel's generation ended is dropped
    (docs/architecture.md, "A channel's generation").
    """

    keys: Mapping[str, bytes] = field(default_factory=dict)
    # Keys used here, rotated and deleted channels' included (the most recent, to the bound
    # ``redacted_keys``): what the journal must never show.
    ever: frozenset[str] = frozenset()
    version: int = 0
    generations: Mapping[str, int] = field(default_factory=dict)
    # The state store's epoch these keys were read in ('' for a store that has none): a Redis
    # emptied or replaced since is another epoch, which ends no generation (only a delete does).
    epoch: str = ""

    @classmethod
    def of(
        cls,
        keys: Mapping[str, str],
        ever: Iterable[str] = (),
        version: int = 0,
        generations: Mapping[str, int] | None = None,
        epoch: str = "",
    ) -> KeyRing:
        return cls(
            {c: k.encode("utf-8") for c, k in keys.items()},
            frozenset(ever) | frozenset(keys.values()),
            version,
            dict(generations) if generations is not None else dict.fromkeys(keys, 1),
            epoch,
        )

    def generation(self, channel_id: str) -> int:
        """The channel's current generation; 0 for a channel that does not exist."""
        return self.generations.get(channel_id, 0)

    def channels(self) -> list[str]:
        return list(self.keys)

    def check(self, channel_id: str, presented: str | None) -> None:
        """Raise the VIVI error for this channel id and presented key, or return if it passes."""
        if not presented:
            raise Unauthorized(f"missing API key: send it in the '{API_KEY_HEADER}' header")
        expected = self.keys.get(channel_id)
        if expected is None:
            raise NotFound(f"unknown channel '{echoed(channel_id)}'")
        given = presented.encode("utf-8", "surrogateescape")
        owns = hmac.compare_digest(given, expected)
        other = False
        for key in self.keys.values():
            # Every key, no early exit: the time taken says nothing about which one matched.
            other |= hmac.compare_digest(given, key)
        if owns:
            return
        if other:
            raise Forbidden(
                f"this API key belongs to another channel, not to '{echoed(channel_id)}'"
            )
        raise Unauthorized("invalid API key")
