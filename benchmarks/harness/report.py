"""The printed summary and results.md: the summary table, the detail tables, the machine."""

from __future__ import annotations

import math
import shlex
import sys
from typing import Any

from .common import DELAYED, LONG, REPO, fmt
from .journal_cost import WORKLOAD as JOURNAL_SHARE
from .journal_cost import journal_share_details
from .results import Results
from .rows import Row
from .soak_traffic import is_right
from .streams_2w import WORKLOAD as STREAMS_2W
from .summary import summary_rows
from .summary_issue22 import WAY, issue22_rows
from .targets import Target

WRK_COLUMNS = [
    "target",
    "median",
    "rounds",
    "p99 latency ms",
    "server CPU (cores)",
    "wrk CPU (cores)",
    "redis-server CPU (cores)",
    "non-2xx",
]
DELAYED_COLUMNS = [
    "target",
    "round",
    "complete",
    "p50 ms",
    "p99 ms",
    "max ms",
    "min ms",
    "p50 event 1 / last ms",
    "peak open",
    "first event p99 ms",
    "peak RSS MiB",
    "server CPU",
    "client CPU",
    "client loop lag p99 ms",
]


def md_table(header: list[str], rows: list[Row]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _wrk_table(res: Results, w: str, unit: str) -> str:
    rows = []
    for name, runs in res.runs[w].items():
        rounds = ", ".join(fmt(r.get("rps", math.nan), 0) for r in runs)
        rows.append(
            [
                name,
                fmt(res.med(w, name, "rps"), 0),
                rounds,
                fmt(res.med(w, name, "p99_ms"), 1),
                fmt(res.med(w, name, "server_cpu")),
                fmt(res.med(w, name, "wrk_cpu")),
                fmt(res.med(w, name, "redis_cpu")) if res.targets[name].redis else "—",
                str(sum(r.get("non2xx", 0) for r in runs)),
            ]
        )
    a = res.args
    title = f"### {w} ({unit}; wrk -t{a.threads} -c{a.connections} -d{a.duration:g}s)"
    return f"{title}\n\n{md_table(WRK_COLUMNS, rows)}"


def _startup_table(res: Results) -> str:
    rows = [
        [
            name,
            fmt(res.med("startup", name, "startup_s"), 3),
            ", ".join(fmt(r.get("startup_s", math.nan), 3) for r in runs),
            fmt(res.med("startup", name, "rss_idle_mb"), 0),
        ]
        for name, runs in res.runs["startup"].items()
    ]
    header = ["target", "start-up s (median)", "samples", "idle RSS MiB (with children)"]
    return "### start-up and idle memory\n\n" + md_table(header, rows)


def _stream_row(name: str, r: dict[str, Any]) -> Row:
    return [
        name,
        str(r["round"]),
        f"{r['complete']}/{r['streams']}",
        fmt(r["p50_ms"], 1),
        fmt(r["p99_ms"], 1),
        fmt(r["max_ms"], 1),
        fmt(r["min_ms"], 1),
        f"{fmt(r['p50_first_ms'], 1)} / {fmt(r['p50_last_ms'], 1)}",
        str(r["peak_open"]),
        fmt(r["first_event_p99_ms"], 0),
        fmt(r["rss_peak_mb"], 0),
        fmt(r["server_cpu"]),
        fmt(r["client_cpu"]),
        fmt(r["client_lag_p99_ms"], 1),
    ]


def _delayed_table(res: Results) -> str:
    rows = [_stream_row(name, r) for name, runs in res.runs["delayed"].items() for r in runs]
    a = res.args
    title = (
        f"### delayed streams ({a.streams} streams per worker, {DELAYED.events} events "
        f"{DELAYED.interval * 1000:.0f} ms apart, opened over {a.ramp:g} s, "
        f"{a.client_procs} client process(es))"
    )
    return f"{title}\n\n{md_table(DELAYED_COLUMNS, rows)}"


def _many_streams_table(res: Results) -> str:
    rows = [_stream_row(name, r) for name, runs in res.runs["many-streams"].items() for r in runs]
    title = (
        f"### many streams ({res.args.many_streams} streams of {LONG.events} events "
        f"{LONG.interval * 1000:.0f} ms apart, opened over {res.args.ramp:g} s, one worker)"
    )
    return f"{title}\n\n{md_table(DELAYED_COLUMNS, rows)}"


def _streams_2w_table(res: Results) -> str:
    runs = res.runs[STREAMS_2W]
    rows = [_stream_row(name, r) for name, rs in runs.items() for r in rs]
    a = res.args
    title = (
        f"### timed streams across 2 workers ({a.streams_2w} streams of {LONG.events} events "
        f"{LONG.interval * 1000:.0f} ms apart, opened over {a.ramp_2w:g} s, "
        f"{a.client_procs_2w} client process(es))"
    )
    rss = [
        [
            name,
            fmt(r["rss_before_mb"], 0),
            fmt(r["rss_peak_mb"], 0),
            f"{r['peak_open']:,}",
            fmt(r["rss_per_stream_kib"], 1),
        ]
        for name, rs in runs.items()
        for r in rs
    ]
    header = ["target", "RSS before MiB", "peak RSS MiB", "peak open", "KiB per open stream"]
    return f"{title}\n\n{md_table(DELAYED_COLUMNS, rows)}\n\n{md_table(header, rss)}"


def _threads_table(res: Results) -> str:
    parts = []
    for name, runs in res.runs["threads"].items():
        r = runs[0]
        rows = [["0 (after warm-up)", fmt(r["rss_idle_mb"], 1), ""]]
        rows += [[f"{int(n):,}", fmt(mb, 1), f"{int(held):,}"] for n, mb, held in r["series"]]
        parts.append(
            f"### RSS after distinct threads ({name}, limits.max_threads {r['max_threads']})"
            f"\n\n{md_table(['threads sent', 'RSS MiB', 'threads held'], rows)}"
        )
    return "\n\n".join(parts)


def _soak_table(res: Results) -> str:
    parts = []
    for name, runs in res.runs["soak"].items():
        r = runs[0]
        rows = [
            [
                action,
                ", ".join(f"{o} x{k}" for o, k in outcomes.items()),
                "yes" if all(is_right(action, o) for o in outcomes) else "NO",
            ]
            for action, outcomes in r["by_action"].items()
        ]
        series = ", ".join(f"{t:g} s {mb:.0f}" for t, mb in r["rss_series"])
        parts.append(
            f"### soak and faults ({name}, {r['seconds']:g} s, {r['requests']} requests)\n\n"
            + md_table(["action", "outcomes", "all right?"], rows)
            + f"\n\nRSS MiB over time: {series}; after: {r['rss_end_mb']:.0f}."
            + (f" Traceback lines: {r['traceback_lines']}" if r["tracebacks"] else "")
        )
    return "\n\n".join(parts)


def _plugin_cost_table(res: Results) -> str:
    rows = [
        [
            name,
            ", ".join(f"{r['seconds'] * 1000:.0f}" for r in runs),
            ", ".join(f"{r['cpu_seconds'] * 1000:.0f}" for r in runs),
        ]
        for name, runs in res.runs["plugin-cost"].items()
    ]
    return (
        "### plugin-cost (`python -m pytest -q -p no:cacheprovider test_empty.py`, one empty "
        "test; median of each round's runs)\n\n"
        "`clean`: pytest alone; `anyio`: pytest and anyio; `emulator`: pytest and the "
        "emulator's base install (`pip install .`).\n\n"
        + md_table(["venv", "wall ms per round", "CPU ms per round"], rows)
    )


def _command(t: Target) -> str:
    argv = " ".join(t.argv(0)).replace(str(REPO) + "/", "").replace(" 0 ", " P ")
    extra = " ".join(t.delayed_args).replace(str(REPO) + "/", "")
    return f"`{argv}`" + (f" (delayed: + `{extra}`)" if extra else "")


def detail_tables(res: Results) -> str:
    parts = [
        _wrk_table(res, w, unit)
        for w, unit in (("invoke", "req/s"), ("stream", "responses/s"))
        if w in res.runs
    ]
    if "startup" in res.runs:
        parts.append(_startup_table(res))
    tables = {
        "delayed": _delayed_table,
        "many-streams": _many_streams_table,
        STREAMS_2W: _streams_2w_table,
        "threads": _threads_table,
        "soak": _soak_table,
        "plugin-cost": _plugin_cost_table,
        JOURNAL_SHARE: journal_share_details,
    }
    parts += [table(res) for w, table in tables.items() if w in res.runs]
    rows = [[name, t.label, _command(t), t.note] for name, t in res.targets.items()]
    parts.append("### targets\n\n" + md_table(["target", "what", "command", "notes"], rows))
    return "\n\n".join(parts)


def show_issue22(res: Results) -> bool:
    """Issue 22's table: in its preset's runs, and in every run with throughput figures."""
    return bool(res.args.issue22) or "invoke" in res.args.workloads


def _issue22_section(res: Results) -> list[str]:
    if not show_issue22(res):
        return []
    return [
        "## Issue 22's targets",
        "",
        "One row per target of the issue, from this run (the figures are the summary's). A "
        f"target not met points to its “{WAY}” section, written by hand below the part of this "
        "file that `benchmarks/run` writes (it keeps that part on a rerun).",
        "",
        md_table(["target", "measured (median)", "goal", "met?"], issue22_rows(res)),
        "",
    ]


def report(res: Results, machine: dict[str, str], elapsed: float) -> str:
    a = res.args
    lines = [
        "# vivi-emulator benchmark results",
        "",
        f"Written by `{shlex.join(['benchmarks/run', *sys.argv[1:]])}` on {machine['date']} in "
        f"{elapsed / 60:.1f} min: {a.rounds} round(s), targets in turn (A B A B), medians. "
        "Absolute figures move from run to run on this shared machine; the ratios are the result.",
        "",
        *_issue22_section(res),
        "## Summary",
        "",
        md_table(["figure", "measured (median)", "target", "met?"], summary_rows(res)),
        "",
    ]
    if res.notes or res.failures:
        lines += ["## Notes", ""] + [f"- {n}" for n in res.notes]
        lines += [f"- FAILURE: {f}" for f in res.failures] + [""]
    lines += ["## Details", "", detail_tables(res), "", "## Machine", ""]
    lines += [md_table(["", ""], [[k, v] for k, v in machine.items()]), ""]
    return "\n".join(lines)


def print_summary(res: Results) -> None:
    header = ["figure", "measured", "target", "met?"]
    rows = summary_rows(res)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    widths[1] = min(widths[1], 70)

    def line(r: Row) -> str:
        return "  ".join(c.ljust(widths[i]) for i, c in enumerate(r))

    print()
    print(line(header))
    print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))
    if show_issue22(res):
        print("\nissue 22's targets:")
        for r in issue22_rows(res):
            print(f"  {r[0]}: {r[1]} (goal {r[2]}): {r[3]}")
    for n in res.notes:
        print(f"note: {n}")
    for f in res.failures:
        print(f"FAILURE: {f}")
