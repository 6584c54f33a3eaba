"""Rate limits and token quotas per channel: requests and tokens per minute, concurrent streams.

VIVI publishes no limits, headers or error bodies for them: everything here is our decision,
marked inferred in the contract and listed in docs/decisions.md ("Rate limits"). The rule:

- Token buckets, not fixed windows (``store.buckets``): each holds at most its ``burst`` (default:
  the per-minute figure) and refills continuously, so ``Retry-After`` says when a retry succeeds.
- A message costs one request and its tokens: the message's plus the reply's, as
  ``scenarios.tokens`` cuts texts (about four characters a token). The reply is known before a
  byte is sent (it is scripted), so the cost is exact, charged up front: a message the bucket
  cannot pay for is refused whole, never answered on credit.
- A stream holds a slot of ``concurrent_streams`` until it ends.
- A refusal is a 429 with ``Retry-After`` (whole seconds, rounded up) and ``{"detail"}`` naming
  the limit; with limits on, every answer that reached the decision carries
  ``x-ratelimit-limit-*``, ``x-ratelimit-remaining-*`` and ``x-ratelimit-reset-*`` (seconds until
  the bucket is full) for requests and tokens, unless ``rate_limit_headers`` is off.
- One decision per message: a batch draws once per item, and a refused item answers the whole
  batch (as any status answer does, docs/decisions.md row 32).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vivi_emulator.errors import StatusReply
from vivi_emulator.ratelimit_rules import Bucket, RateLimits
from vivi_emulator.runtime import in_force
from vivi_emulator.scenarios.tokens import count_tokens
from vivi_emulator.store.buckets import Buckets, Decision, Demand, Level, retry_seconds

if TYPE_CHECKING:
    from vivi_emulator.settings import Settings
    from vivi_emulator.store.values import Overrides


def message_tokens(message: str, reply: str, count: Callable[[str], int] = count_tokens) -> int:
    """The documented rule: the message's tokens plus the reply's (``count``: the caller's
    own memoising ``Tokenizer.count`` on the hot path)."""
    return count(message) + count(reply)


_NAMES = {
    "requests": "requests per minute",
    "tokens": "tokens per minute",
    "streams": "concurrent streams",
}


@dataclass(frozen=True, slots=True)
class Admission:
    """The decision on a message: its answer's headers, what the journal says, whether it holds
    a stream slot (freed when its request is finished), and the 429 when it was refused."""

    headers: tuple[tuple[str, str], ...]
    note: str
    slot: bool
    refusal: StatusReply | None = None  # the 429 to answer, when refused


def slot_name(thread: str, turn: int | None) -> str:
    # A thread's turn is unique among its running requests (allocated atomically).
    return f"{thread.lower()}:{turn}"


def _seconds(value: float) -> str:
    """Seconds as a plain decimal, to the millisecond rounded up: ``60``, ``0.25``."""
    return f"{math.ceil(value * 1000) / 1000:.3f}".rstrip("0").rstrip(".")


# Levels are floats (a bucket refills continuously): a hair under a whole unit after float
# arithmetic still counts as that unit.
_EPSILON = 1e-9


def _bucket_headers(name: str, bucket: Bucket | None, level: Level | None) -> list[tuple[str, str]]:
    if bucket is None or level is None:
        return []
    return [
        (f"x-ratelimit-limit-{name}", str(bucket.per_minute)),
        (f"x-ratelimit-remaining-{name}", str(max(0, math.floor(level.remaining + _EPSILON)))),
        (f"x-ratelimit-reset-{name}", _seconds(level.reset)),
    ]


def _note(decision: Decision, limits: RateLimits, cost: int) -> str:
    levels = []
    if decision.requests is not None and (r := limits.requests) is not None:
        levels.append(
            f"requests {math.floor(decision.requests.remaining + _EPSILON)}/{r.burst} left"
        )
    if decision.tokens is not None and (t := limits.tokens) is not None:
        levels.append(
            f"tokens {max(0, math.floor(decision.tokens.remaining + _EPSILON))}/{t.burst} left "
            f"(cost {cost})"
        )
    if limits.concurrent_streams is not None:
        levels.append(f"streams {decision.streams}/{limits.concurrent_streams}")
    return ", ".join(levels)


def _never(demand: Demand) -> str:
    """Why a refused message will never pass, whatever it waits."""
    tokens = demand.tokens
    if tokens is not None and demand.cost > tokens.burst:
        return (
            f"this message needs {demand.cost} tokens, over the burst of {tokens.burst}: "
            "it can never pass"
        )
    return "the channel allows no stream: a stream can never pass"


class RateLimiter:
    """The service's rate limiting: which limits apply to a channel, and the decision."""

    def __init__(self, settings: Settings, buckets: Buckets) -> None:
        self.settings = settings
        self.buckets = buckets
        self._channels = {c.id: c.rate_limits for c in settings.channels}

    def configured(self, channel_id: str | None) -> RateLimits | None:
        mine = self._channels.get(channel_id) if channel_id is not None else None
        limits = mine if mine is not None else self.settings.rate_limits
        return limits if limits is not None and limits.active else None

    def limits(self, channel_id: str | None, overrides: Overrides) -> tuple[RateLimits | None, str]:
        """The limits (None: none), and where they are set; a run-time setting without any
        limit turns them off."""
        return in_force(overrides.rate_limits, lambda: self.configured(channel_id))

    async def admit(self, limits: RateLimits, channel_id: str, demand: Demand) -> Admission:
        """The decision on one message: admitted, or refused with the 429 to answer."""
        decision = await self.buckets.decide(channel_id, demand)
        headers: list[tuple[str, str]] = []
        if self.settings.rate_limit_headers:
            headers += _bucket_headers("requests", demand.requests, decision.requests)
            headers += _bucket_headers("tokens", demand.tokens, decision.tokens)
        note = _note(decision, limits, demand.cost)
        if decision.admitted:
            return Admission(tuple(headers), f"admitted: {note}", demand.streams is not None)
        named = " and ".join(_NAMES[r] for r in decision.refused)
        if decision.retry_after is None:
            why = _never(demand)
        else:
            wait = retry_seconds(decision.retry_after)
            why = f"retry after {wait} s"
            headers.insert(0, ("retry-after", str(wait)))
        detail = f"rate limit exceeded: {named} ({limits.describe()}); {why}"
        refusal = StatusReply(429, {"detail": detail}, dict(headers))
        return Admission(tuple(headers), f"refused: {named}; {why}; {note}", False, refusal)

    def demand(
        self, limits: RateLimits, stream: bool, cost: int, seconds: float, slot: str
    ) -> Demand:
        streams = limits.concurrent_streams if stream else None
        return Demand(limits.requests, limits.tokens, cost, streams, seconds, slot)
