"""Faults at a rate: a share of requests gets a fault instead of (or inside) its answer.

A chaos setting lists fault kinds, each with the share of requests it hits (``rate``, 0 to 1;
together at most 1). Whether a request is hit, and by which fault, is decided by a hash of the
chaos seed, the channel, the thread and the thread's request count, never by a shared random
generator: the same seed and the same requests give the same faults, whatever order concurrent
requests arrive in, and a client that retries a failed request is drawn again.

A request that names its scenario (the ``x-vivi-scenario`` header, a queued reply, a forced
scenario) is left alone unless the setting says ``include_named: true``: a test that asked for
an answer gets it.

Adding a kind: one model below with its own ``kind`` literal and an ``inject`` method returning
an ``Injection`` (a status answer, or a stream fault made once the reply's event count is known),
added to ``ChaosFault``. The engine and the service need no change.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vivi_emulator.caps import MAX_RETRY_AFTER_SECONDS, PositiveWaitMs
from vivi_emulator.errors import STATUS_PHRASES, StatusReply
from vivi_emulator.scenarios.model import ErrorEvent, Fault, Malformed, Stall

# A stream fault made for a reply of ``n`` events: the Fault to add, and what it did (journal).
StreamFault = Callable[[int], tuple[Fault, str]]


@dataclass(frozen=True, slots=True)
class Injection:
    """What chaos does to one request: answer a status, or break its stream."""

    kind: str
    status: StatusReply | None = None
    stream: StreamFault | None = None
    wire: str | None = None  # a wire option or preset by name (docs/wire.md)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Kind(_Strict):
    rate: float = Field(ge=0, le=1, description="The share of requests it hits (0.05: 5 %).")

    def inject(self, rng: random.Random) -> Injection:
        raise NotImplementedError


def _at(after_events: int | None, events: int, rng: random.Random) -> int:
    """The event after which a fault strikes: as given, or at random past the start event and
    before the last one (so the client has seen the stream begin, and not end)."""
    if after_events is not None:
        return min(after_events, events)
    return rng.randint(1, max(1, events - 1))


class StatusFault(_Kind):
    """Answer with an HTTP error instead of the reply (429 and 503 carry Retry-After)."""

    kind: Literal["status"] = "status"
    code: int = Field(default=500, ge=400, le=599)
    retry_after: int | None = Field(
        default=None,
        ge=0,
        le=MAX_RETRY_AFTER_SECONDS,
        description="Seconds; for 429 and 503 the default is 1.",
    )
    body: dict[str, Any] | None = None

    def inject(self, rng: random.Random) -> Injection:
        headers = {}
        retry = (
            self.retry_after
            if self.retry_after is not None
            else (1 if self.code in (429, 503) else None)
        )
        if retry is not None:
            headers["Retry-After"] = str(retry)
        body = self.body or {"detail": STATUS_PHRASES.get(self.code, "request failed")}
        return Injection(f"status {self.code}", status=StatusReply(self.code, body, headers))


class DisconnectFault(_Kind):
    """The connection drops after some events (at random when ``after_events`` is not given)."""

    kind: Literal["disconnect"] = "disconnect"
    after_events: int | None = Field(default=None, ge=0)

    def inject(self, rng: random.Random) -> Injection:
        def fault(events: int) -> tuple[Fault, str]:
            at = _at(self.after_events, events, rng)
            return Fault(close_after_events=at), f"disconnect after {at} events"

        return Injection(self.kind, stream=fault)


class StallFault(_Kind):
    """No event for ``ms`` after some events, then the rest of the reply."""

    kind: Literal["stall"] = "stall"
    ms: PositiveWaitMs = 5000
    after_events: int | None = Field(default=None, ge=0)

    def inject(self, rng: random.Random) -> Injection:
        def fault(events: int) -> tuple[Fault, str]:
            at = _at(self.after_events, events, rng)
            return (
                Fault(stall=Stall(after_events=at, ms=self.ms)),
                f"stall of {self.ms:g} ms after {at} events",
            )

        return Injection(self.kind, stream=fault)


class MalformedFault(_Kind):
    """One frame that is not JSON, after some events."""

    kind: Literal["malformed"] = "malformed"
    after_events: int | None = Field(default=None, ge=0)

    def inject(self, rng: random.Random) -> Injection:
        def fault(events: int) -> tuple[Fault, str]:
            at = _at(self.after_events, events, rng)
            return Fault(malformed=Malformed(after_events=at)), f"malformed frame after {at} events"

        return Injection(self.kind, stream=fault)


class ErrorEventFault(_Kind):
    """An error event (on_chain_error) after some events, and the stream ends there."""

    kind: Literal["error_event"] = "error_event"
    after_events: int | None = Field(default=None, ge=0)
    message: str = Field(default="the agent failed", max_length=1000)

    def inject(self, rng: random.Random) -> Injection:
        def fault(events: int) -> tuple[Fault, str]:
            at = _at(self.after_events, events, rng)
            spec = ErrorEvent(after_events=at, message=self.message)
            return Fault(error_event=spec), f"error event after {at} events"

        return Injection(self.kind, stream=fault)


class NoEndFault(_Kind):
    """The stream ends without on_chat_model_end."""

    kind: Literal["no_end"] = "no_end"

    def inject(self, rng: random.Random) -> Injection:
        return Injection(self.kind, stream=lambda _: (Fault(omit_end=True), "no end event"))


class WireFault(_Kind):
    """A byte-level fault (docs/wire.md): a wire option or intermediary preset by name, as the
    wire kit plays it (``crlf``, ``split-random``, ``idle-cut``, ``gateway-timeout``, ...)."""

    kind: Literal["wire"] = "wire"
    name: str = Field(description="A name `vivi-emulator wire-test --list` shows.")

    @model_validator(mode="after")
    def _known(self) -> WireFault:
        from vivi_emulator.scenarios.named_wire import wire_names  # the kit reads its fixture file

        known = wire_names()
        if self.name.removeprefix("wire-") not in known:
            raise ValueError(f"unknown wire fault '{self.name}'; known: {', '.join(known)}")
        return self

    def inject(self, rng: random.Random) -> Injection:
        return Injection(f"wire {self.name}", wire=self.name)


ChaosFault = Annotated[
    StatusFault
    | DisconnectFault
    | StallFault
    | MalformedFault
    | ErrorEventFault
    | NoEndFault
    | WireFault,
    Field(discriminator="kind"),
]


def _flaky() -> tuple[ChaosFault, ...]:
    # The example mix: what a busy hosted agent does to 15 % of requests.
    return (
        StatusFault(code=429, rate=0.05),
        StatusFault(code=500, rate=0.02),
        StatusFault(code=503, rate=0.02),
        DisconnectFault(rate=0.03),
        StallFault(rate=0.01),
        MalformedFault(rate=0.01),
        NoEndFault(rate=0.01),
    )


PRESETS: dict[str, Callable[[], tuple[ChaosFault, ...]]] = {"flaky": _flaky}


class ChaosSettings(_Strict):
    """Faults injected into a share of requests (README, "Chaos")."""

    seed: int | None = Field(default=None, description="Default: the run's seed (--seed).")
    faults: tuple[ChaosFault, ...] = Field(
        default=(), description="Each with its rate; none: no chaos."
    )
    preset: Literal["flaky"] | None = Field(
        default=None,
        description="flaky: 5 % 429, 2 % 500, 2 % 503, 3 % disconnect, 1 % "
        "stall, 1 % malformed, 1 % no end (instead of faults).",
    )
    include_named: bool = Field(
        default=False,
        description="Also hit requests that name their scenario (header, queue, forced).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ChaosSettings:
        if self.preset is not None:
            preset = PRESETS[self.preset]()
            if self.faults and self.faults != preset:
                raise ValueError("give faults or a preset, not both")
            object.__setattr__(self, "faults", preset)
        total = sum(f.rate for f in self.faults)
        if total > 1 + 1e-9:
            raise ValueError(f"the rates add up to {total:g}; at most 1")
        return self

    @property
    def active(self) -> bool:
        return any(f.rate > 0 for f in self.faults)

    def describe(self) -> str:
        """``5 % status 429, 3 % disconnect`` (seed 7)."""
        if not self.active:
            return "off"
        parts = []
        for fault in self.faults:
            if isinstance(fault, StatusFault):
                name = f"status {fault.code}"
            elif isinstance(fault, WireFault):
                name = f"wire {fault.name}"
            else:
                name = fault.kind
            parts.append(f"{fault.rate * 100:g} % {name}")
        seed = f" (seed {self.seed})" if self.seed is not None else ""
        named = "; named scenarios too" if self.include_named else ""
        return ", ".join(parts) + seed + named


def _unit(seed: int, channel: str, thread: str, attempt: int) -> random.Random:
    digest = sha256(f"chaos\0{seed}\0{channel}\0{thread.lower()}\0{attempt}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 - faults, not secrets


def draw(
    chaos: ChaosSettings, seed: int, channel: str, thread: str, attempt: int
) -> Injection | None:
    """The fault for this request (the thread's ``attempt``-th), or None."""
    if not chaos.active:
        return None
    rng = _unit(chaos.seed if chaos.seed is not None else seed, channel, thread, attempt)
    point = rng.random()
    for fault in chaos.faults:
        if point < fault.rate:
            return fault.inject(rng)
        point -= fault.rate
    return None
