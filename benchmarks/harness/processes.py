"""Processes the harness starts, and what it reads of them from /proc.

Every process is started in its own process group and killed at exit, whatever happens (normal
exit, error, Ctrl-C, SIGTERM): `install_cleanup` registers that once, in `main`.
"""

# ruff: noqa: S603  (fixed argv built by the harness, no shell)

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from .common import LOGS

CLK_TCK = os.sysconf("SC_CLK_TCK")

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
    """A started process: its own group, its output in benchmarks/.work/logs/NAME.log."""

    def __init__(self, name: str, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOGS / f"{name}.log"
        self.log_file = open(self.log_path, "ab")  # noqa: SIM115  (closed by stop())
        self.log_start = self.log_file.tell()
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

    def rss_mb(self) -> float:
        return tree_rss_mb(self.pid)

    def cpu_s(self) -> float:
        return tree_cpu_s(self.pid)

    def log_text(self) -> str:
        """What this process has written so far (this run only: the log file is appended to)."""
        with open(self.log_path, "rb") as f:
            f.seek(self.log_start)
            return f.read().decode(errors="replace")

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


def _on_signal(signum: int, _frame: object) -> None:
    stop_all()
    sys.exit(128 + signum)


def install_cleanup() -> None:
    atexit.register(stop_all)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
