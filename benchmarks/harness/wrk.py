"""Load from wrk: one run against one instance, and what it and the server did meanwhile."""

# ruff: noqa: S603  (fixed argv built by the harness, no shell)

from __future__ import annotations

import math
import re
import resource
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from .common import BENCH, INVOKE_PATH, STREAM_PATH
from .instances import Instance

SCRIPTS = {"invoke": (INVOKE_PATH, "invoke.lua"), "stream": (STREAM_PATH, "stream.lua")}


@dataclass(frozen=True)
class WrkJob:
    path: str
    script: str  # a file in benchmarks/wrk/
    duration: float  # seconds; a script may stop wrk sooner
    threads: int = 1
    connections: int = 32
    script_args: tuple[str, ...] = ()


def job(workload: str, threads: int, connections: int, duration: float) -> WrkJob:
    path, script = SCRIPTS[workload]
    return WrkJob(path, script, duration, threads, connections)


def _children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _parse(text: str) -> dict[str, Any]:
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors:(.*)", text)
    total = re.search(r"(\d+) requests in", text)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", text)
    p99_ms = None
    if p99:
        p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return {
        "requests": int(total.group(1)) if total else None,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
        "p99_ms": p99_ms,
    }


def _execute(inst: Instance, job: WrkJob) -> dict[str, Any]:
    """Run wrk: its output, the seconds it took, and the CPU (cores) of the server and of wrk."""
    url = f"http://127.0.0.1:{inst.port}{job.path}"
    cmd = ["wrk", f"-t{job.threads}", f"-c{job.connections}", f"-d{job.duration:g}s", "--latency"]
    cmd += ["-s", str(BENCH / "wrk" / job.script), url]
    if job.script_args:
        cmd += ["--", *job.script_args]
    redis = inst.target.redis
    redis0 = redis.cpu_s() if redis else 0.0
    cpu0, wrk0, wall0 = inst.proc.cpu_s(), _children_cpu_s(), time.monotonic()
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=job.duration + 30, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": "wrk timed out"}
    wall = time.monotonic() - wall0
    return {
        "stdout": out.stdout,
        "stderr": out.stderr,
        "wall": wall,
        "server_cpu": (inst.proc.cpu_s() - cpu0) / wall,
        "wrk_cpu": (_children_cpu_s() - wrk0) / wall,
        "redis_cpu": (redis.cpu_s() - redis0) / wall if redis else math.nan,
    }


def run_wrk(inst: Instance, job: WrkJob) -> dict[str, Any]:
    """Requests/s, p99 latency, non-2xx count, and the CPU (cores) of the server and of wrk."""
    ran = _execute(inst, job)
    if "error" in ran:
        return ran
    m = re.search(r"Requests/sec:\s+([\d.]+)", ran["stdout"])
    if not m:
        return {"error": f"wrk: {(ran['stderr'] or ran['stdout']).strip()[:200]}"}
    cpu = {k: ran[k] for k in ("server_cpu", "wrk_cpu", "redis_cpu")}
    return {"rps": float(m.group(1)), **_parse(ran["stdout"]), **cpu}


def run_wrk_counted(inst: Instance, job: WrkJob) -> dict[str, Any]:
    """A run whose script ends wrk after a count of responses (wrk/threads.lua): that count,
    the non-2xx among them, and requests/s over the run."""
    ran = _execute(inst, job)
    if "error" in ran:
        return ran
    m = re.search(r"threads-done (\d+) non2xx (\d+)", ran["stdout"])
    if not m:
        return {"error": f"wrk: {(ran['stderr'] or ran['stdout']).strip()[:200]}"}
    done = int(m.group(1))
    return {"requests": done, "non2xx": int(m.group(2)), "rps": done / ran["wall"]}
