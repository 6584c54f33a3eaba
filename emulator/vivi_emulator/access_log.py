"""One log line per request: method, path, channel, status, duration. Never a header, so never
the API key, and never the body."""

from __future__ import annotations

import logging
import os
import threading
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vivi_emulator.errors import printable
from vivi_emulator.paths import channel_of_path

log = logging.getLogger("vivi_emulator.access")


class LogFormatter(logging.Formatter):
    """The emulator's log format, with the timestamp text made once per second.

    ``logging.Formatter.formatTime`` calls ``time.strftime`` for every record, which was the
    larger part of an access line's cost under load.
    """

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._second = -1
        self._prefix = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._prefix},{int(record.msecs):03d}"


class BatchingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes lines in batches: every ``interval`` seconds, and at once
    for warnings and errors.

    One write per access line costs far more than the line: under granian each write releases
    the GIL to the server's threads (measured: a third of the invoke throughput). A line reaches
    the terminal at most ``interval`` late; pending lines are written at exit by logging's own
    shutdown.
    """

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__()  # stderr
        self.interval = interval
        self._pending: list[str] = []
        self._flusher_pid = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        # Handler.handle holds self.lock here.
        self._pending.append(line)
        if record.levelno >= logging.WARNING:
            self._write_pending()
        elif self._flusher_pid != os.getpid():  # first line in this process (or a forked one)
            self._flusher_pid = os.getpid()
            threading.Thread(target=self._flush_forever, daemon=True, name="log-flush").start()

    def _write_pending(self) -> None:
        if self._pending:
            self.stream.write("\n".join(self._pending) + "\n")
            self._pending.clear()
            self.stream.flush()

    def flush(self) -> None:
        self.acquire()
        try:
            self._write_pending()
        finally:
            self.release()

    def _flush_forever(self) -> None:
        while True:
            time.sleep(self.interval)
            self.flush()


def configure_logging(level: str) -> None:
    """The CLI's logging: one stderr handler, and none of the record fields it never prints.

    The lines show neither the caller's source line nor thread or process names, so logging is
    told not to collect them (the knobs of the logging HOWTO's "Optimization" section): that is
    a quarter of an access line's cost.
    """
    logging._srcfile = None  # documented knob: no lookup of the calling source line
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = BatchingHandler()
    handler.setFormatter(LogFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler])


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            path = printable(scope["path"])
            log.info(
                "%s %s channel=%s status=%s %.1fms",
                scope["method"],
                path,
                channel_of_path(path) or "-",
                status or "-",  # no status: the client left before an answer
                (time.perf_counter() - started) * 1000,
            )
