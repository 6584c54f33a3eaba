"""The plugin-cost workload's figures: differences paired per round, and the base install's
closure (what vivi-emulator requires, followed down, no extra)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.plugin_cost import base_install, paired_difference_ms, plugin_cost_rows
from harness.results import Results


def results(rounds: dict[str, list[tuple[float, float]]]) -> Results:
    res = Results(argparse.Namespace(), {}, [])
    for name, values in rounds.items():
        for number, (wall, cpu) in enumerate(values, 1):
            value = {"round": number, "seconds": wall, "cpu_seconds": cpu}
            res.add("plugin-cost", name, value | {"packages": 33, "bytes": 68e6})
    return res


def test_differences_are_paired_per_round() -> None:
    res = results(
        {
            "clean": [(0.2, 0.18), (0.5, 0.19), (0.2, 0.2)],
            "anyio": [(0.3, 0.26), (0.6, 0.27), (0.3, 0.28)],
            "emulator": [(0.31, 0.27), (0.62, 0.28), (0.9, 0.29)],
        }
    )
    median, rounds = paired_difference_ms(res, "emulator", "clean")
    assert [round(d) for d in rounds] == [110, 120, 700]
    assert round(median) == 120
    cpu, _ = paired_difference_ms(res, "emulator", "clean", "cpu_seconds")
    assert round(cpu) == 90


def test_the_rows_judge_cpu_and_wall_against_150_ms() -> None:
    res = results(
        {
            "clean": [(0.2, 0.2)] * 3,
            "anyio": [(0.3, 0.28)] * 3,
            "emulator": [(0.5, 0.29)] * 3,
        }
    )
    rows = plugin_cost_rows(res)
    cpu, wall = rows[0], rows[1]
    assert cpu[1].startswith("+90 ms")
    assert cpu[3] == "met"
    assert wall[1].startswith("+300 ms")
    assert wall[3] == "NOT MET"
    assert rows[-1][1] == "33 packages, 68 MB of installed files"


def test_no_rows_without_all_three_venvs() -> None:
    assert plugin_cost_rows(results({"clean": [(0.2, 0.2)]})) == []


def test_the_base_install_closure_leaves_the_contract_extra_out() -> None:
    # This environment has the dev extra (schemathesis, hypothesis): the closure follows only
    # what the base install requires.
    measured = base_install(Path(sys.executable))
    names = set(measured["names"])
    assert {"vivi-emulator", "fastapi", "granian", "uvicorn", "anyio"} <= names
    assert not names & {"schemathesis", "hypothesis", "pytest"}
    assert measured["packages"] == len(names)
    assert measured["bytes"] > 0
