"""Summary rows of the state workloads: memory after many threads, and the soak."""

from __future__ import annotations

from .common import fmt
from .results import Results
from .rows import Row, met


def threads_rows(res: Results) -> list[Row]:
    rows = []
    for name, runs in res.runs.get("threads", {}).items():
        r = runs[0]
        measured = (
            f"idle {fmt(r['rss_idle_mb'], 0)}, at {r['max_threads']} threads "
            f"{fmt(r['rss_at_bound_mb'], 0)}, after {fmt(r['rss_after_mb'], 0)} MiB; "
            f"{fmt(r['bytes_per_thread'], 0)} B per thread; threads held at most "
            + (f"{r['held_max']:,}" if r["held_max"] >= 0 else "(not reported)")
        )
        figure = f"RSS after {r['distinct']:,} distinct threads, {name}"
        bound = f"≤ {fmt(r['rss_allowed_mb'], 0)} MiB, ≤ {r['max_threads']:,} threads held"
        rows.append([figure, measured, bound, met(r["within"])])
    return rows


def soak_rows(res: Results) -> list[Row]:
    rows = []
    for name, runs in res.runs.get("soak", {}).items():
        r = runs[0]
        what = f"soak {r['seconds'] / 60:g} min, {name}"
        unexpected = sum(r["unexpected"].values())
        worst = ", ".join(f"{k} x{v}" for k, v in sorted(r["unexpected"].items())[:4])
        rows += [
            [
                f"{what}: tracebacks in the server's log",
                str(r["tracebacks"]),
                "0",
                met(r["tracebacks"] == 0),
            ],
            [
                f"{what}: normal requests afterwards",
                f"{r['normal_ok']}/{r['normal_total']}",
                "all",
                met(r["normal_ok"] == r["normal_total"] and r["alive"]),
            ],
            [
                f"{what}: unexpected outcomes",
                f"{unexpected} of {r['requests']} requests" + (f" ({worst})" if worst else ""),
                "0",
                met(unexpected == 0),
            ],
            [
                f"{what}: RSS start / peak / end",
                f"{fmt(r['rss_start_mb'], 0)} / "
                f"{fmt(r['rss_peak_mb'], 0)} / {fmt(r['rss_end_mb'], 0)} MiB",
                "—",
                "—",
            ],
        ]
    return rows
