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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Running:
    process: subprocess.Popen[str]
    base_url: str

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=15)
        return self.process.returncode, out


def start(
    *args: str,
    env: dict[str, str] | None = None,
    command: list[str] | None = None,
    cwd: str = "/",
) -> Running:
    """Start the emulator (the CLI, or ``command``) on a free port; return once it is healthy."""
    port = free_port()
    process = subprocess.Popen(
        [*(command or [CLI]), "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"emulator exited: {process.communicate()[0]}")
        try:
            if httpx.get(f"{base}/_emulator/health", timeout=1).status_code == 200:
                return Running(process, base)
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError(f"emulator did not start: {process.communicate()[0]}")
