"""Prometheus metrics of the emulator (``GET /_emulator/metrics``, text exposition format).

Fed from two places only, so that no route handler counts anything:

- the journal entry of a finished request (``journaling.Journaling.entry`` calls
  :func:`finished`): requests by channel, operation, status and how the scenario was chosen,
  faults injected by kind, time to the first event of a stream;
- the stream player (``streaming.EventStream``): streams open now, and how late each timed
  event left.

The Redis store adds its round-trip time (``store.redis.batch``), and the scrape reads the
store's usage against its bounds (:func:`exposition`).

One process, one set of metrics (the Prometheus client's way). The workers of one
``serve --workers N`` share a port, so a scrape reaches one of them at random: they use the
client's multiprocess mode (``serve`` makes a folder for it and hands it over in
``PROMETHEUS_MULTIPROC_DIR``), and any worker answers with the sum over all of them. Replicas
(several ``serve`` processes, on one Redis or not) are separate scrape targets, told apart by
the ``instance`` label Prometheus adds (docs/metrics.md).

The metrics are made on first use, not at import: ``serve``'s parent imports this module before
it sets the multiprocess folder and forks its workers, and a metric made before that would
keep its values in memory, where no scrape of another worker sees them.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from vivi_emulator.journal import JournalEntry

log = logging.getLogger("vivi_emulator.metrics")

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
NAMESPACE = "vivi_emulator"
# The classic text format, which every Prometheus reads (the library's latest, 1.0.0, only
# differs for names outside [a-zA-Z0-9_:], and there are none here).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Label values are bounded (each one is a time series kept for the process's life): channels
# past this many are counted under OTHER_CHANNEL.
MAX_CHANNELS = 100
OTHER_CHANNEL = "_other"

# A fault as the journal says it ("disconnect after 3 events") -> its kind in chaos settings.
_FAULT_KINDS = (
    ("status", "status"),
    ("disconnect", "disconnect"),
    ("stall", "stall"),
    ("malformed", "malformed"),
    ("error event", "error_event"),
    ("no end", "no_end"),
    ("wire", "wire"),
)

# Seconds: a stream's first event comes after the reply's first delay (latency profiles put it
# between tens of milliseconds and seconds); lateness is a scheduler's wake-up, usually < 10 ms.
_FIRST_EVENT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_LATENESS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
_ROUND_TRIP_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1)

_RequestKey = tuple[str, str, int, str]


def fault_kind(fault: str) -> str:
    """The chaos kind of a fault the journal describes (``other`` for one not listed here)."""
    for prefix, kind in _FAULT_KINDS:
        if fault.startswith(prefix):
            return kind
    return "other"


def chosen_by(entry: JournalEntry) -> str:
    """How the request's scenario was chosen: its items' way, ``mixed`` for a batch whose
    items differ, ``none`` when no scenario was reached (a refused key, a bad body)."""
    items = entry.items
    if len(items) == 1:  # the common case, on every request's path: no set made
        chosen = items[0].chosen_by
        return chosen.value if chosen is not None else "none"
    ways = {item.chosen_by.value for item in items if item.chosen_by is not None}
    if not ways:
        return "none"
    return ways.pop() if len(ways) == 1 else "mixed"


class Metrics:
    """The process's metrics. Children of labelled metrics are kept by label values, so that
    counting a request is a dict look-up and an increment."""

    def __init__(self, multiprocess_dir: str | None) -> None:
        self.multiprocess_dir = multiprocess_dir
        # Multiprocess values must be chosen before the metrics are made (values.ValueClass).
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        registry = None if multiprocess_dir else self.registry
        self.requests = Counter(
            "requests",
            "Requests to the VIVI surface, by channel, operation, status and how the scenario "
            "was chosen (one per journal entry)",
            ["channel", "operation", "status", "chosen_by"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.faults = Counter(
            "faults_injected",
            "Faults chaos injected, by kind",
            ["kind"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.streams_open = Gauge(
            "streams_open",
            "Streams being played now",
            namespace=NAMESPACE,
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.first_event = Histogram(
            "stream_first_event_seconds",
            "Time from a stream request's arrival to its first event's bytes",
            namespace=NAMESPACE,
            registry=registry,
            buckets=_FIRST_EVENT_BUCKETS,
        )
        self.lateness = Histogram(
            "event_lateness_seconds",
            "How late a timed event left, against its scheduled time",
            namespace=NAMESPACE,
            registry=registry,
            buckets=_LATENESS_BUCKETS,
        )
        self.round_trip = Histogram(
            "store_round_trip_seconds",
            "Round trip of one batch of atomic steps to the Redis store",
            namespace=NAMESPACE,
            registry=registry,
            buckets=_ROUND_TRIP_BUCKETS,
        )
        self._channels: set[str] = set()
        self._requests: dict[_RequestKey, Counter] = {}
        self._faults: dict[str, Counter] = {}

    def finished(self, entry: JournalEntry) -> None:
        key = (entry.channel, entry.operation, entry.status, chosen_by(entry))
        child = self._requests.get(key)
        if child is None:
            child = self._requests[key] = self._request_child(key)
        child.inc()
        for item in entry.items:
            if item.fault is not None:
                kind = fault_kind(item.fault)
                counter = self._faults.get(kind)
                if counter is None:
                    counter = self._faults[kind] = self.faults.labels(kind)
                counter.inc()
        if entry.first_byte_ms is not None:
            self.first_event.observe(entry.first_byte_ms / 1000)

    def _request_child(self, key: _RequestKey) -> Counter:
        channel, operation, status, chosen = key
        if channel not in self._channels:
            if len(self._channels) >= MAX_CHANNELS:
                channel = OTHER_CHANNEL
            else:
                self._channels.add(channel)
        return self.requests.labels(channel, operation, str(status), chosen)

    def exposition(self, usage: Mapping[str, int], bounds: Mapping[str, int]) -> bytes:
        """The text exposition of the process's (or all workers') metrics and the store's use
        of its bounds."""
        if self.multiprocess_dir:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
            counted = generate_latest(registry)
        else:
            counted = generate_latest(self.registry)
        store = CollectorRegistry()
        store.register(_Usage(usage, bounds))
        return counted + generate_latest(store)


# The store's use, read at scrape time (shared by every process on one Redis): gauge name,
# help, the usage key, the bound's key.
_USAGE = (
    ("threads", "Threads kept", "threads", "max_threads"),
    ("files", "Uploaded files kept", "files", None),
    ("file_bytes", "Bytes of uploaded files kept", "file_bytes", "files_quota_bytes"),
    ("journal_entries", "Journal entries kept", "journal_entries", "journal_size"),
    ("queued_replies", "One-shot replies queued", "queued", "max_queued"),
)


class _Usage(Collector):
    def __init__(self, usage: Mapping[str, int], bounds: Mapping[str, int]) -> None:
        self._usage = usage
        self._bounds = bounds

    def collect(self) -> Iterator[Metric]:
        for name, text, used, bound in _USAGE:
            yield GaugeMetricFamily(f"{NAMESPACE}_{name}", text, value=self._usage.get(used, 0))
            if bound is not None and bound in self._bounds:
                yield GaugeMetricFamily(
                    f"{NAMESPACE}_{name}_limit", f"{text}: the bound", value=self._bounds[bound]
                )


@contextmanager
def shared_by_workers(workers: int) -> Iterator[None]:
    """Around ``serve --workers N`` (N > 1): a folder where the workers keep their metrics (the
    library's multiprocess mode), handed to them in the environment and removed at the end. A
    folder the user gives in ``PROMETHEUS_MULTIPROC_DIR`` is used as it is."""
    if workers < 2 or os.environ.get(MULTIPROCESS_ENV):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="vivi-emulator-metrics-") as folder:
        os.environ[MULTIPROCESS_ENV] = folder
        try:
            yield
        finally:
            os.environ.pop(MULTIPROCESS_ENV, None)


_current: Metrics | None = None


def current() -> Metrics:
    """The process's metrics, made on first use (see the module's notes)."""
    global _current
    if _current is None:
        folder = os.environ.get(MULTIPROCESS_ENV) or None
        if folder is not None and not os.access(folder, os.W_OK | os.X_OK):
            # Counting must never fail a request: this process counts on its own instead.
            log.warning(
                "%s=%s is not a writable folder: this process's metrics are its own",
                MULTIPROCESS_ENV,
                folder,
            )
            os.environ.pop(MULTIPROCESS_ENV, None)
            folder = None
        _current = Metrics(folder)
    return _current


def finished(entry: JournalEntry) -> None:
    """Count a finished request, from its journal entry."""
    (_current or current()).finished(entry)


def stream_opened() -> None:
    (_current or current()).streams_open.inc()


def stream_closed() -> None:
    (_current or current()).streams_open.dec()


def late(seconds: float) -> None:
    """How late a timed event left (a wake-up before its time counts as 0)."""
    (_current or current()).lateness.observe(max(seconds, 0.0))


def round_trip(seconds: float) -> None:
    (_current or current()).round_trip.observe(seconds)
