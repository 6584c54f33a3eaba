"""One key, one channel: a key given to a channel through the control API must not be another
channel's (issue 21, item 8; the settings refuse the same at start, settings.Settings).

A key tells which channel a request is for: with one key on two channels, a request with it is
200 on one and 403 on the other, and neither says which the caller meant. A generated key is
random (144 bits) and never checked. The check reads the store's current keys just before the
change; two control calls racing to give one key to two channels are not serialized: the
control API is a test's own tool, not a place for concurrent key management.
"""

from __future__ import annotations

import hmac

from vivi_emulator.errors import FieldError, ValidationFailed
from vivi_emulator.store import StateStore

_REASON = "is the key of another channel; each channel needs a key of its own"


async def refuse_shared_key(store: StateStore, channel_id: str, key: str | None) -> None:
    """A 422 naming ``key`` if ``key`` is a channel's other than ``channel_id``'s (never which
    channel's: that would tell a key's owner to whoever guessed it)."""
    if key is None:
        return
    given = key.encode("utf-8")
    ring = await store.keys()
    # Compared with every key, in constant time each, as the key check does (store.keys).
    shared = [hmac.compare_digest(k, given) for c, k in ring.keys.items() if c != channel_id]
    if any(shared):
        raise ValidationFailed(f"invalid request: key {_REASON}", [FieldError("key", _REASON)])
