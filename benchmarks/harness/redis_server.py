"""A redis-server of the harness's own, for the emulator's shared state (target emulator-redis-2w).

It listens on a free loopback port with persistence off (no RDB snapshots, no AOF: nothing is
written to disk), starts when the first target that needs it starts, is emptied (FLUSHALL) before
each such start so that every instance begins with the same empty store, and is stopped with every
other process at exit.
"""

from __future__ import annotations

import shutil
import socket
import time

from .common import REPO
from .processes import Proc, free_port


class RedisServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc: Proc | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def command(self, *words: str) -> bytes:
        """Send one command (a RESP array) and return its reply as read (one recv: short ones)."""
        req = f"*{len(words)}\r\n".encode()
        for w in words:
            req += f"${len(w.encode())}\r\n{w}\r\n".encode()
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(req)
            return s.recv(65536)

    def ensure_started(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.alive():
            return
        argv = [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ]
        self.proc = Proc("redis-server", argv, REPO, {})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.command("PING").startswith(b"+PONG"):
                    return
            except OSError:
                pass
            if not self.proc.alive():
                break
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not answer PING (log: {self.proc.log_path})")

    def flush(self) -> None:
        reply = self.command("FLUSHALL")
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"redis-server FLUSHALL: {reply!r}")

    def cpu_s(self) -> float:
        """redis-server's CPU seconds (it is not in the emulator's process tree)."""
        return self.proc.cpu_s() if self.proc is not None and self.proc.alive() else 0.0
