"""Journaling's share of a constant stream's cost (issue 22: ≤ 10 %), from journal_share.py.

`benchmarks/journal_share.py` measures it in process (no server: the app's own work, so the
share is an upper bound of its share under a server) and prints its profile and two figures:
the share in the profile, and the share of CPU time (the app as it is against the same app with
a ready-made journal entry, alternating rounds), which the target is judged on because a
profiler inflates function calls. The harness runs it as a command and reads the two lines
`journaling's share  N%` (profile) and `journaling's share (median)  N%` (CPU); its whole output
goes into the report's details: the profile the issue asks to be shown. Without the script
the row says so (n/a).
"""

# ruff: noqa: S603  (fixed argv built by the harness, no shell)

from __future__ import annotations

import math
import re
import subprocess
import sys
from typing import Any

from .common import BENCH, REPO, fmt, log
from .results import Results
from .rows import Row, ok

SCRIPT = BENCH / "journal_share.py"
WORKLOAD = "journal-share"
GOAL = 0.10  # of a constant stream's cost
TIMEOUT = 900.0
CPU_LINE = re.compile(r"journaling's share \(median\)\s+(-?[\d.]+)%")
PROFILE_LINE = re.compile(r"journaling's share\s+(-?[\d.]+)%")


def parse(text: str) -> dict[str, float]:
    """The two shares (fractions; NaN when a line is missing) from the script's output."""
    cpu = CPU_LINE.search(text)
    profile = PROFILE_LINE.search(text)
    return {
        "cpu_share": float(cpu.group(1)) / 100 if cpu else math.nan,
        "profile_share": float(profile.group(1)) / 100 if profile else math.nan,
    }


def journal_share_phase(res: Results) -> None:
    if not SCRIPT.exists():
        res.notes.append(f"{WORKLOAD}: {SCRIPT.relative_to(REPO)} is not there: not measured")
        return
    a = res.args
    cmd = [sys.executable, str(SCRIPT), "--requests", str(a.journal_requests)]
    cmd += ["--rounds", str(a.rounds)]
    try:
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        res.failures.append(f"{WORKLOAD}: no result within {TIMEOUT:.0f} s")
        return
    r: dict[str, Any] = {"round": 1, "output": done.stdout.strip(), **parse(done.stdout)}
    if done.returncode != 0 or math.isnan(r["cpu_share"]):
        last = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
        res.failures.append(f"{WORKLOAD}: exit {done.returncode}, no share read ({last})")
        return
    res.add(WORKLOAD, "emulator (in process)", r)
    log(
        f"  {WORKLOAD}: CPU {r['cpu_share']:.1%}, profile {r['profile_share']:.1%} "
        f"({a.journal_requests} requests, {a.rounds} rounds)"
    )


def journal_share_rows(res: Results) -> list[Row]:
    if WORKLOAD not in res.args.workloads:
        return []
    figure = "journaling's share of a constant stream's CPU (in process, journal_share.py)"
    target = f"≤ {GOAL:.0%}"
    runs = res.runs.get(WORKLOAD, {})
    if not runs:
        return [[figure, "not measured (see the notes)", target, "n/a"]]
    r = next(iter(runs.values()))[0]
    cpu, prof = r["cpu_share"], r["profile_share"]
    measured = f"{fmt(cpu * 100, 1)} % of CPU (profile: {fmt(prof * 100, 1)} %)"
    return [[figure, measured, target, ok(cpu, cpu <= GOAL)]]


def journal_share_details(res: Results) -> str:
    r = next(iter(res.runs[WORKLOAD].values()))[0]
    a = res.args
    return (
        f"### journaling's share of a constant stream (`python benchmarks/journal_share.py "
        f"--requests {a.journal_requests} --rounds {a.rounds}`)\n\n```\n{r['output']}\n```"
    )
