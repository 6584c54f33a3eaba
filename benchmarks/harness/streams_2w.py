"""10,000 timed streams at once across 2 workers (issue 22): the emulator against the floor.

The emulator needs a shared store to run 2 workers (the in-memory one lives in one process), so
its side is `emulator-redis-2w`; the floor is `bare-granian-2w`, bare Starlette on granian's 2
workers with the same per-worker connection cap as the emulator's default. Each stream plays
`bench-long` (20 events 250 ms apart: about 5 s), all opened within `--ramp-2w` seconds, so that
they are all open together. Figures: completion, lateness p99 (as in the delayed workload),
the peak served at once, and RSS per open stream: the server tree's peak RSS minus its RSS just
before the load, over the peak number of streams open at once.
"""

from __future__ import annotations

import math
from resource import RLIMIT_NOFILE, getrlimit
from typing import Any

from .common import LONG, fmt, log
from .instances import running
from .results import Results
from .rows import Row, met, ok
from .streams import StreamLoad, run_streams

WORKLOAD = "streams-2w"
EMU, BARE = "emulator-redis-2w", "bare-granian-2w"
FD_SPARE = 256  # a process's own files: logs, pipes, its listening sockets, the interpreter's
WHO = {EMU: "emulator on Redis, 2 workers", BARE: "bare Starlette on granian, 2 workers"}


def rss_per_stream_kib(r: dict[str, Any]) -> float:
    """KiB the open streams added to the server tree, per stream open at the peak."""
    if not r.get("peak_open"):
        return math.nan
    added_mb: float = r["rss_peak_mb"] - r["rss_before_mb"]
    return added_mb * 1024 / int(r["peak_open"])


def fd_shortfall(streams: int, client_procs: int, soft_limit: int) -> str | None:
    """Why the open-files limit would cut the load short (each server worker and each client
    process holds its share of the streams, plus its own files), or None."""
    need = max(-(-streams // 2), -(-streams // max(1, client_procs))) + FD_SPARE
    if soft_limit >= need:
        return None
    return (
        f"{WORKLOAD}: the open-files limit ({soft_limit}) is below the {need} a server worker or "
        "client process needs: streams will fail to open (raise `ulimit -n`)"
    )


def streams_2w_phase(res: Results) -> None:
    """One round per target (the load takes the whole machine): the emulator, then the floor."""
    a = res.args
    # The harness raised its soft limit as far as the hard one allows; its children inherit it.
    if why := fd_shortfall(a.streams_2w, a.client_procs_2w, getrlimit(RLIMIT_NOFILE)[0]):
        res.notes.append(why)
        log(f"  {why}")
    names = [n for n in (EMU, BARE) if n in res.targets]
    with running(res, names, LONG) as live:
        for inst in live:
            load = StreamLoad(LONG, a.streams_2w, a.ramp_2w, a.client_procs_2w)
            r = run_streams(inst, load)
            r["round"] = 1
            r["rss_per_stream_kib"] = rss_per_stream_kib(r)
            res.add(WORKLOAD, inst.name, r)
            log(
                f"  {WORKLOAD} {inst.name:17} {r['complete']}/{load.streams} complete, peak open "
                f"{r['peak_open']}, lateness p99 {r['p99_ms']:.0f} ms, first event p99 "
                f"{r['first_event_p99_ms']:.0f} ms, RSS {r['rss_before_mb']:.0f} -> "
                f"{r['rss_peak_mb']:.0f} MiB ({r['rss_per_stream_kib']:.1f} KiB per stream), "
                f"client CPU {r['client_cpu']:.2f} over {r['client_procs']} process(es), loop "
                f"lag p99 {r['client_lag_p99_ms']:.0f} ms"
            )


def _measured(r: dict[str, Any]) -> str:
    return (
        f"{r['complete']}/{r['streams']} complete, peak open {r['peak_open']}; lateness p50 "
        f"{fmt(r['p50_ms'], 1)} / p99 {fmt(r['p99_ms'], 1)} ms; first event p99 "
        f"{fmt(r['first_event_p99_ms'], 0)} ms; client CPU {fmt(r['client_cpu'])} "
        f"({r['client_procs']} process(es)), loop lag p99 {fmt(r['client_lag_p99_ms'], 0)} ms"
    )


def streams_2w_rows(res: Results) -> list[Row]:
    """The issue's target (all served, p99 no worse than the floor's) and RSS per open stream."""
    if WORKLOAD not in res.args.workloads:
        return []
    got = res.runs.get(WORKLOAD, {})
    n = res.args.streams_2w
    figure = f"{n:,} timed streams across 2 workers: all served, lateness p99 ≤ the floor's"
    target = f"{n:,}/{n:,}; p99 ≤ bare's"
    if EMU not in got:
        return [[figure, "not measured (see the notes)", target, "n/a"]]
    e = got[EMU][0]
    rows: list[Row] = []
    if BARE in got:
        b = got[BARE][0]
        good = e["complete"] == n and e["p99_ms"] <= b["p99_ms"]
        measured = f"p99 {fmt(e['p99_ms'], 1)} vs {fmt(b['p99_ms'], 1)} ms; {e['complete']:,}/{n:,}"
        rows.append([figure, measured, target, ok(e["p99_ms"] + b["p99_ms"], good)])
    else:
        rows.append([figure, f"{e['complete']:,}/{n:,}; no floor measured", target, met(None)])
    for name in (EMU, BARE):
        if name in got:
            r = got[name][0]
            rows.append([f"{n:,} timed streams, {WHO[name]}", _measured(r), "—", "—"])
            rows.append(
                [
                    f"{n:,} timed streams, {WHO[name]}: RSS per open stream",
                    f"{fmt(r['rss_per_stream_kib'], 1)} KiB ({fmt(r['rss_before_mb'], 0)} -> "
                    f"{fmt(r['rss_peak_mb'], 0)} MiB over {r['peak_open']:,} open)",
                    "reported",
                    "—",
                ]
            )
    return rows
