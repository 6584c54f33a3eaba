"""The summary: one row per figure, (figure, measured, target, met?), every one a same-run ratio."""

from __future__ import annotations

import math

from .common import fmt, median
from .journal_cost import journal_share_rows
from .plugin_cost import plugin_cost_rows
from .results import Results
from .rows import Row, ok
from .streams_2w import streams_2w_rows
from .summary_state import soak_rows, threads_rows
from .summary_streams import delayed_rows, many_streams_rows

SERVERS = ("granian", "granian-rsgi", "uvicorn")
UNITS = {"invoke": "req/s", "stream": "responses/s"}
PEER_GOALS = {("invoke", "prism"): 4.0}  # emulator on its default server / peer
EMU1, EMU2, REDIS1 = "emulator-granian", "emulator-redis-2w", "emulator-redis-1w"
BARE1, BARE2 = "bare-granian", "bare-granian-2w"
RSGI = "emulator-granian-rsgi"
STARTUP_GOAL = 0.3  # seconds to the first answer (issues 8, 22)
# (workload, A, B, figure, target for A / B or None); each measured in the same rounds.
RATIOS: list[tuple[str, str, str, str, float | None]] = [
    # Issue 22's targets: the emulator as it runs by default (its access log on) against the
    # floor, bare Starlette on the same server (which logs nothing), and against the physical
    # limit of one Python worker (raw apps: the same bytes, no framework).
    (
        "invoke",
        EMU1,
        "bare-granian",
        "invoke: emulator (access log on, the default) / bare Starlette, granian",
        1.0,
    ),
    ("invoke", EMU1, "raw-rsgi", "invoke: emulator on granian / raw RSGI app (moonshot)", 0.6),
    (
        "invoke",
        RSGI,
        "bare-granian",
        "invoke: emulator on granian's RSGI interface / bare Starlette, granian",
        1.0,
    ),
    ("invoke", RSGI, "raw-rsgi", "invoke: emulator on RSGI / raw RSGI app (moonshot)", 0.6),
    ("invoke", RSGI, EMU1, "invoke: emulator on RSGI / on ASGI, both granian", None),
    ("invoke", EMU1, "raw-asgi", "invoke: emulator on granian / raw ASGI app", None),
    ("invoke", "bare-granian", "raw-rsgi", "invoke: bare Starlette / raw RSGI app", None),
    ("invoke", "raw-asgi", "raw-rsgi", "invoke: raw ASGI app / raw RSGI app", None),
    (
        "invoke",
        EMU1,
        "bare-granian-log",
        "invoke: emulator / bare Starlette with granian's own access log, granian",
        None,
    ),
    (
        "invoke",
        "emulator-uvicorn",
        "bare-uvicorn",
        "invoke: emulator / bare Starlette (no log), uvicorn",
        0.75,
    ),
    ("invoke", REDIS1, EMU1, "invoke: emulator on Redis, 1 worker / in memory, 1 worker", 0.6),
    ("invoke", EMU2, EMU1, "invoke: emulator on Redis, 2 workers / in memory, 1 worker", 1.3),
    ("invoke", EMU2, REDIS1, "invoke: emulator on Redis, 2 workers / 1 worker", None),
    (
        "invoke",
        EMU2,
        "bare-granian-2w",
        "invoke: emulator on Redis, 2 workers / bare Starlette, 2 workers",
        None,
    ),
    (
        "invoke",
        "bare-granian-2w",
        "bare-granian",
        "invoke: bare Starlette, 2 workers / 1 worker (what a second worker gives here)",
        None,
    ),
    ("stream", EMU1, "bare-granian", "stream: emulator / bare Starlette, both on granian", 2.0),
    ("stream", EMU1, "raw-rsgi", "stream: emulator on granian / raw RSGI app", None),
    ("stream", RSGI, "bare-granian", "stream: emulator on RSGI / bare Starlette, granian", 2.0),
    ("stream", RSGI, "raw-rsgi", "stream: emulator on RSGI / raw RSGI app", None),
    ("stream", EMU1, "raw-asgi", "stream: emulator on granian / raw ASGI app", None),
    ("stream", "bare-granian", "raw-rsgi", "stream: bare Starlette / raw RSGI app", None),
    (
        "stream",
        "emulator-uvicorn",
        "bare-uvicorn",
        "stream: emulator / bare Starlette, both on uvicorn",
        0.6,
    ),
    ("stream", REDIS1, EMU1, "stream: emulator on Redis, 1 worker / in memory, 1 worker", None),
    ("stream", EMU2, EMU1, "stream: emulator on Redis, 2 workers / in memory, 1 worker", None),
    ("stream", EMU2, REDIS1, "stream: emulator on Redis, 2 workers / 1 worker", None),
    (
        "stream",
        "bare-granian-2w",
        "bare-granian",
        "stream: bare Starlette, 2 workers / 1 worker",
        None,
    ),
]


def scaling(res: Results, w: str = "invoke") -> tuple[float, list[float]]:
    """Per round, the emulator's 2-worker/1-worker ratio (both on Redis: 2 workers need a
    shared store) over the bare floor's (bare Starlette on granian, 2 workers / 1 worker); the
    median of the rounds. At least 1: a second worker gives the emulator as much as the floor."""
    e2, e1 = res.series(w, EMU2, "rps"), res.series(w, REDIS1, "rps")
    b2, b1 = res.series(w, BARE2, "rps"), res.series(w, BARE1, "rps")
    per_round = [
        (x2 / x1) / (y2 / y1)
        for x2, x1, y2, y1 in zip(e2, e1, b2, b1, strict=False)
        if x1 and y1 and y2 and not any(math.isnan(v) for v in (x2, x1, y2, y1))
    ]
    return median(per_round), per_round


def ratio_measured(res: Results, w: str, a: str, b: str) -> tuple[float, str]:
    """The median of the per-round ratios a/b, and how it reads: with both medians, each round."""
    r, rs = res.paired_ratio(w, a, b, "rps")
    return r, (
        f"{fmt(r)} ({fmt(res.med(w, a, 'rps'), 0)} vs {fmt(res.med(w, b, 'rps'), 0)} "
        f"{UNITS[w]}; rounds {', '.join(fmt(x) for x in rs)})"
    )


def scaling_measured(res: Results, w: str) -> tuple[float, str]:
    r, rs = scaling(res, w)
    e, _ = res.paired_ratio(w, EMU2, REDIS1, "rps")
    b, _ = res.paired_ratio(w, BARE2, BARE1, "rps")
    return r, (
        f"{fmt(r)} (emulator on Redis 2w/1w {fmt(e)}, bare Starlette on granian 2w/1w "
        f"{fmt(b)}; rounds {', '.join(fmt(x) for x in rs)})"
    )


def scaling_rows(res: Results) -> list[Row]:
    rows = []
    for w in ("invoke", "stream"):
        if not res.have(w, EMU2, REDIS1, BARE2, BARE1):
            continue
        r, measured = scaling_measured(res, w)
        # The emulator's 2 workers need a shared store: both its sides are on Redis.
        figure = f"{w}: 2-worker/1-worker ratio, emulator (both on Redis) / bare Starlette's"
        target, good = ("≥ 1.0", ok(r, r >= 1.0)) if w == "invoke" else ("—", "—")
        rows.append([figure, measured, target, good])
    return rows


def default_server() -> str:
    try:
        from vivi_emulator.settings import Settings

        return str(Settings.model_fields["server"].default)
    except Exception:  # the harness must not depend on the emulator's internals
        return "uvicorn"


def granian_default(dflt: str) -> str:
    """The emulator's target on granian's interface `serve` uses by default: issue 22's targets
    are the emulator as a user starts it."""
    return f"emulator-{dflt}" if dflt.startswith("granian") else EMU1


def _ratio_rows(res: Results, dflt: str) -> list[Row]:
    rows = []
    for w, a, b, figure, target in RATIOS:
        if not res.have(w, a, b):
            continue
        goal = target
        if a in (EMU1, RSGI) and a != granian_default(dflt) and goal is not None:
            # One row per target: the other interface is measured for information.
            goal, figure = None, f"{figure} (not serve's default interface: for information)"
        r, measured = ratio_measured(res, w, a, b)
        if goal is None:
            rows.append([figure, measured, "—", "—"])
        else:
            rows.append([figure, measured, f"≥ {goal}", ok(r, r >= goal)])
    return rows


def _peer_rows(res: Results, w: str, dflt: str) -> list[Row]:
    rows = []
    for peer in ("prism", "wiremock"):
        if peer not in res.targets:
            continue  # not selected, or not installed (see the notes)
        goal = PEER_GOALS.get((w, peer))
        for server in SERVERS:
            emu = f"emulator-{server}"
            if not res.have(w, emu):
                continue
            applies = goal is not None and server == dflt
            figure = f"{w}: emulator on {server} / {peer}"
            if not res.have(w, peer):
                rows.append([figure, "n/a (not run)", f"≥ {goal:g}x" if applies else "—", "n/a"])
                continue
            r, _ = res.paired_ratio(w, emu, peer, "rps")
            measured = (
                f"{fmt(r)}x ({fmt(res.med(w, emu, 'rps'), 0)} vs "
                f"{fmt(res.med(w, peer, 'rps'), 0)} {UNITS[w]})"
            )
            target = f"≥ {goal:g}x (default server)" if applies else "—"
            rows.append([figure, measured, target, ok(r, r >= (goal or 0)) if applies else "—"])
    return rows


def _startup_rows(res: Results, dflt: str) -> list[Row]:
    rows = []
    for server in SERVERS:
        emu = f"emulator-{server}"
        if not res.have("startup", emu):
            continue
        s = res.med("startup", emu, "startup_s")
        # The target is the default server's (issue 22); the others are for information.
        goal = server == dflt
        rows.append(
            [
                f"start-up to first answer: emulator on {server}"
                + ("" if goal else " (not the default server)"),
                f"{fmt(s, 3)} s",
                f"≤ {STARTUP_GOAL} s" if goal else "—",
                ok(s, s <= STARTUP_GOAL) if goal else "—",
            ]
        )
        for ref in (f"bare-{server}", "prism", "wiremock"):
            figure = f"start-up: emulator on {server} / {ref}"
            is_peer = ref in ("prism", "wiremock")
            if not res.have("startup", ref):
                if ref in res.targets:
                    rows.append([figure, "n/a (not run)", "< 1 (faster)", "n/a"])
                continue
            r, _ = res.paired_ratio("startup", emu, ref, "startup_s")
            measured = (
                f"{fmt(r)} ({fmt(s, 3)} s vs {fmt(res.med('startup', ref, 'startup_s'), 3)} s)"
            )
            rows.append(
                [
                    figure,
                    measured,
                    "< 1 (faster)" if is_peer else "—",
                    ok(r, r < 1) if is_peer else "—",
                ]
            )
    return rows


def _idle_rows(res: Results) -> list[Row]:
    rows = []
    for name in res.targets:
        if not res.have("startup", name):
            continue
        rss = res.med("startup", name, "rss_idle_mb")
        row = [f"idle RSS: {name}", f"{fmt(rss, 0)} MiB", "—", "—"]
        bare = name.replace("emulator-", "bare-")
        if name.startswith("emulator-") and res.have("startup", bare):
            r, _ = res.paired_ratio("startup", name, bare, "rss_idle_mb")
            row[1] += f" ({fmt(r)}x bare)"
        rows.append(row)
    return rows


def summary_rows(res: Results) -> list[Row]:
    """(figure, measured, target, met) rows: every one a ratio or a same-run comparison."""
    dflt = default_server()
    rows = _ratio_rows(res, dflt) + scaling_rows(res)
    for w in ("invoke", "stream"):
        rows += _peer_rows(res, w, dflt)
    rows += _startup_rows(res, dflt)
    if "delayed" in res.args.workloads:
        rows += delayed_rows(res)
    rows += many_streams_rows(res) + streams_2w_rows(res) + journal_share_rows(res)
    rows += threads_rows(res) + soak_rows(res) + plugin_cost_rows(res)
    return rows + _idle_rows(res)
