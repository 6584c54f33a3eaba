"""Latency profiles: how long an agent takes to its first token, and between tokens.

A profile gives each delay as a distribution (fixed, uniform, normal, or log-normal given by its
median and 99th percentile, the way MockServer and LLM serving benchmarks describe latency), and
the engine samples it for every request from a generator seeded by the run's seed and the
request's channel, thread and turn: the same run gives the same delays.

Where a profile comes from, first found wins: the reply's own ``timing`` (the profile does not
apply at all), the reply's or its scenario's ``latency``, the channel's run-time setting (control
API), the global run-time setting, the channel's configured one, the configured one
(``serve --latency``, the settings file, ``VIVI_EMULATOR_LATENCY``). ``none`` has no delays; it
is the default everywhere but ``serve``, which plays ``realistic``.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vivi_emulator.caps import MAX_WAIT_MS, WaitMs
from vivi_emulator.reading import MAX_PROFILE_FILE_BYTES, read_text
from vivi_emulator.scenarios.model_errors import model_errors
from vivi_emulator.scenarios.yaml_lines import load as load_yaml
from vivi_emulator.scenarios.yaml_lines import yaml_reason

# The 99th percentile of the standard normal distribution: p99 = p50 + Z99 * sigma.
Z99 = 2.3263478740408408


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Delay(_Strict):
    """A delay in milliseconds, drawn from a distribution.

    ``fixed``: ``ms``. ``uniform``: between ``min_ms`` and ``max_ms``. ``normal``: median
    ``p50_ms``, 99th percentile ``p99_ms`` (never below 0). ``lognormal``: median ``p50_ms``,
    99th percentile ``p99_ms``: a long tail, as measured latencies have.
    """

    distribution: Literal["fixed", "uniform", "normal", "lognormal"] = "fixed"
    ms: WaitMs | None = None
    min_ms: WaitMs | None = None
    max_ms: WaitMs | None = None
    p50_ms: WaitMs | None = None
    p99_ms: WaitMs | None = None

    @model_validator(mode="after")
    def _parameters(self) -> Delay:
        wanted = {
            "fixed": ("ms",),
            "uniform": ("min_ms", "max_ms"),
            "normal": ("p50_ms", "p99_ms"),
            "lognormal": ("p50_ms", "p99_ms"),
        }[self.distribution]
        names = ("ms", "min_ms", "max_ms", "p50_ms", "p99_ms")
        given = {k for k in names if getattr(self, k) is not None}
        if given != set(wanted):
            raise ValueError(f"a {self.distribution} delay takes {' and '.join(wanted)}")
        if self.distribution == "uniform" and self.max_ms < self.min_ms:  # type: ignore[operator]
            raise ValueError("max_ms must not be below min_ms")
        if self.distribution in ("normal", "lognormal") and self.p99_ms < self.p50_ms:  # type: ignore[operator]
            raise ValueError("p99_ms must not be below p50_ms")
        if self.distribution == "lognormal" and not self.p50_ms:
            raise ValueError("a lognormal delay needs p50_ms above 0")
        return self

    @property
    def constant(self) -> float | None:
        """The delay when it never varies (ms), else None."""
        if self.distribution == "fixed":
            return self.ms
        if self.distribution == "uniform" and self.min_ms == self.max_ms:
            return self.min_ms
        if self.distribution in ("normal", "lognormal") and self.p50_ms == self.p99_ms:
            return self.p50_ms
        return None

    def sample(self, rng: random.Random) -> float:
        """One delay in milliseconds, never past the cap (a long tail is cut there)."""
        return min(self._sample(rng), MAX_WAIT_MS)

    def _sample(self, rng: random.Random) -> float:
        constant = self.constant
        if constant is not None:
            return constant
        if self.distribution == "uniform":
            assert self.min_ms is not None
            assert self.max_ms is not None
            return rng.uniform(self.min_ms, self.max_ms)
        assert self.p50_ms is not None
        assert self.p99_ms is not None
        if self.distribution == "normal":
            return max(0.0, rng.gauss(self.p50_ms, (self.p99_ms - self.p50_ms) / Z99))
        sigma = math.log(self.p99_ms / self.p50_ms) / Z99
        return rng.lognormvariate(math.log(self.p50_ms), sigma)

    def describe(self) -> str:
        constant = self.constant
        if constant is not None:
            return f"{constant:g} ms"
        if self.distribution == "uniform":
            return f"{self.min_ms:g} to {self.max_ms:g} ms"
        return f"{self.distribution} p50 {self.p50_ms:g} ms, p99 {self.p99_ms:g} ms"


def fixed(ms: float) -> Delay:
    return Delay(distribution="fixed", ms=ms)


DelaySpec = Annotated[
    WaitMs | Delay,
    Field(
        description="Milliseconds, or a distribution: {distribution, ms | min_ms, max_ms | "
        "p50_ms, p99_ms}."
    ),
]


def _delay(spec: float | Delay) -> Delay:
    return spec if isinstance(spec, Delay) else fixed(spec)


class LatencyProfile(_Strict):
    """How an agent's reply is paced: to its first event, to its first token, between tokens.

    ``first_token`` counts from the request (time to first token, TTFT, as LLM benchmarks
    measure it); the start event is sent at ``first_event`` (never after the first token); every
    later event waits one ``token_gap`` per token it carries (one for an event without text).
    """

    name: str = Field(default="custom", max_length=200, description="Shown where it is in use.")
    first_event: DelaySpec = Field(default=0, description="From the request to the first event.")
    first_token: DelaySpec = Field(
        default=0, description="From the request to the first text chunk (time to first token)."
    )
    token_gap: DelaySpec = Field(default=0, description="Between tokens (and later events).")

    def delays(self) -> tuple[Delay, Delay, Delay]:
        return _delay(self.first_event), _delay(self.first_token), _delay(self.token_gap)

    @property
    def instant(self) -> bool:
        """No delay at all: scripts are the same for every request."""
        return all(d.constant == 0 for d in self.delays())

    def describe(self) -> str:
        if self.instant:
            return f"{self.name}: no delays"
        first_event, first_token, gap = self.delays()
        text = f"{self.name}: first token {first_token.describe()}; between tokens {gap.describe()}"
        if first_event.constant != 0:
            text += f"; first event {first_event.describe()}"
        return text


NONE = LatencyProfile(name="none")
# The default of `serve` (README, "Latency"): an agent on a hosted model. Time to first token:
# median 700 ms, p99 2.5 s (hosted models answer in about 0.4 to 0.8 s at the median, and an agent
# adds its own work before the model's first token; measured TTFT has a long tail, p99 several
# times the median). Between tokens: median 20 ms (50 tokens/s; hosted frontier models stream
# between about 45 and 100), p99 80 ms (network and batching hiccups).
REALISTIC = LatencyProfile(
    name="realistic",
    first_event=0,
    first_token=Delay(distribution="lognormal", p50_ms=700, p99_ms=2500),
    token_gap=Delay(distribution="lognormal", p50_ms=20, p99_ms=80),
)
PROFILES = {"none": NONE, "realistic": REALISTIC}
ProfileName = Literal["none", "realistic"]


class LatencyFileError(ValueError):
    """A profile file that cannot be read or is not a valid profile."""


def read_profile(path: Path) -> LatencyProfile:
    """A profile from a YAML (or JSON) file, named after the file unless it names itself."""
    try:
        text = read_text(path, MAX_PROFILE_FILE_BYTES)
    except OSError as exc:
        raise LatencyFileError(f"cannot read latency profile {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise LatencyFileError(f"cannot read latency profile {path}: not UTF-8 text") from None
    try:
        data: Any = load_yaml(text)
    except yaml.YAMLError as exc:
        line, reason = yaml_reason(exc, text)
        where = f"{path}:{line}" if line else str(path)
        raise LatencyFileError(f"latency profile {where}: {reason}") from None
    if not isinstance(data, dict):
        raise LatencyFileError(
            f"latency profile {path} must hold a mapping (first_token: ..., token_gap: ...)"
        )
    data.setdefault("name", path.name)
    try:
        return LatencyProfile.model_validate(data)
    except ValidationError as exc:
        # In the words of the file's author (as for scenario files), never pydantic's.
        problems = "; ".join(f"{where or 'profile'}: {why}" for _, where, why in model_errors(exc))
        raise LatencyFileError(f"latency profile {path}: {problems}") from None


def resolve(value: Any, *, files: bool = True) -> Any:
    """``none``, ``realistic`` or (with ``files``) a file path as a profile; anything else as
    given, for the caller's model to validate. The settings take a path; the control API does
    not (it must not read the server's files)."""
    if isinstance(value, str):
        if value in PROFILES:
            return PROFILES[value]
        if not files:
            raise ValueError(f"unknown profile {value!r}: give none, realistic or a profile")
        return read_profile(Path(value))
    return value


def profile_yaml(profile: LatencyProfile) -> str:
    """A profile as the YAML file ``--latency FILE`` reads."""
    data = profile.model_dump(mode="json", exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False)
