"""A channel's rate limits as configured (settings, control API, plugin): plain values with no
dependency on the store, which keeps them in its overrides (``ratelimits`` tells the rule)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Far over any load one machine sends, and exact in a double (the Lua step's numbers).
MAX_RATE = 10**12


@dataclass(frozen=True, slots=True)
class Bucket:
    """A token bucket: ``burst`` at most, refilled at ``per_minute`` a minute."""

    per_minute: int
    burst: int

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


class RateLimits(BaseModel):
    """A channel's limits; a limit left out (null) does not apply. None given: no limits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requests_per_minute: int | None = Field(default=None, gt=0, le=MAX_RATE)
    requests_burst: int | None = Field(
        default=None,
        gt=0,
        le=MAX_RATE,
        description="Requests at once (default: requests_per_minute).",
    )
    tokens_per_minute: int | None = Field(default=None, gt=0, le=MAX_RATE)
    tokens_burst: int | None = Field(
        default=None, gt=0, le=MAX_RATE, description="Tokens at once (default: tokens_per_minute)."
    )
    concurrent_streams: int | None = Field(default=None, ge=0, le=MAX_RATE)

    @model_validator(mode="after")
    def _burst_with_rate(self) -> RateLimits:
        for kind in ("requests", "tokens"):
            if (
                getattr(self, f"{kind}_burst") is not None
                and getattr(self, f"{kind}_per_minute") is None
            ):
                raise ValueError(f"{kind}_burst needs {kind}_per_minute")
        return self

    @property
    def active(self) -> bool:
        return any(
            v is not None
            for v in (self.requests_per_minute, self.tokens_per_minute, self.concurrent_streams)
        )

    # Read on every limited message: made once (the model is frozen).
    @cached_property
    def requests(self) -> Bucket | None:
        rate = self.requests_per_minute
        return Bucket(rate, self.requests_burst or rate) if rate is not None else None

    @cached_property
    def tokens(self) -> Bucket | None:
        rate = self.tokens_per_minute
        return Bucket(rate, self.tokens_burst or rate) if rate is not None else None

    def describe(self) -> str:
        parts = []
        if (r := self.requests) is not None:
            parts.append(f"{r.per_minute} requests a minute (burst {r.burst})")
        if (t := self.tokens) is not None:
            parts.append(f"{t.per_minute} tokens a minute (burst {t.burst})")
        if self.concurrent_streams is not None:
            parts.append(f"{self.concurrent_streams} concurrent streams")
        return ", ".join(parts) or "off"
