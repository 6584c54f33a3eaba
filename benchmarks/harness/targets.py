"""The servers the harness measures: the emulator, the bare-Starlette floor, and the peers."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from .common import BENCH, BIN, REPO, SCENARIO_DIR
from .peers import prism_command, wiremock_command
from .processes import Proc

Argv = Callable[[int], list[str]]

ALL_TARGETS = [
    "emulator-granian",
    "emulator-uvicorn",
    "bare-granian",
    "bare-uvicorn",
    "prism",
    "wiremock",
]


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
    note: str = ""

    def start(self, port: int, extra: list[str] | None = None, suffix: str = "") -> Proc:
        """Start an instance on port; extra arguments go after the target's own."""
        return Proc(self.name + suffix, self.argv(port) + (extra or []), REPO, self.env)


def _emulator_argv(*args: str) -> Argv:
    def argv(port: int) -> list[str]:
        base = [str(BIN / "vivi-emulator"), "serve", "--host", "127.0.0.1", "--port", str(port)]
        return base + list(args)

    return argv


def _granian_argv(*args: str) -> Argv:
    def argv(port: int) -> list[str]:
        base = [str(BIN / "granian"), "--interface", "asgi", "--host", "127.0.0.1"]
        tail = ["--working-dir", str(BENCH), "bare_app:app"]
        return [*base, "--port", str(port), *args, *tail]

    return argv


def _uvicorn_argv(port: int) -> list[str]:
    return [
        *(str(BIN / "uvicorn"), "--host", "127.0.0.1", "--port", str(port)),
        *("--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"),
        *("--app-dir", str(BENCH), "bare_app:app"),
    ]


def _emulator(server: str, env: dict[str, str], extra: list[str]) -> Target:
    """The emulator as a user starts it (its access log on), plus --emulator-arg."""
    return Target(
        f"emulator-{server}",
        f"emulator on {server}",
        _emulator_argv("--server", server, *extra),
        "emulator",
        server,
        env=env,
        scripted=True,
        delayed_args=["--fixtures", str(SCENARIO_DIR)],
    )


def _bare_targets(env: dict[str, str]) -> list[Target]:
    granian = _granian_argv("--workers", "1", "--no-access-log")
    return [
        Target(
            "bare-granian",
            "bare Starlette on granian",
            granian,
            "bare",
            "granian",
            env=env,
            scripted=True,
        ),
        Target(
            "bare-uvicorn",
            "bare Starlette on uvicorn+uvloop+httptools",
            _uvicorn_argv,
            "bare",
            "uvicorn",
            env=env,
            scripted=True,
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
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    wanted = [t.strip() for t in (args.only or ",".join(ALL_TARGETS)).split(",") if t.strip()]
    unknown = set(wanted) - set(ALL_TARGETS)
    if unknown:
        sys.exit(f"unknown target(s): {', '.join(sorted(unknown))}; known: {ALL_TARGETS}")
    found = [_emulator(s, env, list(args.emulator_arg)) for s in ("granian", "uvicorn")]
    found += _bare_targets(env)
    if args.smoke:
        notes.append(
            "--smoke: Prism and WireMock skipped (no npm install); ratios against them are n/a"
        )
    elif {"prism", "wiremock"} & set(wanted):
        found += _peer_targets(env, notes)
    return {t.name: t for t in found if t.name in wanted}, notes
