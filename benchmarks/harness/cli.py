"""The command line of `benchmarks/run`: the options, their defaults, and the phases in order."""

from __future__ import annotations

import argparse
import contextlib
import resource
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .common import BENCH, log
from .journal_cost import journal_share_phase
from .machine import machine_description
from .phases import delayed_phase, many_streams_phase, startup_phase, throughput_phase
from .plugin_cost import plugin_cost_phase
from .processes import install_cleanup
from .report import print_summary, report, show_issue22
from .report_file import write_report
from .results import Results
from .soak import soak_phase
from .streams_2w import streams_2w_phase
from .summary import summary_rows
from .summary_issue22 import WAY, issue22_rows, missed
from .targets import ALL_TARGETS, build_targets
from .threads import threads_phase

ALL_WORKLOADS = [
    "invoke",
    "stream",
    "startup",
    "delayed",
    "many-streams",
    "streams-2w",
    "threads",
    "soak",
    "plugin-cost",
    "journal-share",
]
# option: (full run, --smoke); None on the command line means "the mode's default"
DEFAULTS = {
    "rounds": (3, 1),
    "duration": (8.0, 1.0),
    "warmup": (2.0, 0.5),
    "warmup_runs": (10, 0),  # the smoke run proves the harness: no warm-up
    "streams": (1000, 50),
    "startup_samples": (5, 1),
    "many_streams": (3000, 300),
    "streams_2w": (10_000, 200),
    "distinct_threads": (100_000, 5000),
    "max_threads": (10_000, 1000),
    "minutes": (1.0, 0.1),
    "plugin_samples": (5, 3),
    "journal_requests": (10_000, 300),
}
SOAK_MINUTES = 3.0  # --soak alone
# --issue22: exactly the targets and workloads of issue 22's table, with shorter wrk runs so that
# the whole takes about 12 minutes on 2 cores (options given on the command line win).
# Issue 22's targets: every target but the peers and the floor with its access log on.
ISSUE22_TARGETS = [t for t in ALL_TARGETS if t not in ("bare-granian-log", "prism", "wiremock")]
ISSUE22_WORKLOADS = ["invoke", "stream", "startup", "streams-2w", "journal-share"]
ISSUE22_DEFAULTS = {"duration": 6.0, "warmup_runs": 5}
ISSUE22_OUT = BENCH / "results-issue22.md"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="benchmarks/run",
        description="Benchmarks of vivi-emulator: ratios against bare Starlette and the peers,"
        " measured in the same run (benchmarks/README.md).",
    )
    p.add_argument(
        "--smoke",
        action="store_true",
        help="a short run that proves the harness (1 round, 1 s per wrk run, small loads, no"
        " peers); writes no results.md",
    )
    p.add_argument(
        "--soak",
        action="store_true",
        help="only the soak and fault run, for --minutes (default 3); writes no results.md",
    )
    p.add_argument(
        "--plugin-cost",
        action="store_true",
        help="only the plugin cost: a pytest run of one empty test with and without the "
        "emulator installed, in fresh venvs (made once, in benchmarks/.work/plugin-cost); "
        "writes no results.md",
    )
    p.add_argument(
        "--issue22",
        action="store_true",
        help="exactly issue 22's targets and workloads (about 12 min; no peers), 6 s wrk runs;"
        f" writes {ISSUE22_OUT.relative_to(BENCH.parent)} (unless --out)",
    )
    p.add_argument(
        "--plugin-samples",
        type=int,
        help="pytest runs per venv and round for plugin-cost (default 5; smoke 3)",
    )
    p.add_argument(
        "--minutes",
        type=float,
        help="minutes of soak per target (default 1 in a full run, 3 with --soak; smoke 0.1)",
    )
    p.add_argument("--rounds", type=int, help="rounds of A B A B (default 3; smoke 1)")
    p.add_argument("--duration", type=float, help="seconds per wrk run (default 8; smoke 1)")
    p.add_argument("--warmup", type=float, help="seconds of unmeasured load per target first")
    p.add_argument(
        "--warmup-runs",
        type=int,
        help="at most this many warm-up runs per target and workload, stopping when two "
        "agree within 10%% (default 10; smoke 0)",
    )
    p.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    p.add_argument(
        "--streams", type=int, help="delayed streams per worker (default 1000; smoke 50)"
    )
    p.add_argument(
        "--ramp", type=float, default=0.5, help="seconds over which streams open (default 0.5)"
    )
    p.add_argument(
        "--client-procs", type=int, default=1, help="processes of the streams client (default 1)"
    )
    p.add_argument(
        "--many-streams",
        type=int,
        help="long streams opened at once against one emulator worker (default 3000; smoke 300)",
    )
    p.add_argument(
        "--streams-2w",
        type=int,
        help="timed streams at once across 2 workers, emulator and floor (default 10000; smoke"
        " 200)",
    )
    p.add_argument(
        "--ramp-2w",
        type=float,
        default=2.0,
        help="seconds over which the streams-2w streams open (default 2)",
    )
    p.add_argument(
        "--client-procs-2w",
        type=int,
        default=2,
        help="processes of the streams client for streams-2w (default 2)",
    )
    p.add_argument(
        "--distinct-threads",
        type=int,
        help="invoke requests, each with a new threadId (default 100000; smoke 5000)",
    )
    p.add_argument(
        "--max-threads",
        type=int,
        help="the emulator's limits.max_threads for that workload (default 10000; smoke 1000)",
    )
    p.add_argument(
        "--journal-requests",
        type=int,
        help="stream requests per journal_share.py run (default 10000; smoke 300)",
    )
    p.add_argument("--startup-samples", type=int, help="start-ups per target (default 5; smoke 1)")
    p.add_argument("--only", help=f"comma-separated targets: {','.join(ALL_TARGETS)}")
    p.add_argument("--workloads", help=f"comma-separated: {','.join(ALL_WORKLOADS)} (all)")
    p.add_argument(
        "--emulator-arg",
        action="append",
        default=[],
        help="extra argument for `vivi-emulator serve` (repeatable)",
    )
    p.add_argument(
        "--out",
        help="where to write the report (default benchmarks/results.md on full runs; none with"
        " --smoke)",
    )
    p.add_argument("--strict", action="store_true", help="exit 3 if any target is not met")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = _parser()
    a = p.parse_args(argv)
    if a.issue22:
        _issue22_preset(a)
    a.workloads = [w.strip() for w in (a.workloads or ",".join(ALL_WORKLOADS)).split(",")]
    a.workloads = [w for w in a.workloads if w]
    if a.soak:
        a.workloads = ["soak"]
        a.minutes = a.minutes or SOAK_MINUTES
    if a.plugin_cost:
        a.workloads = ["plugin-cost"]
    if set(a.workloads) - set(ALL_WORKLOADS):
        p.error(f"unknown workload(s); known: {ALL_WORKLOADS}")
    for name, (full, smoke) in DEFAULTS.items():
        if getattr(a, name) is None:
            setattr(a, name, smoke if a.smoke else full)
    if a.out is None and not (a.smoke or a.soak or a.plugin_cost):
        a.out = str(ISSUE22_OUT if a.issue22 else BENCH / "results.md")
    return a


def _issue22_preset(a: argparse.Namespace) -> None:
    """Fill in what the command line left to the preset (an option given explicitly wins)."""
    a.only = a.only or ",".join(ISSUE22_TARGETS)
    a.workloads = a.workloads or ",".join(ISSUE22_WORKLOADS)
    if not a.smoke:
        for name, value in ISSUE22_DEFAULTS.items():
            if getattr(a, name) is None:
                setattr(a, name, value)


def _raise_open_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))


# In order: (the workloads a phase runs, its title, the phase)
PHASES: list[tuple[set[str], str, Callable[[Results], None]]] = [
    ({"startup"}, "start-up and idle memory", startup_phase),
    ({"invoke", "stream"}, "throughput (wrk)", throughput_phase),
    ({"delayed"}, "delayed streams", delayed_phase),
    ({"many-streams"}, "many streams on one worker", many_streams_phase),
    ({"streams-2w"}, "timed streams across 2 workers", streams_2w_phase),
    ({"threads"}, "RSS after many distinct threads", threads_phase),
    ({"soak"}, "soak and faults", soak_phase),
    ({"plugin-cost"}, "what installing the emulator costs a pytest run", plugin_cost_phase),
    ({"journal-share"}, "journaling's share of a constant stream", journal_share_phase),
]


def _run_phases(res: Results, started: float) -> None:
    for workloads, title, phase in PHASES:
        if workloads & set(res.args.workloads):
            log(f"{title} (at {time.monotonic() - started:.0f} s):")
            phase(res)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not shutil.which("wrk") and ({"invoke", "stream"} & set(args.workloads)):
        sys.exit("wrk is not installed (benchmarks/run installs it: apt-get install -y wrk)")
    install_cleanup()
    _raise_open_files()
    started = time.monotonic()
    targets, notes = build_targets(args)
    res = Results(args, targets, notes)
    log(
        f"targets: {', '.join(targets)}; workloads: {', '.join(args.workloads)}; "
        f"{args.rounds} round(s)"
    )
    _run_phases(res, started)
    elapsed = time.monotonic() - started
    print_summary(res)
    if args.out:
        text = report(res, machine_description(), elapsed)
        missed_targets = missed(issue22_rows(res)) if show_issue22(res) else []
        write_report(Path(args.out), text, missed_targets, WAY)
        print(f"\nwrote {args.out} (what it held outside the written part is kept)")
    smoke_note = " (smoke run: no peers, nothing written)" if args.smoke and not args.out else ""
    print(f"\n{elapsed:.0f} s in all{smoke_note}")
    if res.failures:
        return 1
    if args.strict and any(r[3] == "NOT MET" for r in summary_rows(res)):
        return 3
    return 0
