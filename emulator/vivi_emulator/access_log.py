"""One log line per request: method, path, channel, status, duration, and what chaos injected.
Never a header, so never the API key, and never the body.

Under the CLI's logging (one ``BatchingHandler``), an access line is formatted here and handed
to the handler directly, without a ``LogRecord``: building and formatting a record was most of
the cost of a request to the emulator (benchmarks/results.md). Anywhere else (an application's
own logging, pytest's caplog) the line goes through ``logging`` like any other.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import NamedTuple

from starlette.types import Scope

from vivi_emulator.errors import echoed
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

    def stamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._prefix},{int((created - second) * 1000):03d}"

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return self.stamp(record.created)


class BatchingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes lines in batches: ``interval`` seconds after the first line
    of a batch, and at once for warnings and errors.

    One write per access line costs far more than the line: under granian each write releases
    the GIL to the server's threads (measured: a third of the invoke throughput). The batch is
    written by a timer on the event loop that made its first line; only a line logged outside
    any event loop falls back to a flusher thread (a thread waking to write competes with the
    loop for the GIL: measured, 13 us of every request). A line reaches the terminal at most
    ``interval`` late; pending lines are also written when the app stops and at exit.
    """

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__()  # stderr
        self.interval = interval
        self._pending: list[str] = []
        self._scheduled = False
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
        else:
            self._schedule()

    def write_info(self, name: str, message: str) -> None:
        """An INFO line of logger ``name``, formatted as the formatter would, no record made."""
        formatter = self.formatter
        stamp = formatter.stamp(time.time()) if isinstance(formatter, LogFormatter) else ""
        line = f"{stamp} INFO {name}: {message}"
        with self.lock:  # type: ignore[union-attr]
            self._pending.append(line)
            self._schedule()

    def _schedule(self) -> None:
        """Have the pending lines written ``interval`` from now (the caller holds the lock)."""
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop in this thread: the flusher thread writes
            if self._flusher_pid != os.getpid():  # first time in this process (or a fork)
                self._flusher_pid = os.getpid()
                threading.Thread(target=self._flush_forever, daemon=True, name="log-flush").start()
            return
        self._scheduled = True
        loop.call_later(self.interval, self.flush)

    def _write_pending(self) -> None:
        self._scheduled = False
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


def _direct_handler() -> BatchingHandler | None:
    """The CLI's handler, when it alone would write an access line (else: use logging)."""
    handlers = logging.root.handlers
    if len(handlers) != 1 or log.handlers or not log.isEnabledFor(logging.INFO):
        return None
    handler = handlers[0]
    if not isinstance(handler, BatchingHandler) or handler.level > logging.INFO:
        return None
    return handler


# The most of a client's text (a path) one log line repeats.
MAX_LOGGED_CHARS = 500


def printable(text: str) -> str:
    """A client's text fit for one log line: cut to a bound (errors.echoed), control characters
    escaped (no forged lines)."""
    text = echoed(text, MAX_LOGGED_CHARS)
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


# The ASGI scope key under which a handler leaves notes for the request's access line.
NOTES = "vivi.notes"


def add_note(scope: Scope, note: str) -> None:
    """A word for the request's access line (``chaos=...``), from the handler that knows it."""
    scope.setdefault(NOTES, []).append(note)


def log_access(scope: Scope, status: int, started: float) -> None:
    """The request's one access line, from its ASGI scope (requests outside the VIVI core)."""
    path = scope["path"]
    params = scope.get("path_params")
    channel = params.get("channelId") if params else None
    write_access_line(Requested(scope["method"], path, channel), status, started, scope.get(NOTES))


class Requested(NamedTuple):
    """What an access line says of the request: its method, path and channel (if known)."""

    method: str
    path: str
    channel: str | None = None


def access_head(request: Requested) -> str:
    """The start of a request's access line, what is known before it is answered: method,
    path and channel, each made fit for one line."""
    method, path, channel = request
    shown = printable(path)
    if not channel:
        channel = channel_of_path(shown)
    return f"{method} {shown} channel={printable(channel) if channel else '-'}"


def write_access_line(
    request: Requested, status: int, started: float, notes: list[str] | None = None
) -> None:
    """The request's one access line: method, path, channel, status, duration, notes; formatted
    once, from the values at hand, and handed to the batching handler (written off the request's
    path, ``BatchingHandler``)."""
    write_access_tail(access_head(request), status, started, notes)


def write_access_tail(
    head: str, status: int, started: float, notes: list[str] | None = None
) -> None:
    """The access line of a request whose start (``access_head``) is at hand: a server adapter
    keeps it with the request's route, made once per route (``channels_api.core``)."""
    line = "%s status=%s %.1fms" % (  # noqa: UP031 - logging's own form
        head,
        status or "-",  # no status: the client left before an answer
        (time.perf_counter() - started) * 1000,
    )
    if notes:
        line += " " + " ".join(notes)
    direct = _direct_handler()
    if direct is not None:
        direct.write_info(log.name, line)
    else:
        log.info("%s", line)
