"""A real emulator process on a free loopback port, for the tests that need a socket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

CLI = str(Path(sys.executable).parent / "vivi-emulator")
# Every server and interface the emulator runs on (``serve --server``): the behavioural tests
# that need a socket run on each, so the RSGI and ASGI adapters of the core answer alike.
SERVERS = ("granian", "granian-rsgi", "uvicorn")


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``vivi-emulator ARGS`` run to its end: its exit code, stdout and stderr as text."""
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, check=False, timeout=timeout
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Running:
    process: subprocess.Popen[str]
    base_url: str
    log: Path | None = None

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def log_text(self) -> str:
        """What the server has written so far (only when started with ``log``)."""
        assert self.log is not None, "started without a log file"
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGTERM)
        try:
            out, _ = self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()  # stuck (a test found a bug): never leave it running
            out, _ = self.process.communicate()
        return self.process.returncode, out if self.log is None else self.log_text()


def start(
    *args: str,
    env: dict[str, str] | None = None,
    command: list[str] | None = None,
    cwd: str = "/",
    log: Path | None = None,
    latency: str | None = "none",
) -> Running:
    """Start the emulator (the CLI, or ``command``) on a free port; return once it is healthy.

    Its output is read when it stops; with ``log`` it goes to that file instead, readable while
    it runs (a long-running server could otherwise fill the pipe and block). Replies come at
    once (``--latency none``) unless ``latency`` says otherwise (None: serve's own default,
    realistic), so that tests that do not time replies do not wait for them.
    """
    port = free_port()
    pacing = ["--latency", latency] if latency is not None else []
    log_file = log.open("w", encoding="utf-8") if log is not None else None
    process = subprocess.Popen(
        [*(command or [CLI]), "serve", "--port", str(port), *pacing, *args],
        stdout=log_file if log_file is not None else subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    if log_file is not None:
        log_file.close()  # the child holds its own copy
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = process.communicate()[0] if log is None else log.read_text()
            raise AssertionError(f"emulator exited: {said}")
        try:
            if httpx.get(f"{base}/_emulator/health", timeout=1).status_code == 200:
                return Running(process, base, log)
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    said = process.communicate()[0] if log is None else log.read_text()
    process.wait()  # reaped: never a process left behind, nor a warning about one
    raise AssertionError(f"emulator did not start: {said}")
