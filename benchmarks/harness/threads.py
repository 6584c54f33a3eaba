"""Memory after many distinct threads: does the emulator keep to limits.max_threads?

The in-memory emulator (one worker) is started with a settings file that sets a small
`limits.max_threads`; wrk then sends --distinct-threads invoke requests, each with a new
`threadId` (wrk/threads.lua), in batches of max_threads. The RSS after each batch shows the
growth while the store fills, then the plateau once the least recently used threads are evicted;
the control API's /_emulator/usage says how many threads the store holds.
"""

from __future__ import annotations

import math
import time
from typing import Any

from .common import INVOKE_PATH, WORK, log
from .instances import Instance, start_checked
from .probes import get_json
from .results import Results
from .wrk import WrkJob, run_wrk, run_wrk_counted

TARGET = "emulator-granian"
# Once max_threads threads are held, RSS may still grow by as much as they added (allocator
# pages, fragmentation from evictions, noise), and by at least ALLOWANCE_MB: a store that does not
# evict adds that much again with every batch, so nine more batches leave it far outside.
PLATEAU_SHARE, ALLOWANCE_MB = 1.0, 4.0


def _settings(max_threads: int) -> str:
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / "threads-settings.yaml"
    path.write_text(
        f"# written by the harness (threads workload)\nlimits:\n  max_threads: {max_threads}\n"
    )
    return str(path)


def _batch(inst: Instance, n: int, tag: int, connections: int) -> dict[str, Any]:
    # The duration only bounds the run: the script ends wrk after n responses.
    job = WrkJob(INVOKE_PATH, "threads.lua", 600.0, 1, connections, (str(n), str(tag)))
    return run_wrk_counted(inst, job)


def _settle(inst: Instance) -> tuple[float, int]:
    """RSS half a second after a batch, and how many threads the store says it holds."""
    time.sleep(0.5)
    usage = get_json(inst.port, "/_emulator/usage") or {}
    return inst.proc.rss_mb(), int(usage.get("usage", {}).get("threads", -1))


def measure(inst: Instance, distinct: int, max_threads: int, connections: int) -> dict[str, Any]:
    # Warm-up on one thread: the journal fills to its bound, lazy imports and caches are done.
    run_wrk(inst, WrkJob(INVOKE_PATH, "invoke.lua", 2.0, 1, connections))
    idle, _ = _settle(inst)
    series: list[list[float]] = []  # [threads sent, RSS MiB, threads held]
    sent, tag, errors = 0, 0, []
    while sent < distinct:
        r = _batch(inst, min(max_threads, distinct - sent), tag, connections)
        if "error" in r or r.get("non2xx"):
            errors.append(r.get("error") or f"{r['non2xx']} non-2xx")
            break
        sent += r["requests"] or 0
        tag += 1
        rss, held = _settle(inst)
        series.append([sent, round(rss, 1), held])
    return {"distinct": sent, **verdict(idle, series, max_threads), "errors": errors}


def verdict(idle: float, series: list[list[float]], max_threads: int) -> dict[str, Any]:
    """The figures and the judgement from the RSS before the first batch and after each one."""
    at_bound = next((mb for n, mb, _ in series if n >= max_threads), math.nan)
    held_max = int(max((held for _, _, held in series), default=-1))
    after = series[-1][1] if series else math.nan
    grown = at_bound - idle
    allowed = at_bound + max(ALLOWANCE_MB, PLATEAU_SHARE * grown)
    return {
        "max_threads": max_threads,
        "rss_idle_mb": idle,
        "rss_at_bound_mb": at_bound,
        "rss_after_mb": after,
        "rss_allowed_mb": allowed,
        "held_max": held_max,  # -1: the emulator did not say (no /_emulator/usage)
        "within": bool(after <= allowed and held_max <= max_threads),
        "bytes_per_thread": grown * 1024 * 1024 / max_threads,
        "series": series,
    }


def threads_phase(res: Results) -> None:
    if TARGET not in res.targets:
        res.notes.append(f"threads workload skipped: {TARGET} not selected")
        return
    a = res.args
    t = res.targets[TARGET]
    inst, problems = start_checked(t, extra=["--config", _settings(a.max_threads)])
    try:
        if problems:
            res.failures.append(f"{TARGET} (threads): " + "; ".join(problems))
            return
        r = measure(inst, a.distinct_threads, a.max_threads, a.connections)
    finally:
        inst.proc.stop()
    res.add("threads", TARGET, r)
    for e in r["errors"]:
        res.failures.append(f"{TARGET} threads: {e}")
    log(
        f"  {r['distinct']} distinct threads, max_threads {r['max_threads']}: RSS idle "
        f"{r['rss_idle_mb']:.0f}, at the bound {r['rss_at_bound_mb']:.0f}, after "
        f"{r['rss_after_mb']:.0f} MiB (allowed {r['rss_allowed_mb']:.0f}); "
        f"{r['bytes_per_thread']:.0f} B per thread"
    )
