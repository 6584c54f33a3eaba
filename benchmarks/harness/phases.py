"""Phases of a run: start-up, throughput (wrk, rounds A B A B), delayed streams, many streams."""

from __future__ import annotations

import contextlib
import http.client
import time
from typing import Any

from .common import DELAYED, LONG, STREAM_PATH, log
from .instances import Instance, not_ready, running
from .probes import post, wait_ready
from .processes import free_port
from .results import Results
from .streams import StreamLoad, run_streams
from .targets import Target
from .wrk import job, run_wrk


def measure_startup(t: Target) -> dict[str, Any]:
    """Seconds from spawn to the first 2xx, and the RSS 0.5 s after that and one stream."""
    port = free_port()
    t0 = time.monotonic()
    proc = t.start(port, suffix="-startup")
    try:
        if wait_ready(proc, port, t.ready_timeout) is None:
            return {"error": not_ready(proc, t.ready_timeout)}
        startup = time.monotonic() - t0
        with contextlib.suppress(OSError, http.client.HTTPException):
            post(port, STREAM_PATH, {"Accept": "text/event-stream"})
        time.sleep(0.5)
        return {"startup_s": startup, "rss_idle_mb": proc.rss_mb()}
    finally:
        proc.stop()


def startup_phase(res: Results) -> None:
    for i in range(res.args.startup_samples):
        for name, t in res.targets.items():
            r = measure_startup(t)
            r["round"] = i + 1
            res.add("startup", name, r)
            if "error" in r:
                res.failures.append(f"{name} start-up: {r['error']}")
                log(f"  start-up {i + 1} {name:17} ERROR {r['error']}")
            else:
                log(
                    f"  start-up {i + 1} {name:17} {r['startup_s']:.3f} s, idle RSS "
                    f"{r['rss_idle_mb']:.0f} MiB"
                )


def _warm_up(inst: Instance, workload: str, res: Results) -> None:
    """Unmeasured load until two runs agree within 10 %: JITs (WireMock, Prism), lazy imports."""
    a = res.args
    if not a.warmup_runs:
        return
    prev, rps, i = 0.0, 0.0, 0
    while i < a.warmup_runs:
        i += 1
        rps = run_wrk(inst, job(workload, a.threads, a.connections, a.warmup)).get("rps", 0.0)
        if prev and abs(rps - prev) <= 0.1 * prev:
            break
        prev = rps
    log(f"  warm-up {workload:7} {inst.name:17} {i} run(s) of {a.warmup:g} s, last {rps:.0f} /s")


def _round(res: Results, inst: Instance, workload: str, rnd: int) -> None:
    a = res.args
    r = run_wrk(inst, job(workload, a.threads, a.connections, a.duration))
    r["round"] = rnd
    res.add(workload, inst.name, r)
    where = f"round {rnd} {workload:7} {inst.name:17}"
    if "error" in r:
        res.failures.append(f"{inst.name} {workload} round {rnd}: {r['error']}")
        log(f"  {where} ERROR {r['error']}")
        return
    log(f"  {where} {r['rps']:9.0f} /s  server CPU {r['server_cpu']:.2f}  non-2xx {r['non2xx']}")
    if r["non2xx"]:
        res.failures.append(f"{inst.name} {workload} round {rnd}: {r['non2xx']} non-2xx")


def throughput_phase(res: Results) -> None:
    workloads = [w for w in ("invoke", "stream") if w in res.args.workloads]
    if not workloads:
        return
    with running(res, list(res.targets)) as live:
        for w in workloads:
            for inst in live:
                _warm_up(inst, w, res)
        for rnd in range(1, res.args.rounds + 1):
            for w in workloads:
                for inst in live:
                    _round(res, inst, w, rnd)


def delayed_phase(res: Results) -> None:
    """args.streams delayed streams at once, per worker of the target, for each round."""
    names = [n for n, t in res.targets.items() if t.scripted]
    with running(res, names, DELAYED) as live:
        for rnd in range(1, res.args.rounds + 1):
            for inst in live:
                n = res.args.streams * inst.target.workers
                load = StreamLoad(DELAYED, n, res.args.ramp, res.args.client_procs)
                r = run_streams(inst, load)
                r["round"] = rnd
                res.add("delayed", inst.name, r)
                log(
                    f"  round {rnd} delayed {inst.name:17} {r['complete']}/{n} complete, "
                    f"lateness p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms, peak open "
                    f"{r['peak_open']}, RSS {r['rss_peak_mb']:.0f} MiB, client CPU "
                    f"{r['client_cpu']:.2f}"
                )


def many_streams_phase(res: Results) -> None:
    """--many-streams long streams at once against one emulator worker, and (full runs) against
    bare Starlette on granian's defaults, whose backpressure caps a worker at 1,024 requests."""
    wanted = ["emulator-granian"] + ([] if res.args.smoke else ["bare-granian"])
    names = [n for n in wanted if n in res.targets]
    with running(res, names, LONG) as live:
        for inst in live:
            load = StreamLoad(LONG, res.args.many_streams, res.args.ramp, res.args.client_procs)
            r = run_streams(inst, load)
            r["round"] = 1
            res.add("many-streams", inst.name, r)
            log(
                f"  many streams {inst.name:17} {r['complete']}/{load.streams} complete, peak "
                f"open {r['peak_open']}, lateness p99 {r['p99_ms']:.0f} ms, first event p99 "
                f"{r['first_event_p99_ms']:.0f} ms, RSS {r['rss_peak_mb']:.0f} MiB"
            )
