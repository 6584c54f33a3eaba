"""The command line's presets: --issue22 runs exactly issue 22's targets and workloads."""

from __future__ import annotations

from harness.cli import ISSUE22_OUT, ISSUE22_TARGETS, ISSUE22_WORKLOADS, parse_args
from harness.targets import ALL_TARGETS


def test_issue22_runs_its_targets_and_workloads_into_its_own_file() -> None:
    a = parse_args(["--issue22"])
    assert a.only.split(",") == ISSUE22_TARGETS
    assert a.workloads == ISSUE22_WORKLOADS
    assert a.out == str(ISSUE22_OUT)
    assert (a.duration, a.warmup_runs, a.streams_2w, a.rounds) == (6.0, 5, 10_000, 3)
    assert set(ISSUE22_TARGETS) <= set(ALL_TARGETS)
    assert not {"prism", "wiremock"} & set(ISSUE22_TARGETS)


def test_options_given_with_issue22_win_over_the_preset() -> None:
    a = parse_args(["--issue22", "--rounds", "1", "--duration", "2", "--workloads", "invoke"])
    assert (a.rounds, a.duration, a.workloads) == (1, 2.0, ["invoke"])


def test_issue22_with_smoke_takes_the_smoke_defaults_and_writes_nothing() -> None:
    a = parse_args(["--issue22", "--smoke"])
    assert (a.duration, a.warmup_runs, a.streams_2w, a.out) == (1.0, 0, 200, None)


def test_a_full_run_writes_results_md_with_every_workload() -> None:
    a = parse_args([])
    assert a.out.endswith("benchmarks/results.md")
    assert {"streams-2w", "journal-share"} <= set(a.workloads)
