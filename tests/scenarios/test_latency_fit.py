"""Fitting a latency profile to recorded streams: what is measured, and what comes out."""

from __future__ import annotations

import random
import statistics
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from vivi_emulator.cli import app as cli_app
from vivi_emulator.scenarios.context import RequestContext
from vivi_emulator.scenarios.engine import BuildOptions, build_script
from vivi_emulator.scenarios.latency import read_profile
from vivi_emulator.scenarios.latency_fit import NothingToFit, fit, measure
from vivi_emulator.scenarios.model import Scenario

STREAM = "POST /channelsApi/{channelId}/stream"


def data(message: str, event: str = "on_chat_model_stream") -> str:
    return f'{{"message": "{message}", "event": "{event}"}}'


def recording(
    name: str, ttft: float, gap: float, *, start_after: float = 5, operation: str = STREAM
) -> dict[str, Any]:
    return {
        "name": name,
        "frames": [
            {"after_ms": start_after, "data": data("", "on_chat_model_start")},
            {"after_ms": ttft - start_after, "data": data("Hello")},
            {"after_ms": gap, "data": data(" world")},
            {"after_ms": 2 * gap, "data": data(" internationalization")},  # 5 tokens
            {"after_ms": 1, "data": data("", "on_chat_model_end")},
        ],
        "recorded": {"operation": operation, "status": 200},
    }


def test_what_is_measured_from_each_stream() -> None:
    measured = measure(
        [
            Scenario.model_validate(recording("a", ttft=300, gap=20)),
            Scenario.model_validate(recording("inv", 300, 20, operation="POST /x/invoke")),
            Scenario.model_validate({"name": "t", "text": "not recorded"}),
        ]
    )
    assert measured.streams == 1
    assert measured.first_event == [5]
    assert measured.first_token == [300]
    # " world" waited 20 ms for one token; " internationalization" 40 ms for five.
    assert measured.token_gap == [20, 8]


def test_a_fitted_profile_plays_like_the_recording(tmp_path: Path) -> None:
    rng = random.Random(4)
    ttfts = [rng.lognormvariate(6.0, 0.4) for _ in range(60)]  # median about 400 ms
    scenarios = [recording(f"r{i}", ttft=t, gap=rng.uniform(10, 30)) for i, t in enumerate(ttfts)]
    path = tmp_path / "recording.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "scenarios": scenarios}))
    result = CliRunner().invoke(cli_app, ["fixtures", "fit-latency", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Fitted by vivi-emulator fixtures fit-latency to 60")
    profile_file = tmp_path / "profile.yaml"
    profile_file.write_text(result.output)
    profile = read_profile(profile_file)
    assert profile.first_token.distribution == "lognormal"  # type: ignore[union-attr]
    played = []
    for i in range(400):
        ctx = RequestContext("c", "m", f"00000000-0000-4000-8000-{i:012d}", None, (), 1, {})
        script = build_script(
            Scenario.model_validate({"name": "s", "text": "Hi there"}),
            ctx,
            BuildOptions(latency=profile),
        )
        played.append(sum(e.delay for e in script.events[:2]) * 1000)
    assert statistics.median(played) == pytest.approx(statistics.median(ttfts), rel=0.2)


def test_nothing_to_fit_says_so(tmp_path: Path) -> None:
    with pytest.raises(NothingToFit):
        fit([Scenario.model_validate({"name": "s", "text": "x"})])
    (tmp_path / "plain.yaml").write_text("scenarios:\n  - {name: s, text: x}\n")
    result = CliRunner().invoke(cli_app, ["fixtures", "fit-latency", str(tmp_path)])
    assert result.exit_code == 1
    assert "no recorded stream" in result.output
