"""What rate limits cost a request: /invoke throughput with limits on (every request admitted,
so the decision and its headers are all that differs) against the same emulator without, in
memory and on Redis (one Lua step more per request), as ratios measured in one run.

    cd benchmarks && ../.venv/bin/python -m harness.limits [--seconds 5] [--rounds 3]

Each pair runs A B A B (``--rounds``); a ratio is the median of the per-round ratios. Short on
purpose: it is a spot check of one feature, not part of ``benchmarks/run``.
"""

# ruff: noqa: S603  (fixed argv built here, no shell)

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import time

import httpx

from .common import BENCH, BIN, REPO
from .processes import Proc, free_port, install_cleanup, stop_all
from .redis_server import RedisServer

# Far over what one machine sends: every request is admitted, and still decided and charged.
LIMITS = "{requests_per_minute: 1000000000, tokens_per_minute: 1000000000}"


def _start(name: str, state: str, limited: bool) -> tuple[Proc, str]:
    port = free_port()
    argv = [str(BIN / "vivi-emulator"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--latency", "none", "--no-access-log", "--no-reload", "--state", state]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if limited:
        env["VIVI_EMULATOR_RATE_LIMITS"] = LIMITS
    proc = Proc(name, argv, REPO, env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/_emulator/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{name} did not start: {proc.log_text()[-2000:]}")


def _rate(base: str, seconds: float) -> float:
    """Requests a second wrk reached on /invoke (2xx only: a refusal would not count)."""
    url = f"{base}/channelsApi/demo-channel/invoke"
    script = str(BENCH / "wrk" / "invoke.lua")
    cmd = ["wrk", "-t1", "-c16", f"-d{seconds:g}s", "-s", script, url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=True)
    total = re.search(r"(\d+) requests in ([\d.]+)s", out.stdout)
    refused = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out.stdout)
    if total is None or refused is not None:
        raise SystemExit(f"wrk: unexpected output:\n{out.stdout}{out.stderr}")
    return int(total.group(1)) / float(total.group(2))


def _pair(state: str, label: str, args: argparse.Namespace) -> str:
    plain, plain_base = _start(f"{label}-plain", state, limited=False)
    limited, limited_base = _start(f"{label}-limited", state, limited=True)
    try:
        ratios, rates = [], []
        for _ in range(args.rounds):
            a = _rate(plain_base, args.seconds)
            b = _rate(limited_base, args.seconds)
            ratios.append(b / a)
            rates.append((a, b))
    finally:
        plain.stop()
        limited.stop()
    a_med = statistics.median(a for a, _ in rates)
    b_med = statistics.median(b for _, b in rates)
    return (
        f"| {label} | {statistics.median(ratios):.2f} | {a_med:.0f} | {b_med:.0f} | "
        f"{', '.join(f'{r:.2f}' for r in ratios)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    install_cleanup()
    rows = ["| state | limited / plain (median) | plain req/s | limited req/s | per round |"]
    rows.append("|---|---|---|---|---|")
    try:
        rows.append(_pair("memory", "memory", args))
        if RedisServer.available():
            redis = RedisServer()
            redis.ensure_started()
            rows.append(_pair(redis.url(), "redis (1 worker)", args))
    finally:
        stop_all()
    print("\n".join(rows))


if __name__ == "__main__":
    main()
