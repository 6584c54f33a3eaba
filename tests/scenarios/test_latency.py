"""Latency profiles: distributions, seeded sampling, and how the engine paces a reply by them."""

from __future__ import annotations

import random
import statistics
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from vivi_emulator.scenarios.context import RequestContext
from vivi_emulator.scenarios.engine import BuildOptions, build_script, constant_scripts
from vivi_emulator.scenarios.latency import (
    NONE,
    REALISTIC,
    Delay,
    LatencyFileError,
    LatencyProfile,
    profile_yaml,
    read_profile,
)
from vivi_emulator.scenarios.latency_fit import percentile
from vivi_emulator.scenarios.model import Scenario
from vivi_emulator.script import CHUNK, Script

from tests.support import THREAD


def ctx(thread: str = THREAD, turn: int = 1, channel: str = "demo-channel") -> RequestContext:
    return RequestContext(channel, "hi", thread, None, (), turn, {})


def scenario(**fields: Any) -> Scenario:
    return Scenario.model_validate(
        {"name": "s", "text": "Hello! How can I help you today?", **fields}
    )


def first_token_ms(script: Script) -> float:
    elapsed = 0.0
    for event in script.events:
        elapsed += event.delay
        if event.event == CHUNK:
            return elapsed * 1000
    raise AssertionError("no chunk")


def samples(delay: Delay, count: int = 20_000) -> list[float]:
    rng = random.Random(1)
    return [delay.sample(rng) for _ in range(count)]


@pytest.mark.parametrize("distribution", ["lognormal", "normal"])
def test_median_and_p99_are_as_given(distribution: str) -> None:
    drawn = samples(Delay(distribution=distribution, p50_ms=500, p99_ms=2000))  # type: ignore[arg-type]
    assert percentile(drawn, 0.5) == pytest.approx(500, rel=0.05)
    assert percentile(drawn, 0.99) == pytest.approx(2000, rel=0.1)
    assert min(drawn) >= 0


def test_uniform_and_fixed() -> None:
    drawn = samples(Delay(distribution="uniform", min_ms=10, max_ms=20))
    assert 10 <= min(drawn) < 10.1
    assert 19.9 < max(drawn) <= 20
    assert samples(Delay(ms=7), 3) == [7, 7, 7]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"distribution": "lognormal", "p50_ms": 100}, "takes p50_ms and p99_ms"),
        ({"distribution": "lognormal", "p50_ms": 100, "p99_ms": 50}, "must not be below"),
        ({"distribution": "lognormal", "p50_ms": 0, "p99_ms": 50}, "above 0"),
        ({"distribution": "uniform", "min_ms": 9, "max_ms": 3}, "must not be below"),
        ({"distribution": "fixed", "ms": 1, "p50_ms": 2}, "takes ms"),
        ({"ms": -1}, "greater than or equal"),
    ],
)
def test_a_delay_says_what_is_wrong(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        Delay.model_validate(fields)


def test_a_realistic_reply_types_like_an_agent_and_repeats_per_seed() -> None:
    script = build_script(scenario(), ctx(), BuildOptions(latency=REALISTIC))
    delays = [e.delay for e in script.events]
    assert delays[0] == 0  # the start at once (the profile's first_event)
    assert all(d > 0 for d in delays[1:]), "every token waits its gap"
    assert len({round(d, 6) for d in delays[2:]}) > 3, "the gaps vary"
    again = build_script(scenario(), ctx(), BuildOptions(latency=REALISTIC))
    assert [e.delay for e in again.events] == delays
    for other in (
        build_script(scenario(), ctx(), BuildOptions(seed=1, latency=REALISTIC)),
        build_script(scenario(), ctx(turn=2), BuildOptions(latency=REALISTIC)),
        build_script(
            scenario(),
            ctx(thread="1b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"),
            BuildOptions(latency=REALISTIC),
        ),
    ):
        assert [e.delay for e in other.events] != delays


def test_the_time_to_first_token_follows_the_profile() -> None:
    profile = LatencyProfile(
        first_event=50,
        first_token=Delay(distribution="lognormal", p50_ms=400, p99_ms=1200),
        token_gap=10,
    )
    threads = [f"00000000-0000-4000-8000-{i:012d}" for i in range(400)]
    scripts = [build_script(scenario(), ctx(t), BuildOptions(latency=profile)) for t in threads]
    assert statistics.median(first_token_ms(s) for s in scripts) == pytest.approx(400, rel=0.1)
    script = scripts[0]
    assert script.events[0].delay == pytest.approx(0.05)
    assert [e.delay for e in script.events[2:]] == pytest.approx([0.01] * (len(script.events) - 2))


def test_a_chunk_of_several_tokens_waits_a_gap_per_token() -> None:
    profile = LatencyProfile(first_token=0, token_gap=10)
    script = build_script(
        scenario(text="a internationalization", chunking={"words": 1}),
        ctx(),
        BuildOptions(latency=profile),
    )
    assert [e.delay for e in script.events] == pytest.approx([0, 0, 0.05, 0.01])


def test_none_is_instant_and_shared() -> None:
    greeting = scenario()
    kept = constant_scripts()
    first = build_script(greeting, ctx(), BuildOptions(latency=NONE, constants=kept))
    assert first.duration == 0
    assert first.shared
    again = build_script(greeting, ctx(turn=2), BuildOptions(latency=NONE, constants=kept))
    assert again is first  # built once, in the cache its owner passed
    paced = build_script(greeting, ctx(), BuildOptions(latency=REALISTIC, constants=kept))
    assert paced.duration > 0
    assert not paced.shared


def test_without_a_cache_nothing_is_shared() -> None:
    first = build_script(scenario(), ctx(), BuildOptions(latency=NONE))
    assert not first.shared
    assert build_script(scenario(), ctx(), BuildOptions(latency=NONE)) is not first


def test_timing_replaces_the_profile() -> None:
    timed = scenario(timing={"chunk_ms": 5})
    script = build_script(timed, ctx(), BuildOptions(latency=REALISTIC))
    assert {e.delay for e in script.events[1:]} == {0.005}


def test_a_scenario_or_turn_profile_wins_over_the_channels() -> None:
    own = scenario(latency="none")
    assert build_script(own, ctx(), BuildOptions(latency=REALISTIC)).duration == 0
    turns = Scenario.model_validate(
        {
            "name": "t",
            "latency": {"first_token": 100},
            "turns": [{"text": "a"}, {"text": "b", "latency": "none"}],
        }
    )
    assert build_script(turns, ctx(), BuildOptions(latency=NONE), step=1).duration == pytest.approx(
        0.1
    )
    assert build_script(turns, ctx(), BuildOptions(latency=REALISTIC), step=2).duration == 0


def test_time_scale_scales_the_profile_and_zero_removes_every_delay() -> None:
    stalled = scenario(fault={"stall": {"after_events": 1, "ms": 5000}})
    full = build_script(stalled, ctx(), BuildOptions(latency=REALISTIC))
    half = build_script(stalled, ctx(), BuildOptions(time_scale=0.5, latency=REALISTIC))
    assert half.duration == pytest.approx(full.duration / 2)
    assert (
        build_script(stalled, ctx(), BuildOptions(time_scale=0.0, latency=REALISTIC)).duration == 0
    )


def test_a_profile_file_round_trips_and_bad_ones_say_why(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(profile_yaml(REALISTIC.model_copy(update={"name": "mine"})))
    assert read_profile(path) == REALISTIC.model_copy(update={"name": "mine"})
    unnamed = tmp_path / "unnamed.yaml"
    unnamed.write_text("first_token: 300\n")
    assert read_profile(unnamed).name == "unnamed.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text("first_token: {distribution: lognormal, p50_ms: 10}\n")
    with pytest.raises(LatencyFileError, match=r"bad.yaml: first_token"):
        read_profile(bad)
    with pytest.raises(LatencyFileError, match="cannot read"):
        read_profile(tmp_path / "missing.yaml")


def test_realistic_is_described_with_its_numbers() -> None:
    assert REALISTIC.describe() == (
        "realistic: first token lognormal p50 700 ms, p99 2500 ms; "
        "between tokens lognormal p50 20 ms, p99 80 ms"
    )
    assert NONE.describe() == "none: no delays"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("first_token: [300\n", "bad.yaml:1: not valid YAML, column 14: a [ list is not closed"),
        (
            "first_token: {distribution: lognormal, p50_ms: 10}\n",
            "bad.yaml: first_token: a lognormal delay takes p50_ms and p99_ms",
        ),
        ("token_gapp: 3\n", "bad.yaml: token_gapp: unknown field; did you mean 'token_gap'?"),
        ("first_token: {ms: -1}\n", "bad.yaml: first_token.ms: must be at least 0"),
    ],
)
def test_a_bad_profile_file_says_why_in_plain_words(tmp_path: Path, text: str, says: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(LatencyFileError) as raised:
        read_profile(bad)
    message = str(raised.value)
    assert says in message
    # One reason per place: not the union's other forms ("must be a number"), not pydantic's.
    assert "must be a number" not in message
    assert "Input should" not in message
