"""The summary: one row per figure, (figure, measured, target, met?), every one a same-run ratio."""

from __future__ import annotations

import math

from .common import fmt
from .results import Results

Row = list[str]
SERVERS = ("granian", "uvicorn")
FLOORS = {"invoke": 0.75, "stream": 0.6}  # emulator / bare Starlette on the same server
UNITS = {"invoke": "req/s", "stream": "responses/s"}
PEER_GOALS = {("invoke", "prism"): 4.0}  # emulator on its default server / peer


def met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT MET")


def _ok(x: float, good: bool) -> str:
    """met / NOT MET, or n/a when x was not measured."""
    return met(None if math.isnan(x) else good)


def default_server() -> str:
    try:
        from vivi_emulator.settings import Settings

        return str(Settings.model_fields["server"].default)
    except Exception:  # the harness must not depend on the emulator's internals
        return "uvicorn"


def _floor_rows(res: Results, w: str) -> list[Row]:
    rows = []
    for server in SERVERS:
        emu, bare = f"emulator-{server}", f"bare-{server}"
        if not res.have(w, emu, bare):
            continue
        r, rs = res.paired_ratio(w, emu, bare, "rps")
        measured = (
            f"{fmt(r)} ({fmt(res.med(w, emu, 'rps'), 0)} vs {fmt(res.med(w, bare, 'rps'), 0)} "
            f"{UNITS[w]}; rounds {', '.join(fmt(x) for x in rs)})"
        )
        goal = FLOORS[w]
        rows.append(
            [
                f"{w}: emulator / bare Starlette, both on {server}",
                measured,
                f"≥ {goal}",
                _ok(r, r >= goal),
            ]
        )
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
            rows.append([figure, measured, target, _ok(r, r >= (goal or 0)) if applies else "—"])
    return rows


def _startup_rows(res: Results) -> list[Row]:
    rows = []
    for server in SERVERS:
        emu = f"emulator-{server}"
        if not res.have("startup", emu):
            continue
        s = res.med("startup", emu, "startup_s")
        rows.append(
            [
                f"start-up to first answer: emulator on {server}",
                f"{fmt(s, 3)} s",
                "< 0.5 s",
                _ok(s, s < 0.5),
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
                    _ok(r, r < 1) if is_peer else "—",
                ]
            )
    return rows


def _delayed_target_rows(res: Results, name: str, who: str, is_emu: bool) -> list[Row]:
    runs = res.runs["delayed"][name]
    n = runs[0]["streams"]
    complete = min(r["complete"] for r in runs)
    p99 = res.med("delayed", name, "p99_ms")
    rss = res.med("delayed", name, "rss_peak_mb")

    def med(key: str) -> str:
        return fmt(res.med("delayed", name, key), 1)

    lateness = (
        f"{med('p50_ms')} / {fmt(p99, 1)} ms (p50 at event 1 {med('p50_first_ms')}, at the last "
        f"{med('p50_last_ms')}; client CPU {fmt(res.med('delayed', name, 'client_cpu'))}, loop "
        f"lag p99 {med('client_lag_p99_ms')} ms)"
    )
    peak = min(r["peak_open"] for r in runs)
    return [
        [
            f"{n} delayed streams, {who}: all complete",
            f"{complete}/{n} (worst round), peak open {peak}",
            "all" if is_emu else "—",
            met(complete == n) if is_emu else "—",
        ],
        [
            f"{n} delayed streams, {who}: lateness p50 / p99",
            lateness,
            "p99 < 20 ms" if is_emu else "—",
            _ok(p99, p99 < 20) if is_emu else "—",
        ],
        [
            f"{n} delayed streams, {who}: peak RSS",
            f"{fmt(rss, 0)} MiB",
            "< 250 MB" if is_emu else "—",
            _ok(rss, rss < 250) if is_emu else "—",
        ],
    ]


def _delayed_rows(res: Results) -> list[Row]:
    rows = []
    n = res.args.streams
    for server in SERVERS:
        emu, bare = f"emulator-{server}", f"bare-{server}"
        if emu in res.targets and not res.have("delayed", emu):
            rows.append(
                [
                    f"{n} delayed streams, emulator on {server}",
                    "not measured (see the notes)",
                    "all complete, p99 < 20 ms, RSS < 250 MB",
                    "n/a",
                ]
            )
        for name, who in ((emu, f"emulator on {server}"), (bare, f"bare Starlette on {server}")):
            if res.have("delayed", name):
                rows += _delayed_target_rows(res, name, who, name == emu)
        if res.have("delayed", emu, bare):
            r, _ = res.paired_ratio("delayed", emu, bare, "rss_peak_mb")
            rows.append([f"{n} delayed streams: RSS emulator / bare, {server}", fmt(r), "—", "—"])
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
    rows: list[Row] = []
    for w in ("invoke", "stream"):
        rows += _floor_rows(res, w) + _peer_rows(res, w, dflt)
    rows += _startup_rows(res)
    if "delayed" in res.args.workloads:
        rows += _delayed_rows(res)
    return rows + _idle_rows(res)
