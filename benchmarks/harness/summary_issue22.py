"""Issue 22's targets, one row each, in the issue's order: (target, measured, goal, met?).

A view of the run's figures (the same ones as the summary's rows): every target of the issue has
its row whether or not it was measured, and a missed one points to its "What stands in the way"
section, which is written by hand below the report's written part (report.py keeps it).
"""

from __future__ import annotations

from .common import fmt
from .journal_cost import journal_share_rows
from .results import Results
from .rows import Row, ok
from .streams_2w import BARE as BARE_2W
from .streams_2w import EMU as EMU_2W
from .streams_2w import WORKLOAD as STREAMS_2W
from .summary import (
    EMU1,
    REDIS1,
    STARTUP_GOAL,
    default_server,
    granian_default,
    ratio_measured,
    scaling_measured,
)

Ratio = tuple[str, str, str, str, float]  # (name, workload, emulator, reference, goal)
NOT_RUN = "not measured in this run (`benchmarks/run --issue22` measures every row)"
WAY = "What stands in the way"

# The ratio targets; "{g}" is the emulator on granian's default interface (the one `serve` uses).
RATIO_TARGETS: list[Ratio] = [
    ("invoke on granian ≥ 1.0x bare Starlette", "invoke", "{g}", "bare-granian", 1.0),
    ("invoke on granian ≥ 0.6x the raw RSGI app (moonshot)", "invoke", "{g}", "raw-rsgi", 0.6),
    (
        "invoke on uvicorn ≥ 0.75x bare Starlette on uvicorn",
        "invoke",
        "emulator-uvicorn",
        "bare-uvicorn",
        0.75,
    ),
    ("stream on granian ≥ 2.0x bare Starlette", "stream", "{g}", "bare-granian", 2.0),
]
JOURNAL = "journaling ≤ 10 % of a constant stream's cost"
REDIS_1W = "Redis, 1 worker ≥ 0.6x memory, 1 worker (invoke, granian)"
# The emulator's 2 workers need a shared store: its ratio is Redis 2 workers / Redis 1 worker.
SCALING = "2-worker/1-worker ratio ≥ the bare floor's (invoke, emulator on Redis)"
# {n}: the streams opened (10,000 in the issue and in a full run; fewer in a smoke run)
STREAMS = "{n:,} timed streams across 2 workers: all served, p99 lateness ≤ the bare floor's"
RSS = "{n:,} timed streams across 2 workers: RSS per open stream reported"
STARTUP = "start-up to first answer ≤ 0.3 s (the default server)"


def verdict(name: str, good: str) -> str:
    """met, n/a, or NOT MET pointing to the section that shows what stands in the way."""
    return f"NOT MET: see “{WAY}: {name}”" if good == "NOT MET" else good


def _ratio(res: Results, target: Ratio) -> Row:
    name, w, a, b, goal = target
    if not res.have(w, a, b):
        return [name, NOT_RUN, f"≥ {goal}", "n/a"]
    r, measured = ratio_measured(res, w, a, b)
    return [name, f"{a} / {b}: {measured}", f"≥ {goal}", ok(r, r >= goal)]


def _journal(res: Results) -> Row:
    rows = journal_share_rows(res)
    if not rows:
        return [JOURNAL, NOT_RUN, "≤ 10%", "n/a"]
    return [JOURNAL, *rows[0][1:]]


def _scaling(res: Results) -> Row:
    if not res.have("invoke", "emulator-redis-2w", REDIS1, "bare-granian-2w", "bare-granian"):
        return [SCALING, NOT_RUN, "≥ 1.0", "n/a"]
    r, measured = scaling_measured(res, "invoke")
    return [SCALING, measured, "≥ 1.0 (the two ratios' quotient)", ok(r, r >= 1.0)]


def _streams(res: Results) -> list[Row]:
    got = res.runs.get(STREAMS_2W, {})
    n = res.args.streams_2w
    streams, rss_name = STREAMS.format(n=n), RSS.format(n=n)
    if EMU_2W not in got or BARE_2W not in got:
        return [
            [streams, NOT_RUN, "all; p99 ≤ bare's", "n/a"],
            [rss_name, NOT_RUN, "reported", "n/a"],
        ]
    e, b = got[EMU_2W][0], got[BARE_2W][0]
    good = e["complete"] == n and e["p99_ms"] <= b["p99_ms"]
    # Judged on completion and lateness; the peak open at once and the first event's wait show
    # whether a server held streams back (under overload a few end before the last ones start).
    served = (
        f"{e['complete']:,}/{n:,} complete (bare {b['complete']:,}/{b['streams']:,}); lateness "
        f"p99 {fmt(e['p99_ms'], 1)} ms vs bare {fmt(b['p99_ms'], 1)} ms; peak open "
        f"{e['peak_open']:,} vs {b['peak_open']:,}; first event p99 "
        f"{fmt(e['first_event_p99_ms'], 0)} vs {fmt(b['first_event_p99_ms'], 0)} ms; client CPU "
        f"{fmt(e['client_cpu'])} / {fmt(b['client_cpu'])} over {e['client_procs']} process(es)"
    )
    rss = (
        f"emulator {fmt(e['rss_per_stream_kib'], 1)} KiB, bare {fmt(b['rss_per_stream_kib'], 1)} "
        f"KiB (peak RSS minus idle, over the peak open: {e['peak_open']:,} / {b['peak_open']:,})"
    )
    return [
        [streams, served, f"{n:,}/{n:,}; p99 ≤ bare's", ok(e["p99_ms"] + b["p99_ms"], good)],
        [rss_name, rss, "reported", "reported"],
    ]


def _startup(res: Results, dflt: str) -> Row:
    emu = f"emulator-{dflt}"
    if not res.have("startup", emu):
        return [STARTUP, NOT_RUN, f"≤ {STARTUP_GOAL} s", "n/a"]
    s = res.med("startup", emu, "startup_s")
    measured = f"{fmt(s, 3)} s ({emu}, median of {len(res.series('startup', emu, 'startup_s'))})"
    return [STARTUP, measured, f"≤ {STARTUP_GOAL} s", ok(s, s <= STARTUP_GOAL)]


def issue22_rows(res: Results) -> list[Row]:
    """Every target of issue 22, in its order, measured or not."""
    dflt = default_server()
    g = granian_default(dflt)
    rows = [_ratio(res, (n, w, a.format(g=g), b, goal)) for n, w, a, b, goal in RATIO_TARGETS]
    rows += [_journal(res), _ratio(res, (REDIS_1W, "invoke", REDIS1, EMU1, 0.6)), _scaling(res)]
    rows += [*_streams(res), _startup(res, dflt)]
    return [[*r[:3], verdict(r[0], r[3])] for r in rows]


def missed(rows: list[Row]) -> list[str]:
    """The names of the targets not met: each gets a "What stands in the way" section."""
    return [r[0] for r in rows if r[3].startswith("NOT MET")]
