"""7. One cap for every wait and every number that reaches the wire (caps.py).

Each value below was accepted as given (``1e308`` seconds of gateway timeout, an infinite time
scale, a ``retry:`` of 10^30 ms): it is refused where it is given, naming the field, and what a
wait becomes once scaled or drawn from a long tail is cut to the cap.
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from vivi_emulator.caps import MAX_TIME_SCALE, MAX_WAIT_SECONDS, capped_seconds
from vivi_emulator.chaos import StallFault
from vivi_emulator.scenarios.engine import BuildOptions, build_script
from vivi_emulator.scenarios.latency import Delay, LatencyProfile
from vivi_emulator.scenarios.model import Scenario, Stall, Timing
from vivi_emulator.settings import ConfigError, Limits, load_settings
from vivi_emulator.wire import WireOptions, plan
from vivi_emulator.wire.gateway import gateway_failure
from vivi_emulator.wire.options import Keepalive, Split

from tests.support import ctx

INFINITY = float("inf")

REFUSED: list[tuple[type[BaseModel], dict[str, Any], str]] = [
    (WireOptions, {"preset": "gateway-timeout", "timeout_seconds": 1e308}, "timeout_seconds"),
    (WireOptions, {"preset": "gateway-timeout", "timeout_seconds": INFINITY}, "timeout_seconds"),
    (WireOptions, {"preset": "idle-cut", "idle_seconds": 1e9}, "idle_seconds"),
    (WireOptions, {"retry_ms": 10**30}, "retry_ms"),
    (WireOptions, {"preset": "chunked-cut", "cut_after_bytes": 10**30}, "cut_after_bytes"),
    (WireOptions, {"preset": "proxy-buffered", "buffer_bytes": 10**30}, "buffer_bytes"),
    (Split, {"every": 1, "gap_ms": 1e9}, "gap_ms"),
    (Split, {"at": 10**30}, "at"),
    (Keepalive, {"every_ms": INFINITY}, "every_ms"),
    (LatencyProfile, {"first_event": -1000}, "first_event"),
    (LatencyProfile, {"first_event": 1e300}, "first_event"),
    (Delay, {"distribution": "fixed", "ms": float("nan")}, "ms"),
    (Timing, {"first_event_ms": 1e9}, "first_event_ms"),
    (Timing, {"jitter_ms": INFINITY}, "jitter_ms"),
    (Timing, {"tokens_per_second": 1e-12}, "tokens_per_second"),
    (Stall, {"after_events": 1, "ms": 1e12}, "ms"),
    (StallFault, {"rate": 1, "ms": 600_001}, "ms"),
    (Limits, {"file_ttl_seconds": INFINITY}, "file_ttl_seconds"),
    (Limits, {"thread_idle_seconds": 1e308}, "thread_idle_seconds"),
]


@pytest.mark.parametrize(("model", "given", "field"), REFUSED)
def test_a_number_past_its_cap_is_refused_naming_the_field(
    model: type[BaseModel], given: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(given)
    assert any(field in error["loc"] for error in caught.value.errors())


def test_max_connections_is_bounded() -> None:
    """granian takes it as a machine integer: 10**30 was an OverflowError in its worker."""
    with pytest.raises(
        ConfigError, match=re.escape("max_connections (VIVI_EMULATOR_MAX_CONNECTIONS)")
    ):
        load_settings(environ={"VIVI_EMULATOR_MAX_CONNECTIONS": str(10**30)})


@pytest.mark.parametrize("value", ["inf", "1e400", "nan", str(MAX_TIME_SCALE * 2), "-1"])
def test_the_time_scale_from_the_environment_is_bounded(value: str) -> None:
    with pytest.raises(ConfigError, match="time_scale"):
        load_settings(environ={"VIVI_EMULATOR_TIME_SCALE": value})


def test_a_wait_at_the_cap_is_accepted() -> None:
    options = WireOptions(preset="gateway-timeout", timeout_seconds=MAX_WAIT_SECONDS)
    assert options.gateway_seconds == MAX_WAIT_SECONDS


def test_scaled_and_summed_waits_are_cut_to_the_cap() -> None:
    scenario = Scenario.model_validate(
        {
            "name": "slow",
            "text": "one two",
            "timing": {"first_event_ms": 600_000, "jitter_ms": 600_000, "chunk_ms": 600_000},
            "fault": {"stall": {"after_events": 1, "ms": 600_000}},
            "wire": {"preset": "gateway-timeout", "timeout_seconds": 600},
        }
    )
    script = build_script(scenario, ctx(), BuildOptions(time_scale=MAX_TIME_SCALE))
    assert max(e.delay for e in script.events) == MAX_WAIT_SECONDS
    failure = gateway_failure(script, streaming=True)
    assert failure is not None
    assert failure[0] == MAX_WAIT_SECONDS


def test_a_split_writes_pauses_once_scaled_stay_within_the_cap() -> None:
    scenario = Scenario.model_validate(
        {"name": "split", "text": "hi", "wire": {"split": {"every": 4, "gap_ms": 600_000}}}
    )
    script = build_script(scenario, ctx(), BuildOptions(time_scale=MAX_TIME_SCALE))
    assert max(delay for delay, _, _ in plan(script).writes) == MAX_WAIT_SECONDS


def test_a_long_tailed_delay_is_cut_to_the_cap() -> None:
    delay = Delay(distribution="lognormal", p50_ms=500_000, p99_ms=600_000)
    rng = random.Random(1)
    assert max(delay.sample(rng) for _ in range(1000)) <= MAX_WAIT_SECONDS * 1000


@pytest.mark.parametrize(
    ("given", "slept"),
    # 0.5: a wait under a second is slept as given, not rounded away.
    [(-1.0, 0.0), (float("nan"), 0.0), (0.5, 0.5), (1.5, 1.5), (INFINITY, MAX_WAIT_SECONDS)],
)
def test_capped_seconds(given: float, slept: float) -> None:
    assert capped_seconds(given) == slept
