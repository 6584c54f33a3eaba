"""The soak and fault run (issue 12): minutes of mixed, bad and broken traffic, then normal ones.

It reports, it does not judge speed: the server's RSS over time, the outcome of every kind of
request, whether normal requests still succeed afterwards, and how many tracebacks the server's
log holds (there must be none: bad input gets a JSON 4xx, a client that leaves costs nothing).
"""

# ruff: noqa: S311  (random picks of traffic, not secrets)

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from typing import Any

from .common import DELAYED, log
from .instances import Instance, running
from .results import Results
from .soak_traffic import ACTIONS, NORMAL, Client, is_right

SOAK_TARGETS = ["emulator-granian", "emulator-redis-2w"]
CONCURRENCY = 16  # clients at once, each running one action after another
NORMAL_EACH = 10  # normal requests of each kind after the soak
TRACEBACK_MARKS = (
    "Traceback (most recent call last)",
    "Exception in ASGI application",
    "Application callable raised an exception",
)

Outcomes = Counter[tuple[str, str]]


async def _one(client: Client, name: str) -> str:
    try:
        return await ACTIONS[name][0](client)
    except Exception as exc:  # a client-side surprise is an outcome too, not the end of the soak
        return f"client error {type(exc).__name__}"


async def _worker(client: Client, until: float, outcomes: Outcomes) -> None:
    names = list(ACTIONS)
    weights = [ACTIONS[n][1] for n in names]
    while time.monotonic() < until:
        name = random.choices(names, weights)[0]
        outcomes[(name, await _one(client, name))] += 1


async def _sample(inst: Instance, until: float, every: float, series: list[list[float]]) -> None:
    t0 = time.monotonic()
    while time.monotonic() < until:
        series.append([round(time.monotonic() - t0, 1), round(inst.proc.rss_mb(), 1)])
        await asyncio.sleep(every)


async def _traffic(inst: Instance, seconds: float) -> tuple[Outcomes, list[list[float]]]:
    client, outcomes = Client(inst.port), Counter[tuple[str, str]]()
    series: list[list[float]] = []
    until = time.monotonic() + seconds
    every = max(0.5, seconds / 30)
    workers = [_worker(client, until, outcomes) for _ in range(CONCURRENCY)]
    await asyncio.gather(*workers, _sample(inst, until, every, series))
    return outcomes, series


async def _normal(port: int) -> Outcomes:
    client, outcomes = Client(port), Counter[tuple[str, str]]()
    for name in NORMAL:
        for _ in range(NORMAL_EACH):
            outcomes[(name, await _one(client, name))] += 1
    return outcomes


def count_tracebacks(text: str) -> tuple[int, list[str]]:
    """Lines that mark a traceback or an unhandled exception; the count and the first few."""
    lines = [line for line in text.splitlines() if any(m in line for m in TRACEBACK_MARKS)]
    return len(lines), lines[:3]


def run_soak(inst: Instance, seconds: float) -> dict[str, Any]:
    rss_start = inst.proc.rss_mb()
    outcomes, series = asyncio.run(_traffic(inst, seconds))
    time.sleep(1.0)  # the streams and waits of clients that left are ended by now
    rss_end = inst.proc.rss_mb()
    normal = asyncio.run(_normal(inst.port))
    normal_bad = {f"{n}: {o}": k for (n, o), k in normal.items() if not is_right(n, o)}
    tracebacks, first = count_tracebacks(inst.proc.log_text())
    by_action: dict[str, dict[str, int]] = {}
    for (name, outcome), k in sorted(outcomes.items()):
        by_action.setdefault(name, {})[outcome] = k
    return {
        "seconds": seconds,
        "requests": sum(outcomes.values()),
        "by_action": by_action,
        "unexpected": {f"{n}: {o}": k for (n, o), k in outcomes.items() if not is_right(n, o)},
        "rss_series": series,
        "rss_start_mb": rss_start,
        "rss_peak_mb": max([rss_start, rss_end] + [mb for _, mb in series]),
        "rss_end_mb": rss_end,
        "normal_total": sum(normal.values()),
        "normal_ok": sum(k for (n, o), k in normal.items() if is_right(n, o)),
        "normal_failures": normal_bad,
        "tracebacks": tracebacks,
        "traceback_lines": first,
        "alive": inst.proc.alive(),
    }


def soak_phase(res: Results) -> None:
    names = [n for n in SOAK_TARGETS if n in res.targets]
    names = names[:1] if res.args.smoke else names  # the smoke run proves the soak on one
    seconds = res.args.minutes * 60
    with running(res, names, DELAYED) as live:
        for inst in live:
            log(f"  soak {inst.name}: {seconds:.0f} s of mixed traffic, {CONCURRENCY} clients")
            r = run_soak(inst, seconds)
            res.add("soak", inst.name, r)
            log(
                f"  soak {inst.name}: {r['requests']} requests, {sum(r['unexpected'].values())} "
                f"unexpected outcomes, RSS {r['rss_start_mb']:.0f} -> {r['rss_end_mb']:.0f} MiB, "
                f"normal {r['normal_ok']}/{r['normal_total']}, tracebacks {r['tracebacks']}"
            )
            if r["tracebacks"]:
                res.failures.append(
                    f"{inst.name} soak: {r['tracebacks']} traceback line(s) in "
                    f"{inst.proc.log_path}, first: {r['traceback_lines'][0][:160]}"
                )
            if r["normal_ok"] < r["normal_total"] or not r["alive"]:
                res.failures.append(
                    f"{inst.name} soak: normal requests afterwards {r['normal_ok']}/"
                    f"{r['normal_total']} right ({r['normal_failures']}), alive: {r['alive']}"
                )
