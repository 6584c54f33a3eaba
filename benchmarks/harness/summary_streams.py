"""Summary rows of the stream workloads: delayed streams per worker, many streams on one worker."""

from __future__ import annotations

from .common import fmt
from .results import Results
from .rows import Row, met, ok

# (emulator, its floor, who each is): the floor runs the same streams on the same server.
DELAYED_PAIRS = [
    ("emulator-granian", "bare-granian", "emulator on granian", "bare Starlette on granian"),
    ("emulator-uvicorn", "bare-uvicorn", "emulator on uvicorn", "bare Starlette on uvicorn"),
    (
        "emulator-redis-2w",
        "bare-granian-2w",
        "emulator on Redis, 2 workers",
        "bare Starlette, 2 workers",
    ),
]


def _lateness(res: Results, w: str, name: str) -> str:
    def med(key: str) -> str:
        return fmt(res.med(w, name, key), 1)

    return (
        f"{med('p50_ms')} / {med('p99_ms')} ms (p50 at event 1 {med('p50_first_ms')}, at the "
        f"last {med('p50_last_ms')}; client CPU {fmt(res.med(w, name, 'client_cpu'))}, loop lag "
        f"p99 {med('client_lag_p99_ms')} ms)"
    )


def _delayed_target_rows(res: Results, name: str, who: str, is_emu: bool) -> list[Row]:
    runs = res.runs["delayed"][name]
    n = runs[0]["streams"]
    complete = min(r["complete"] for r in runs)
    p99 = res.med("delayed", name, "p99_ms")
    rss = res.med("delayed", name, "rss_peak_mb")
    peak = min(r["peak_open"] for r in runs)
    rss_goal = is_emu and name != "emulator-redis-2w"  # the RSS target is one worker's
    return [
        [
            f"{n} delayed streams, {who}: all complete",
            f"{complete}/{n} (worst round), peak open {peak}",
            "all" if is_emu else "—",
            met(complete == n) if is_emu else "—",
        ],
        [
            f"{n} delayed streams, {who}: lateness p50 / p99",
            _lateness(res, "delayed", name),
            "p99 < 20 ms" if is_emu else "—",
            ok(p99, p99 < 20) if is_emu else "—",
        ],
        [
            f"{n} delayed streams, {who}: peak RSS",
            f"{fmt(rss, 0)} MiB",
            "< 250 MB" if rss_goal else "—",
            ok(rss, rss < 250) if rss_goal else "—",
        ],
    ]


def delayed_rows(res: Results) -> list[Row]:
    rows = []
    for emu, bare, who_emu, who_bare in DELAYED_PAIRS:
        if emu in res.targets and not res.have("delayed", emu):
            rows.append(
                [
                    f"delayed streams, {who_emu}",
                    "not measured (see the notes)",
                    "all complete, p99 < 20 ms",
                    "n/a",
                ]
            )
        for name, who in ((emu, who_emu), (bare, who_bare)):
            if res.have("delayed", name):
                rows += _delayed_target_rows(res, name, who, name == emu)
        if res.have("delayed", emu, bare):
            r, _ = res.paired_ratio("delayed", emu, bare, "rss_peak_mb")
            rows.append([f"delayed streams: peak RSS {who_emu} / {who_bare}", fmt(r), "—", "—"])
    return rows


def many_streams_rows(res: Results) -> list[Row]:
    rows = []
    for name, who in (
        ("emulator-granian", "emulator, one worker"),
        ("bare-granian", "bare Starlette on granian's defaults"),
    ):
        if not res.have("many-streams", name):
            if name == "emulator-granian" and "many-streams" in res.args.workloads:
                rows.append([f"many streams, {who}", "not measured (see the notes)", "all", "n/a"])
            continue
        r = res.runs["many-streams"][name][0]
        n, is_emu = r["streams"], name == "emulator-granian"
        rows += [
            [
                f"{n} streams at once, {who}: served at once (peak)",
                f"{r['peak_open']}/{n}",
                f"{n}" if is_emu else "—",
                met(r["peak_open"] == n) if is_emu else "—",
            ],
            [
                f"{n} streams at once, {who}: completed",
                f"{r['complete']}/{n} (first event p99 {fmt(r['first_event_p99_ms'], 0)} ms, "
                f"lateness p99 {fmt(r['p99_ms'], 0)} ms, peak RSS {fmt(r['rss_peak_mb'], 0)} MiB)",
                f"{n}/{n}" if is_emu else "—",
                met(r["complete"] == n) if is_emu else "—",
            ],
        ]
    return rows
