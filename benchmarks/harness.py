"""The benchmark harness of vivi-emulator (issue 8). Run it through `benchmarks/run`.

Every figure it reports is a ratio measured in the same run against a reference running on the
same machine at the same time: targets are loaded in turn (A B A B ...), for several rounds, and
the medians are quoted. See benchmarks/README.md for what each number means.
"""

# ruff: noqa: S603  (it runs the servers, wrk and its own client: fixed argv, no shell)

from __future__ import annotations

import argparse
import atexit
import contextlib
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / ".work"
PEERS = BENCH / ".peers" / "node_modules"
BIN = Path(sys.executable).parent  # the project's venv: the harness runs on its python
CONTRACT = REPO / "openapi" / "vivi-channels-api.yaml"
SCENARIO_DIR = BENCH / "fixtures"  # the delayed scenario for the emulator (see README)
SCENARIO_NAME = "bench-delayed"

CHANNEL, KEY = "demo-channel", "demo-key"
INVOKE_PATH = f"/channelsApi/{CHANNEL}/invoke"
STREAM_PATH = f"/channelsApi/{CHANNEL}/stream"
BODY = '{"message": "hello", "threadId": "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"}'
DELAYED_EVENTS, DELAYED_INTERVAL = 20, 0.05  # the delayed workload: 20 events, 50 ms apart
CLK_TCK = os.sysconf("SC_CLK_TCK")

ALL_TARGETS = [
    "emulator-granian",
    "emulator-uvicorn",
    "bare-granian",
    "bare-uvicorn",
    "prism",
    "wiremock",
]
ALL_WORKLOADS = ["invoke", "stream", "startup", "delayed"]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# Processes: every one is started in its own process group and killed at exit, whatever happens.

_LIVE: list[Proc] = []


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_rss_mb(root: int) -> float:
    """VmRSS of the process and all its descendants (granian's workers), in MiB."""
    total = 0
    for pid in _descendants(root):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
    return total / 1024


def tree_cpu_s(root: int) -> float:
    """User + system CPU seconds of the process tree (live processes)."""
    total = 0
    for pid in _descendants(root):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


class Proc:
    def __init__(self, name: str, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        WORK.mkdir(parents=True, exist_ok=True)
        (WORK / "logs").mkdir(exist_ok=True)
        self.name = name
        self.log_path = WORK / "logs" / f"{name}.log"
        self.log_file = open(self.log_path, "ab")  # noqa: SIM115
        self.log_file.write(f"\n=== {' '.join(argv)}\n".encode())
        self.log_file.flush()
        self.popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.popen.pid
        _LIVE.append(self)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self in _LIVE:
            _LIVE.remove(self)
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=5)
        # the group may hold workers still, even once the main process is gone
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        self.log_file.close()


def stop_all() -> None:
    for proc in list(_LIVE):
        proc.stop()


atexit.register(stop_all)


def _on_signal(signum: int, _frame: object) -> None:
    stop_all()
    sys.exit(128 + signum)


for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------------
# HTTP probes (the functional checks and the start-up polls)


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes
    seconds: float


def post(
    port: int,
    path: str,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        t0 = time.monotonic()
        hdrs = {"Content-Type": "application/json", "vivi-api-key": KEY, "Connection": "close"}
        hdrs.update(headers or {})
        conn.request("POST", path, body=BODY.encode(), headers=hdrs)
        resp = conn.getresponse()
        body = resp.read()
        return Reply(resp.status, resp.getheader("content-type") or "", body, time.monotonic() - t0)
    finally:
        conn.close()


def wait_ready(proc: Proc, port: int, timeout: float, poll: float = 0.005) -> float | None:
    """Seconds from now until the first 2xx to an invoke POST; None if none within timeout."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if not proc.alive():
            return None
        try:
            if 200 <= post(port, INVOKE_PATH, timeout=2.0).status < 300:
                return time.monotonic() - t0
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(poll)
    return None


def data_lines(body: bytes) -> int:
    return sum(1 for line in body.split(b"\n") if line.startswith(b"data:"))


# ------------------------------------------------------------------------------------------
# Targets


@dataclass
class Target:
    name: str
    label: str
    argv: Callable[[int], list[str]]
    kind: str  # emulator | bare | peer
    server: str  # granian | uvicorn | node | jvm
    ready_timeout: float = 30.0
    env: dict[str, str] = field(default_factory=dict)
    delayed_headers: dict[str, str] | None = None  # None: no delayed-streams workload
    # The delayed workload runs on instances of its own, started with these extra arguments and
    # environment (the emulator: its fixtures), so that invoke and stream run on defaults.
    delayed_args: list[str] = field(default_factory=list)
    delayed_env: dict[str, str] = field(default_factory=dict)
    delayed_events: int = DELAYED_EVENTS  # as the probe found them
    note: str = ""

    def start(self, port: int, delayed: bool = False, suffix: str = "") -> Proc:
        argv = self.argv(port) + (self.delayed_args if delayed else [])
        env = {**self.env, **(self.delayed_env if delayed else {})}
        return Proc(self.name + suffix, argv, REPO, env)


def emulator_supports_fixtures() -> bool:
    try:
        out = subprocess.run(
            [str(BIN / "vivi-emulator"), "serve", "--help"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--fixtures" in out


def default_server() -> str:
    try:
        from vivi_emulator.settings import Settings

        return str(Settings.model_fields["server"].default)
    except Exception:  # the harness must not depend on the emulator's internals
        return "uvicorn"


def prism_spec() -> tuple[Path, str]:
    """The contract as Prism mocks it, plus a note of what was changed for Prism.

    Prism answers from examples (without one for text/event-stream it answers 500, "Cannot
    serialise complex objects as text"). So that Prism sends the same bytes as the others, the copy
    it gets carries the emulator's default 14-frame SSE body as the stream's example.
    """
    import yaml

    sys.path.insert(0, str(BENCH))
    import bare_app

    sse = b"".join(bare_app.FRAMES).decode()
    WORK.mkdir(parents=True, exist_ok=True)
    out = WORK / "prism-spec.yaml"
    spec = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    note = "the project's contract"
    try:
        media = spec["paths"]["/channelsApi/{channelId}/stream"]["post"]["responses"]["200"][
            "content"
        ]["text/event-stream"]
        media.pop("examples", None)
        media["example"] = sse
        note += ", its stream example set to the emulator's default 14-frame body"
    except (KeyError, TypeError):
        note += " (stream response not found where expected)"
    out.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return out, note


def wiremock_jar() -> Path | None:
    jars = sorted((PEERS / "wiremock").glob("**/wiremock-standalone-*.jar"))
    return jars[-1] if jars else None


def build_targets(args: argparse.Namespace) -> tuple[dict[str, Target], list[str]]:
    notes: list[str] = []
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    emu_extra = list(args.emulator_arg)
    # The emulator reads fixtures from --fixtures DIR (and VIVI_EMULATOR_FIXTURES); the probe
    # before the delayed workload checks that the scenario's delays are really played.
    delayed_args = ["--fixtures", str(SCENARIO_DIR)] if emulator_supports_fixtures() else []
    delayed_env = {"VIVI_EMULATOR_FIXTURES": str(SCENARIO_DIR)}
    targets: dict[str, Target] = {}
    for server in ("granian", "uvicorn"):
        targets[f"emulator-{server}"] = Target(
            f"emulator-{server}",
            f"emulator on {server}",
            lambda p, s=server: [
                str(BIN / "vivi-emulator"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(p),
                "--server",
                s,
                *emu_extra,
            ],
            "emulator",
            server,
            env=env,
            delayed_headers={"x-vivi-scenario": SCENARIO_NAME},
            delayed_args=delayed_args,
            delayed_env=delayed_env,
        )
    bare_headers = {"x-vivi-scenario": SCENARIO_NAME}
    targets["bare-granian"] = Target(
        "bare-granian",
        "bare Starlette on granian",
        lambda p: [
            str(BIN / "granian"),
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(p),
            "--workers",
            "1",
            "--no-access-log",
            "--working-dir",
            str(BENCH),
            "bare_app:app",
        ],
        "bare",
        "granian",
        env=env,
        delayed_headers=bare_headers,
    )
    targets["bare-uvicorn"] = Target(
        "bare-uvicorn",
        "bare Starlette on uvicorn+uvloop+httptools",
        lambda p: [
            str(BIN / "uvicorn"),
            "--host",
            "127.0.0.1",
            "--port",
            str(p),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
            "--app-dir",
            str(BENCH),
            "bare_app:app",
        ],
        "bare",
        "uvicorn",
        env=env,
        delayed_headers=bare_headers,
    )
    if not args.smoke:
        prism = PEERS / ".bin" / "prism"
        if prism.exists() and shutil.which("node"):
            spec, note = prism_spec()
            targets["prism"] = Target(
                "prism",
                "Prism 5 (mock from the contract)",
                lambda p: [str(prism), "mock", "-h", "127.0.0.1", "-p", str(p), str(spec)],
                "peer",
                "node",
                ready_timeout=60.0,
                env=env,
                note=note,
            )
        else:
            notes.append("Prism skipped: benchmarks/.peers has no @stoplight/prism-cli, or no node")
        jar = wiremock_jar()
        if jar and shutil.which("java"):
            targets["wiremock"] = Target(
                "wiremock",
                "WireMock 3 standalone",
                lambda p: [
                    "java",
                    "-jar",
                    str(jar),
                    "--port",
                    str(p),
                    "--bind-address",
                    "127.0.0.1",
                    "--root-dir",
                    str(BENCH / "wiremock"),
                    "--disable-banner",
                    "--no-request-journal",
                    "--disable-request-logging",
                ],
                "peer",
                "jvm",
                ready_timeout=60.0,
                env=env,
                note=jar.name,
            )
        else:
            notes.append("WireMock skipped: benchmarks/.peers has no wiremock jar, or no java")
    else:
        notes.append(
            "--smoke: Prism and WireMock skipped (no npm install); ratios against them are n/a"
        )
    if args.only:
        wanted = [t.strip() for t in args.only.split(",") if t.strip()]
        unknown = set(wanted) - set(ALL_TARGETS)
        if unknown:
            sys.exit(f"unknown target(s): {', '.join(sorted(unknown))}; known: {ALL_TARGETS}")
        targets = {k: v for k, v in targets.items() if k in wanted}
    return targets, notes


# ------------------------------------------------------------------------------------------
# Workloads


def run_wrk(
    port: int, path: str, lua: str, args: argparse.Namespace, duration: float, proc: Proc
) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}{path}"
    cmd = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{duration:g}s",
        "--latency",
        "-s",
        str(BENCH / "wrk" / lua),
        url,
    ]
    cpu0, wall0 = tree_cpu_s(proc.pid), time.monotonic()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=duration + 30, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": "wrk timed out"}
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.monotonic() - wall0
    server_cpu = (tree_cpu_s(proc.pid) - cpu0) / wall
    wrk_cpu = ((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)) / wall
    text = out.stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not m:
        return {"error": f"wrk: {(out.stderr or text).strip()[:200]}"}
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors:(.*)", text)
    total = re.search(r"(\d+) requests in", text)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
    p99_ms = None
    if p99:
        p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return {
        "rps": float(m.group(1)),
        "requests": int(total.group(1)) if total else None,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
        "p99_ms": p99_ms,
        "server_cpu": server_cpu,
        "wrk_cpu": wrk_cpu,
    }


def functional_check(t: Target, port: int) -> list[str]:
    """Problems with the target's answers; each target must answer like the emulator."""
    problems = []
    try:
        r = post(port, INVOKE_PATH)
        if r.status != 200 or b'"message"' not in r.body:
            problems.append(f"invoke: status {r.status}, body {r.body[:120]!r}")
        s = post(port, STREAM_PATH, {"Accept": "text/event-stream"})
        if s.status != 200 or data_lines(s.body) < 3:
            problems.append(f"stream: status {s.status}, body {s.body[:120]!r}")
        t.note = (t.note + "; " if t.note else "") + (
            f"invoke {len(r.body)} B; stream {data_lines(s.body)} events, {len(s.body)} B"
        )
        bad = post(port, INVOKE_PATH, {"vivi-api-key": "wrong-key"})
        if bad.status == 200 and t.kind == "emulator":
            problems.append("invoke with a wrong key answered 200")
    except (OSError, http.client.HTTPException) as exc:
        problems.append(f"no answer: {exc}")
    return problems


def delayed_probe(t: Target, port: int) -> str | None:
    """None if the target plays the delayed scenario (>=2 events, spaced); else why not."""
    assert t.delayed_headers is not None
    try:
        r = post(
            port, STREAM_PATH, {"Accept": "text/event-stream", **t.delayed_headers}, timeout=15
        )
    except (OSError, http.client.HTTPException) as exc:
        return f"no answer: {exc}"
    n = data_lines(r.body)
    if r.status != 200 or n < 2:
        return f"status {r.status}, {n} events"
    t.delayed_events = n
    if r.seconds < (n - 1) * DELAYED_INTERVAL * 0.8:
        return (
            f"the scenario's delays were not played ({n} events in {r.seconds * 1000:.0f} ms;"
            f" is the scenario {SCENARIO_NAME!r} loaded?)"
        )
    return None


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def run_delayed(t: Target, port: int, proc: Proc, args: argparse.Namespace) -> dict[str, Any]:
    """N streams at once, each 20 events 50 ms apart; lateness of every event vs its schedule."""
    assert t.delayed_headers is not None
    n_procs = max(1, min(args.client_procs, args.streams))
    start_at = time.monotonic() + 0.6  # let every client process start before the first open
    outs, clients = [], []
    headers = [f"vivi-api-key: {KEY}", "Accept: text/event-stream"]
    headers += [f"{k}: {v}" for k, v in t.delayed_headers.items()]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    timeout = 30.0
    for i in range(n_procs):
        share = args.streams // n_procs + (1 if i < args.streams % n_procs else 0)
        out = Path(tempfile.mkstemp(prefix="sse-", suffix=".json", dir=WORK)[1])
        outs.append(out)
        cmd = [
            sys.executable,
            str(BENCH / "sse_load.py"),
            "--port",
            str(port),
            "--path",
            STREAM_PATH,
            "--streams",
            str(share),
            "--body",
            BODY,
            "--ramp",
            str(args.ramp),
            "--timeout",
            str(timeout),
            "--start-at",
            str(start_at),
            "--out",
            str(out),
        ]
        for h in headers:
            cmd += ["--header", h]
        clients.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL))
    # sample the server while the streams are open
    rss_peak, samples = 0.0, 0
    cpu0 = tree_cpu_s(proc.pid)
    deadline = start_at + args.ramp + timeout + 15
    while any(c.poll() is None for c in clients) and time.monotonic() < deadline:
        if time.monotonic() >= start_at:
            rss_peak = max(rss_peak, tree_rss_mb(proc.pid))
            samples += 1
        time.sleep(0.05)
    for c in clients:
        if c.poll() is None:
            c.kill()
        c.wait(timeout=10)
    wall = time.monotonic() - start_at
    server_cpu = (tree_cpu_s(proc.pid) - cpu0) / max(wall, 1e-9)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu_s = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    streams, lag99, connect_errors, client_wall = [], 0.0, 0, 0.0
    for out in outs:
        try:
            data = json.loads(out.read_text())
        except (OSError, ValueError):
            data = {"streams": [], "loop_lag_p99": float("nan"), "connect_errors": 0, "wall": 0}
        finally:
            out.unlink(missing_ok=True)
        streams += data["streams"]
        lag99 = max(lag99, data["loop_lag_p99"])
        connect_errors += data["connect_errors"]
        client_wall = max(client_wall, data["wall"])
    lateness: list[float] = []
    by_k: dict[int, list[float]] = {}  # lateness per event index: drift shows as growth with k
    complete = 0
    counts = set()
    opens_closes: list[tuple[float, int]] = []
    first_waits: list[float] = []  # connect to first event: how long the server took to start it
    for ok, _status, open_t, close_t, events in streams:
        counts.add(len(events))
        if ok and len(events) == t.delayed_events:
            complete += 1
        if events:
            t0 = events[0]
            first_waits.append(t0 - open_t)
            for k, ts in enumerate(events[1:], start=1):
                late = (ts - t0) - k * DELAYED_INTERVAL
                lateness.append(late)
                by_k.setdefault(k, []).append(late)
            opens_closes += [(t0, 1), (close_t or events[-1], -1)]
    opens_closes.sort()
    peak = level = 0
    for _, step in opens_closes:
        level += step
        peak = max(peak, level)
    return {
        "streams": args.streams,
        "complete": complete,
        "event_counts": sorted(counts),
        "connect_errors": connect_errors,
        "p50_ms": percentile(lateness, 0.5) * 1000,
        "p99_ms": percentile(lateness, 0.99) * 1000,
        "max_ms": max(lateness) * 1000 if lateness else float("nan"),
        "min_ms": min(lateness) * 1000 if lateness else float("nan"),
        "p50_first_ms": percentile(by_k.get(1, []), 0.5) * 1000,
        "p50_last_ms": percentile(by_k.get(max(by_k, default=1), []), 0.5) * 1000,
        "peak_open": peak,
        "first_event_p99_ms": percentile(first_waits, 0.99) * 1000,
        "rss_peak_mb": rss_peak,
        "server_cpu": server_cpu,
        "client_cpu": client_cpu_s / max(client_wall, 1e-9),
        "client_lag_p99_ms": lag99 * 1000,
    }


def measure_startup(t: Target) -> dict[str, Any]:
    port = free_port()
    t0 = time.monotonic()
    proc = t.start(port, suffix="-startup")
    try:
        ready = wait_ready(proc, port, t.ready_timeout)
        if ready is None:
            return {"error": f"no 2xx within {t.ready_timeout:.0f} s (log: {proc.log_path})"}
        startup = time.monotonic() - t0
        with contextlib.suppress(OSError, http.client.HTTPException):
            post(port, STREAM_PATH, {"Accept": "text/event-stream"})
        time.sleep(0.5)
        return {"startup_s": startup, "rss_idle_mb": tree_rss_mb(proc.pid)}
    finally:
        proc.stop()


# ------------------------------------------------------------------------------------------
# The run


def median(xs: list[float]) -> float:
    xs = [x for x in xs if x == x]  # drop NaN
    return statistics.median(xs) if xs else float("nan")


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


LOAD_AT_START = loadavg()  # other work on the machine shows here: the ratios are what to trust


def machine_description() -> dict[str, str]:
    def cmd(argv: list[str]) -> str:
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
            return (p.stdout + p.stderr).strip().splitlines()[0] if (p.stdout + p.stderr) else ""
        except (OSError, subprocess.TimeoutExpired):
            return "not found"

    cpu, mem = "", ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f"{kb / 1024 / 1024:.1f} GiB"

    def ver(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "not installed"

    def npm_ver(pkg: str) -> str:
        try:
            return str(json.loads((PEERS / pkg / "package.json").read_text())["version"])
        except (OSError, ValueError, KeyError):
            return "not installed"

    commit = cmd(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = cmd(["git", "-C", str(REPO), "status", "--porcelain", "--", "emulator", "fixtures"])
    if dirty and dirty != "not found":
        commit += ", with uncommitted changes in emulator/ or fixtures/"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load average (1 min) at start / end": f"{LOAD_AT_START} / {loadavg()}",
        "cpus (nproc)": str(os.cpu_count()),
        "cpu model": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "vivi-emulator": f"{ver('vivi-emulator')} (commit {commit})",
        "granian": ver("granian"),
        "uvicorn": ver("uvicorn"),
        "uvloop / httptools": f"{ver('uvloop')} / {ver('httptools')}",
        "starlette / fastapi": f"{ver('starlette')} / {ver('fastapi')}",
        "wrk": cmd(["wrk", "-v"]).split(" [")[0],
        "java": cmd(["java", "-version"]),
        "node": cmd(["node", "--version"]),
        "prism": npm_ver("@stoplight/prism-cli"),
        "wiremock": npm_ver("wiremock"),
    }


@dataclass
class Results:
    args: argparse.Namespace
    targets: dict[str, Target]
    notes: list[str]
    failures: list[str] = field(default_factory=list)
    # workload -> target -> list of per-round dicts
    runs: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)

    def add(self, workload: str, target: str, value: dict[str, Any]) -> None:
        self.runs.setdefault(workload, {}).setdefault(target, []).append(value)

    def series(self, workload: str, target: str, key: str) -> list[float]:
        return [r.get(key, float("nan")) for r in self.runs.get(workload, {}).get(target, [])]

    def med(self, workload: str, target: str, key: str) -> float:
        return median(self.series(workload, target, key))

    def paired_ratio(self, workload: str, a: str, b: str, key: str) -> tuple[float, list[float]]:
        """Median of the per-round ratios a/b (each round's A and B ran back to back)."""
        xa, xb = self.series(workload, a, key), self.series(workload, b, key)
        ratios = [x / y for x, y in zip(xa, xb, strict=False) if y and x == x and y == y]
        return median(ratios), ratios


def start_targets(
    res: Results, names: list[str], delayed: bool = False
) -> dict[str, tuple[Proc, int]]:
    """Start the targets, wait for each to answer, check its answers; failures are recorded."""
    procs: dict[str, tuple[Proc, int]] = {}
    for name in names:
        t = res.targets[name]
        port = free_port()
        proc = t.start(port, delayed, "-delayed" if delayed else "")
        procs[name] = (proc, port)  # registered first: stopped by the caller whatever happens
        log(f"  starting {name}{' (delayed scenario)' if delayed else ''} on :{port}")
        problems = []
        if wait_ready(proc, port, t.ready_timeout) is None:
            problems.append(f"no 2xx within {t.ready_timeout:.0f} s (log: {proc.log_path})")
        elif not delayed:
            problems = functional_check(t, port)
        elif why := delayed_probe(t, port):
            problems.append(why)
        if problems:
            del procs[name]
            proc.stop()
            if delayed and t.kind == "emulator":
                res.notes.append(f"{name}: delayed streams not measured: {'; '.join(problems)}")
                todo = (
                    "TODO(issue 3): adapt benchmarks/fixtures/bench-delayed.yaml to the fixture "
                    "format so that the emulator plays the delayed scenario."
                )
                if todo not in res.notes:
                    res.notes.append(todo)
            else:
                res.failures.append(f"{name}: " + "; ".join(problems))
    return procs


def throughput_phase(res: Results, args: argparse.Namespace) -> None:
    workloads = [w for w in ("invoke", "stream") if w in args.workloads]
    if not workloads:
        return
    procs: dict[str, tuple[Proc, int]] = {}
    try:
        procs = start_targets(res, list(res.targets))
        lua = {"invoke": ("invoke.lua", INVOKE_PATH), "stream": ("stream.lua", STREAM_PATH)}
        for w in workloads:  # warm-up, unmeasured: JITs (WireMock, Prism), caches, lazy imports
            for name, (proc, port) in procs.items():
                prev, i = 0.0, 0
                while i < args.warmup_runs:
                    i += 1  # until two runs agree within 10 %
                    rps = run_wrk(port, lua[w][1], lua[w][0], args, args.warmup, proc).get("rps", 0)
                    if prev and abs(rps - prev) <= 0.1 * prev:
                        break
                    prev = rps
                log(f"  warm-up {w:7} {name:17} {i} run(s) of {args.warmup:g} s, last {rps:.0f} /s")
        for rnd in range(1, args.rounds + 1):
            for w in workloads:
                for name, (proc, port) in procs.items():
                    r = run_wrk(port, lua[w][1], lua[w][0], args, args.duration, proc)
                    r["round"] = rnd
                    res.add(w, name, r)
                    if "error" in r:
                        res.failures.append(f"{name} {w} round {rnd}: {r['error']}")
                        log(f"  round {rnd} {w:7} {name:17} ERROR {r['error']}")
                    else:
                        log(
                            f"  round {rnd} {w:7} {name:17} {r['rps']:9.0f} /s  server CPU "
                            f"{r['server_cpu']:.2f}  non-2xx {r['non2xx']}"
                        )
                        if r["non2xx"]:
                            res.failures.append(f"{name} {w} round {rnd}: {r['non2xx']} non-2xx")
    finally:
        for proc, _ in procs.values():
            proc.stop()


def delayed_phase(res: Results, args: argparse.Namespace) -> None:
    if "delayed" not in args.workloads:
        return
    names = [n for n, t in res.targets.items() if t.delayed_headers is not None]
    procs: dict[str, tuple[Proc, int]] = {}
    try:
        procs = start_targets(res, names, delayed=True)
        for rnd in range(1, args.rounds + 1):
            for name, (proc, port) in procs.items():
                r = run_delayed(res.targets[name], port, proc, args)
                r["round"] = rnd
                res.add("delayed", name, r)
                log(
                    f"  round {rnd} delayed {name:17} {r['complete']}/{r['streams']} complete, "
                    f"lateness p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms, peak open "
                    f"{r['peak_open']}, RSS {r['rss_peak_mb']:.0f} MiB, client CPU "
                    f"{r['client_cpu']:.2f}"
                )
    finally:
        for proc, _ in procs.values():
            proc.stop()


def startup_phase(res: Results, args: argparse.Namespace) -> None:
    if "startup" not in args.workloads:
        return
    for i in range(args.startup_samples):
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


# ------------------------------------------------------------------------------------------
# Report


def fmt(x: float, digits: int = 2) -> str:
    return "n/a" if x != x else f"{x:,.{digits}f}"


def summary_rows(res: Results) -> list[list[str]]:
    """(figure, measured, target, met) rows: every one a ratio or a same-run comparison."""
    rows: list[list[str]] = []
    have = {w: set(res.runs.get(w, {})) for w in ALL_WORKLOADS}
    dflt = default_server()

    def met(ok: bool | None) -> str:
        return "n/a" if ok is None else ("met" if ok else "NOT MET")

    for w, floor in (("invoke", 0.75), ("stream", 0.6)):
        unit = "req/s" if w == "invoke" else "responses/s"
        for server in ("granian", "uvicorn"):
            emu, bare = f"emulator-{server}", f"bare-{server}"
            if emu in have[w] and bare in have[w]:
                r, rs = res.paired_ratio(w, emu, bare, "rps")
                rows.append(
                    [
                        f"{w}: emulator / bare Starlette, both on {server}",
                        f"{fmt(r)} ({fmt(res.med(w, emu, 'rps'), 0)} vs "
                        f"{fmt(res.med(w, bare, 'rps'), 0)} {unit}; rounds "
                        f"{', '.join(fmt(x) for x in rs)})",
                        f"≥ {floor}",
                        met(r >= floor if r == r else None),
                    ]
                )
        for peer, goal in (("prism", 4.0 if w == "invoke" else None), ("wiremock", None)):
            for server in ("granian", "uvicorn"):
                emu = f"emulator-{server}"
                if emu not in have[w]:
                    continue
                if peer not in res.targets:
                    continue  # not selected, or not installed (see the notes)
                if peer not in have[w]:
                    rows.append(
                        [
                            f"{w}: emulator on {server} / {peer}",
                            "n/a (not run)",
                            f"≥ {goal:g}x" if goal and server == dflt else "—",
                            "n/a",
                        ]
                    )
                    continue
                r, _ = res.paired_ratio(w, emu, peer, "rps")
                applies = goal is not None and server == dflt
                rows.append(
                    [
                        f"{w}: emulator on {server} / {peer}",
                        f"{fmt(r)}x ({fmt(res.med(w, emu, 'rps'), 0)} vs "
                        f"{fmt(res.med(w, peer, 'rps'), 0)} {unit})",
                        f"≥ {goal:g}x (default server)" if applies else "—",
                        met(r >= goal) if applies and goal and r == r else "—",
                    ]
                )
    if have["startup"]:
        for server in ("granian", "uvicorn"):
            emu = f"emulator-{server}"
            if emu not in have["startup"]:
                continue
            s = res.med("startup", emu, "startup_s")
            rows.append(
                [
                    f"start-up to first answer: emulator on {server}",
                    f"{fmt(s, 3)} s",
                    "< 0.5 s",
                    met(s < 0.5 if s == s else None),
                ]
            )
            for ref in (f"bare-{server}", "prism", "wiremock"):
                if ref not in have["startup"]:
                    if ref in res.targets:
                        rows.append(
                            [
                                f"start-up: emulator on {server} / {ref}",
                                "n/a (not run)",
                                "< 1 (faster)",
                                "n/a",
                            ]
                        )
                    continue
                r, _ = res.paired_ratio("startup", emu, ref, "startup_s")
                is_peer = ref in ("prism", "wiremock")
                rows.append(
                    [
                        f"start-up: emulator on {server} / {ref}",
                        f"{fmt(r)} ({fmt(s, 3)} s vs "
                        f"{fmt(res.med('startup', ref, 'startup_s'), 3)} s)",
                        "< 1 (faster)" if is_peer else "—",
                        met(r < 1) if is_peer and r == r else "—",
                    ]
                )
    if "delayed" in res.args.workloads:
        for server in ("granian", "uvicorn"):
            emu, bare = f"emulator-{server}", f"bare-{server}"
            if emu in res.targets and emu not in have["delayed"]:
                rows.append(
                    [
                        f"{res.args.streams} delayed streams, emulator on {server}",
                        "not measured (see the notes)",
                        "all complete, p99 < 20 ms, RSS < 250 MB",
                        "n/a",
                    ]
                )
            for name in (emu, bare):
                if name not in have["delayed"]:
                    continue
                runs = res.runs["delayed"][name]
                n = runs[0]["streams"]
                complete = min(r["complete"] for r in runs)
                p50 = res.med("delayed", name, "p50_ms")
                p99 = res.med("delayed", name, "p99_ms")
                rss = res.med("delayed", name, "rss_peak_mb")
                is_emu = name == emu
                who = f"emulator on {server}" if is_emu else f"bare Starlette on {server}"
                rows.append(
                    [
                        f"{n} delayed streams, {who}: all complete",
                        f"{complete}/{n} (worst round), peak open "
                        f"{min(r['peak_open'] for r in runs)}",
                        "all" if is_emu else "—",
                        met(complete == n) if is_emu else "—",
                    ]
                )
                rows.append(
                    [
                        f"{n} delayed streams, {who}: lateness p50 / p99",
                        f"{fmt(p50, 1)} / {fmt(p99, 1)} ms (p50 at event 1 "
                        f"{fmt(res.med('delayed', name, 'p50_first_ms'), 1)}, at the last "
                        f"{fmt(res.med('delayed', name, 'p50_last_ms'), 1)}; client CPU "
                        f"{fmt(res.med('delayed', name, 'client_cpu'))}, loop lag p99 "
                        f"{fmt(res.med('delayed', name, 'client_lag_p99_ms'), 1)} ms)",
                        "p99 < 20 ms" if is_emu else "—",
                        met(p99 < 20) if is_emu and p99 == p99 else "—",
                    ]
                )
                rows.append(
                    [
                        f"{n} delayed streams, {who}: peak RSS",
                        f"{fmt(rss, 0)} MiB",
                        "< 250 MB" if is_emu else "—",
                        met(rss < 250) if is_emu and rss == rss else "—",
                    ]
                )
            if emu in have["delayed"] and bare in have["delayed"]:
                r, _ = res.paired_ratio("delayed", emu, bare, "rss_peak_mb")
                rows.append(
                    [
                        f"{res.args.streams} delayed streams: RSS emulator / bare, {server}",
                        fmt(r),
                        "—",
                        "—",
                    ]
                )
    if have["startup"]:
        for name in res.targets:
            if name in have["startup"]:
                rss = res.med("startup", name, "rss_idle_mb")
                row = [f"idle RSS: {name}", f"{fmt(rss, 0)} MiB", "—", "—"]
                if name.startswith("emulator-"):
                    bare = name.replace("emulator-", "bare-")
                    if bare in have["startup"]:
                        r, _ = res.paired_ratio("startup", name, bare, "rss_idle_mb")
                        row[1] += f" ({fmt(r)}x bare)"
                rows.append(row)
    return rows


def md_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def detail_tables(res: Results) -> str:
    parts = []
    for w, key, unit in (("invoke", "rps", "req/s"), ("stream", "rps", "responses/s")):
        if w not in res.runs:
            continue
        rows = []
        for name, runs in res.runs[w].items():
            rows.append(
                [
                    name,
                    fmt(res.med(w, name, key), 0),
                    ", ".join(fmt(r.get(key, float("nan")), 0) for r in runs),
                    fmt(res.med(w, name, "p99_ms"), 1),
                    fmt(res.med(w, name, "server_cpu")),
                    fmt(res.med(w, name, "wrk_cpu")),
                    str(sum(r.get("non2xx", 0) for r in runs)),
                ]
            )
        parts.append(
            f"### {w} ({unit}; wrk -t{res.args.threads} -c{res.args.connections} "
            f"-d{res.args.duration:g}s)\n\n"
            + md_table(
                [
                    "target",
                    "median",
                    "rounds",
                    "p99 latency ms",
                    "server CPU (cores)",
                    "wrk CPU (cores)",
                    "non-2xx",
                ],
                rows,
            )
        )
    if "startup" in res.runs:
        rows = [
            [
                name,
                fmt(res.med("startup", name, "startup_s"), 3),
                ", ".join(fmt(r.get("startup_s", float("nan")), 3) for r in runs),
                fmt(res.med("startup", name, "rss_idle_mb"), 0),
            ]
            for name, runs in res.runs["startup"].items()
        ]
        parts.append(
            "### start-up and idle memory\n\n"
            + md_table(
                ["target", "start-up s (median)", "samples", "idle RSS MiB (with children)"], rows
            )
        )
    if "delayed" in res.runs:
        rows = []
        for name, runs in res.runs["delayed"].items():
            for r in runs:
                rows.append(
                    [
                        name,
                        str(r["round"]),
                        f"{r['complete']}/{r['streams']}",
                        fmt(r["p50_ms"], 1),
                        fmt(r["p99_ms"], 1),
                        fmt(r["max_ms"], 1),
                        fmt(r["min_ms"], 1),
                        f"{fmt(r['p50_first_ms'], 1)} / {fmt(r['p50_last_ms'], 1)}",
                        str(r["peak_open"]),
                        fmt(r["first_event_p99_ms"], 0),
                        fmt(r["rss_peak_mb"], 0),
                        fmt(r["server_cpu"]),
                        fmt(r["client_cpu"]),
                        fmt(r["client_lag_p99_ms"], 1),
                    ]
                )
        parts.append(
            f"### delayed streams ({res.args.streams} streams, {DELAYED_EVENTS} events "
            f"{DELAYED_INTERVAL * 1000:.0f} ms apart, opened over {res.args.ramp:g} s, "
            f"{res.args.client_procs} client process(es))\n\n"
            + md_table(
                [
                    "target",
                    "round",
                    "complete",
                    "p50 ms",
                    "p99 ms",
                    "max ms",
                    "min ms",
                    "p50 event 1 / last ms",
                    "peak open",
                    "first event p99 ms",
                    "peak RSS MiB",
                    "server CPU",
                    "client CPU",
                    "client loop lag p99 ms",
                ],
                rows,
            )
        )

    def command(t: Target) -> str:
        argv = " ".join(t.argv(0)).replace(str(REPO) + "/", "").replace(" 0 ", " P ")
        extra = " ".join(t.delayed_args).replace(str(REPO) + "/", "")
        return f"`{argv}`" + (f" (delayed: + `{extra}`)" if extra else "")

    tnotes = [[name, t.label, command(t), t.note] for name, t in res.targets.items()]
    parts.append("### targets\n\n" + md_table(["target", "what", "command", "notes"], tnotes))
    return "\n\n".join(parts)


def report(res: Results, machine: dict[str, str], elapsed: float) -> str:
    a = res.args
    lines = [
        "# vivi-emulator benchmark results",
        "",
        f"Written by `benchmarks/run{' --smoke' if a.smoke else ''}` on {machine['date']} in "
        f"{elapsed / 60:.1f} min: {a.rounds} round(s), targets in turn (A B A B), medians. "
        "Absolute figures move from run to run on this shared machine; the ratios are the result.",
        "",
        "## Summary",
        "",
        md_table(["figure", "measured (median)", "target", "met?"], summary_rows(res)),
        "",
    ]
    if res.notes or res.failures:
        lines += ["## Notes", ""] + [f"- {n}" for n in res.notes]
        lines += [f"- FAILURE: {f}" for f in res.failures] + [""]
    lines += [
        "## Details",
        "",
        detail_tables(res),
        "",
        "## Machine",
        "",
        md_table(["", ""], [[k, v] for k, v in machine.items()]),
        "",
    ]
    return "\n".join(lines)


def print_summary(res: Results) -> None:
    rows = summary_rows(res)
    widths = [
        max(len(r[i]) for r in [["figure", "measured", "target", "met?"], *rows]) for i in range(4)
    ]
    widths[1] = min(widths[1], 70)

    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(widths[i]) for i, c in enumerate(r))

    print()
    print(line(["figure", "measured", "target", "met?"]))
    print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))
    for n in res.notes:
        print(f"note: {n}")
    for f in res.failures:
        print(f"FAILURE: {f}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks/run", description=__doc__.splitlines()[0])
    p.add_argument(
        "--smoke",
        action="store_true",
        help="seconds-long run: 1 round, 1 s per wrk run, 50 delayed streams, no peers;"
        " writes no results.md",
    )
    p.add_argument("--rounds", type=int)
    p.add_argument("--duration", type=float, help="seconds per wrk run (default 8; smoke 1)")
    p.add_argument("--warmup", type=float, help="seconds of unmeasured load per target first")
    p.add_argument(
        "--warmup-runs",
        type=int,
        help="at most this many warm-up runs per target and workload, stopping when two "
        "agree within 10%% (default 10; smoke 1)",
    )
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--streams", type=int, help="delayed streams at once (default 1000; smoke 50)")
    p.add_argument(
        "--ramp",
        type=float,
        default=0.5,
        help="seconds over which the delayed streams are opened (default 0.5)",
    )
    p.add_argument(
        "--client-procs",
        type=int,
        default=1,
        help="processes of the delayed-streams client (default 1)",
    )
    p.add_argument("--startup-samples", type=int, help="start-ups per target (default 5; smoke 1)")
    p.add_argument("--only", help=f"comma-separated targets: {','.join(ALL_TARGETS)}")
    p.add_argument(
        "--workloads",
        default=",".join(ALL_WORKLOADS),
        help=f"comma-separated: {','.join(ALL_WORKLOADS)}",
    )
    p.add_argument(
        "--emulator-arg",
        action="append",
        default=[],
        help="extra argument for `vivi-emulator serve` (repeatable)",
    )
    p.add_argument(
        "--out",
        help="where to write the report (default benchmarks/results.md on "
        "full runs; none with --smoke)",
    )
    p.add_argument("--strict", action="store_true", help="exit 3 if any target is not met")
    a = p.parse_args(argv)
    a.workloads = [w.strip() for w in a.workloads.split(",") if w.strip()]
    if set(a.workloads) - set(ALL_WORKLOADS):
        p.error(f"unknown workload(s); known: {ALL_WORKLOADS}")
    smoke = a.smoke
    a.rounds = a.rounds or (1 if smoke else 3)
    a.duration = a.duration or (1.0 if smoke else 8.0)
    a.warmup = a.warmup if a.warmup is not None else (0.5 if smoke else 2.0)
    a.warmup_runs = a.warmup_runs or (1 if smoke else 10)
    a.streams = a.streams or (50 if smoke else 1000)
    a.startup_samples = a.startup_samples or (1 if smoke else 5)
    if a.out is None and not smoke:
        a.out = str(BENCH / "results.md")
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not shutil.which("wrk") and ({"invoke", "stream"} & set(args.workloads)):
        sys.exit("wrk is not installed (benchmarks/run installs it: apt-get install -y wrk)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    started = time.monotonic()
    targets, notes = build_targets(args)
    res = Results(args, targets, notes)
    log(
        f"targets: {', '.join(targets)}; workloads: {', '.join(args.workloads)}; "
        f"{args.rounds} round(s)"
    )
    log("start-up and idle memory:")
    startup_phase(res, args)
    log("throughput (wrk):")
    throughput_phase(res, args)
    log("delayed streams:")
    delayed_phase(res, args)
    elapsed = time.monotonic() - started
    print_summary(res)
    if args.out:
        text = report(res, machine_description(), elapsed)
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"\nwrote {args.out}")
    print(
        f"\n{elapsed:.0f} s in all"
        + (" (smoke run: no peers, nothing written)" if args.smoke and not args.out else "")
    )
    if res.failures:
        return 1
    if args.strict and any(r[3] == "NOT MET" for r in summary_rows(res)):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
