"""The servers the harness measures: the emulator, the bare-Starlette floor, and the peers."""

from __future__ import annotations

import argparse
import compileall
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from .common import BENCH, BIN, REPO, SCENARIO_DIR
from .peers import prism_command, wiremock_command
from .processes import Proc
from .redis_server import RedisServer

Argv = Callable[[int], list[str]]

ALL_TARGETS = [
    "emulator-granian",
    "emulator-granian-rsgi",
    "emulator-uvicorn",
    "emulator-redis-1w",
    "emulator-redis-2w",
    "bare-granian",
    "bare-granian-log",
    "bare-uvicorn",
    "bare-granian-2w",
    "raw-rsgi",
    "raw-asgi",
    "prism",
    "wiremock",
]
REDIS_TARGETS = {"emulator-redis-1w": 1, "emulator-redis-2w": 2}  # name: workers
# Per worker, as many requests at once as the emulator's own default (`max_connections`,
# 10,000): granian's default (backlog / workers, 512 for 2 workers) would cap the floor instead
# of measuring it, and the streams-2w workload opens 5,000 streams per worker.
BARE_BACKPRESSURE = 10_000
BARE_BACKLOG = 20_000  # the emulator's for 2 workers (the kernel caps it at net.core.somaxconn)


@dataclass
class Target:
    name: str
    label: str
    argv: Argv
    kind: str  # emulator | bare | peer
    server: str  # granian | uvicorn | node | jvm
    workers: int = 1
    ready_timeout: float = 30.0
    env: dict[str, str] = field(default_factory=dict)
    scripted: bool = False  # plays the benchmark's scenarios (the delayed workloads)
    # The delayed workloads run on instances of their own, started with these extra arguments (the
    # emulator: its fixtures), so that invoke and stream run on defaults.
    delayed_args: list[str] = field(default_factory=list)
    redis: RedisServer | None = None  # started (and emptied) before each start of the target
    note: str = ""

    def start(self, port: int, extra: list[str] | None = None, suffix: str = "") -> Proc:
        """Start an instance on port; extra arguments go after the target's own."""
        if self.redis is not None:
            self.redis.ensure_started()
            self.redis.flush()
        return Proc(self.name + suffix, self.argv(port) + (extra or []), REPO, self.env)


def _emulator_argv(*args: str) -> Argv:
    def argv(port: int) -> list[str]:
        base = [str(BIN / "vivi-emulator"), "serve", "--host", "127.0.0.1", "--port", str(port)]
        return base + list(args)

    return argv


def _granian_argv(*args: str, interface: str = "asgi", app: str = "bare_app:app") -> Argv:
    def argv(port: int) -> list[str]:
        base = [str(BIN / "granian"), "--interface", interface, "--host", "127.0.0.1"]
        tail = ["--working-dir", str(BENCH), app]
        return [*base, "--port", str(port), *args, *tail]

    return argv


def _uvicorn_argv(port: int) -> list[str]:
    return [
        *(str(BIN / "uvicorn"), "--host", "127.0.0.1", "--port", str(port)),
        *("--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"),
        *("--app-dir", str(BENCH), "bare_app:app"),
    ]


def _emulator(
    server: str,
    env: dict[str, str],
    extra: list[str],
    redis: RedisServer | None = None,
    workers: int = 1,
) -> Target:
    """The emulator as a user starts it (its access log on): one in-memory worker, or one or
    two workers sharing a redis-server of the harness's own; plus --emulator-arg. Replies come
    at once (`--latency none`; serve paces them like an agent by default): the workloads measure
    the emulator's own cost, and the delayed ones script their pace."""
    args = ["--server", server, "--latency", "none"]
    name, label = f"emulator-{server}", f"emulator on {server}, one worker, in memory"
    server = server.split("-")[0]  # granian-rsgi: granian's RSGI interface
    if redis is not None:
        args += ["--workers", str(workers), "--state", redis.url()]
        name = f"emulator-redis-{workers}w"
        label = f"emulator on granian, {workers} worker{'s' if workers > 1 else ''}, Redis"
    return Target(
        name,
        label,
        _emulator_argv(*args, *extra),
        "emulator",
        server,
        workers=workers,
        env=env,
        # The delayed workload compares each emulator with its floor; Redis with one worker is
        # there for the invoke and stream ratios (issue 22) only.
        scripted=name != "emulator-redis-1w",
        delayed_args=["--fixtures", str(SCENARIO_DIR)],
        redis=redis,
    )


def _bare(name: str, label: str, argv: Argv, env: dict[str, str]) -> Target:
    server = "granian" if name.startswith("raw-") else name.split("-")[1]
    workers = 2 if name.endswith("-2w") else 1
    # The access-logging variant is there for the invoke ratio only, and the raw apps answer
    # invoke and stream only (the physical limit): no delayed streams.
    scripted = not name.endswith("-log") and not name.startswith("raw-")
    return Target(name, label, argv, "bare", server, workers=workers, env=env, scripted=scripted)


def _bare_targets(env: dict[str, str]) -> list[Target]:
    one = ["--workers", "1"]
    two = ["--workers", "2", "--backlog", str(BARE_BACKLOG)]
    two += ["--backpressure", str(BARE_BACKPRESSURE)]
    return [
        _bare(
            "bare-granian",
            "bare Starlette on granian, no access log",
            _granian_argv(*one, "--no-access-log"),
            env,
        ),
        _bare(
            "bare-granian-log",
            "bare Starlette on granian, granian's access log on",
            _granian_argv(*one, "--access-log"),
            env,
        ),
        _bare(
            "bare-uvicorn",
            "bare Starlette on uvicorn+uvloop+httptools, no access log",
            _uvicorn_argv,
            env,
        ),
        _bare(
            "bare-granian-2w",
            "bare Starlette on granian, 2 workers, no access log",
            _granian_argv(*two, "--no-access-log"),
            env,
        ),
        # The physical limit of one Python worker: the same bytes with no framework at all,
        # under granian's native interface (RSGI) and under ASGI.
        _bare(
            "raw-rsgi",
            "raw RSGI app on granian, no framework, no access log",
            _granian_argv(*one, "--no-access-log", interface="rsgi", app="raw_rsgi_app:app"),
            env,
        ),
        _bare(
            "raw-asgi",
            "raw ASGI app on granian, no framework, no access log",
            _granian_argv(*one, "--no-access-log", app="raw_asgi_app:app"),
            env,
        ),
    ]


def _peer_targets(env: dict[str, str], notes: list[str]) -> list[Target]:
    out = []
    if prism := prism_command(notes):
        argv, note = prism
        label = "Prism 5 (mock from the contract)"
        out.append(
            Target("prism", label, argv, "peer", "node", ready_timeout=60.0, env=env, note=note)
        )
    if wiremock := wiremock_command(notes):
        argv, note = wiremock
        label = "WireMock 3 standalone"
        out.append(
            Target("wiremock", label, argv, "peer", "jvm", ready_timeout=60.0, env=env, note=note)
        )
    return out


def build_targets(args: argparse.Namespace) -> tuple[dict[str, Target], list[str]]:
    notes: list[str] = []
    # Bytecode written and reused, as in every installed copy (pip compiles on install): without
    # it each start of the emulator compiled its ~90 modules again, about 0.1 s of CPU that no
    # user pays, against one small file for the bare app. compileall once, before any target.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    compileall.compile_dir(str(REPO / "emulator"), quiet=1)
    wanted = [t.strip() for t in (args.only or ",".join(ALL_TARGETS)).split(",") if t.strip()]
    unknown = set(wanted) - set(ALL_TARGETS)
    if unknown:
        sys.exit(f"unknown target(s): {', '.join(sorted(unknown))}; known: {ALL_TARGETS}")
    found = [
        _emulator(s, env, list(args.emulator_arg)) for s in ("granian", "granian-rsgi", "uvicorn")
    ]
    for name, workers in REDIS_TARGETS.items():
        if name not in wanted:
            continue
        if RedisServer.available():
            # A redis-server each: a target's FLUSHALL before it starts must not empty the other's
            # store while both run (the throughput rounds run every target at once).
            redis = RedisServer()
            found.append(_emulator("granian", env, list(args.emulator_arg), redis, workers))
        else:
            notes.append(f"{name} skipped: redis-server is not installed")
    found += _bare_targets(env)
    if args.smoke:
        notes.append(
            "--smoke: Prism and WireMock skipped (no npm install); ratios against them are n/a"
        )
    elif {"prism", "wiremock"} & set(wanted):
        found += _peer_targets(env, notes)
    return {t.name: t for t in found if t.name in wanted}, notes
