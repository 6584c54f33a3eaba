"""API channels and their keys, and the key check of every VIVI request.

Order of the checks (docs/decisions.md, rows 3 to 5): no key is 401; then an unknown channel is
404; then the channel's own key passes, a key of another channel is 403, anything else is 401.
Keys are compared with ``hmac.compare_digest``, always against every channel's key, so the time a
check takes does not tell which keys exist or how much of one matched.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from vivi_emulator.errors import Forbidden, NotFound, Unauthorized
from vivi_emulator.settings import Channel

API_KEY_HEADER = "vivi-api-key"


class ChannelRegistry:
    def __init__(self, channels: Iterable[Channel]) -> None:
        self._keys: dict[str, bytes] = {}
        # Every key ever in use, rotated ones included: what the journal must never show.
        self._ever: set[str] = set()
        for channel in channels:
            self.set_key(channel.id, channel.key.get_secret_value())

    def __contains__(self, channel_id: object) -> bool:
        return channel_id in self._keys

    def ids(self) -> list[str]:
        return list(self._keys)

    def set_key(self, channel_id: str, key: str) -> None:
        """Add a channel, or give it a new key: the old one stops working at once."""
        self._keys[channel_id] = key.encode("utf-8")
        self._ever.add(key)

    def secrets(self) -> list[str]:
        return sorted(self._ever)

    def check(self, channel_id: str, presented: str | None) -> None:
        """Raise the VIVI error for this channel id and presented key, or return if it may pass."""
        if not presented:
            raise Unauthorized(f"missing API key: send it in the '{API_KEY_HEADER}' header")
        expected = self._keys.get(channel_id)
        if expected is None:
            raise NotFound(f"unknown channel '{channel_id}'")
        given = presented.encode("utf-8", "surrogateescape")
        owns = hmac.compare_digest(given, expected)
        other = False
        for key in self._keys.values():
            # Compare against every key (no early exit) so timing says nothing about which matched.
            other |= hmac.compare_digest(given, key)
        if owns:
            return
        if other:
            raise Forbidden(f"this API key belongs to another channel, not to '{channel_id}'")
        raise Unauthorized("invalid API key")
