"""Prometheus metrics of the emulator (``GET /_emulator/metrics``, text exposition format).

Fed from two places only, so that no route handler counts anything:

- the journal entry of a finished request (``journaling.Journaling.entry`` calls
  :func:`finished`): requests by channel, operation, status and how the scenario was chosen,
  faults injected by kind, time to the first event of a stream;
- the stream player (``streaming.EventStream``): streams open now, and how late each timed
  event left.

The Redis store adds its round-trip time (``store.redis.batch``), and the scrape reads the
store's usage against its bounds (``Metrics.exposition``).

One process, one set of metrics (the Prometheus client's way). A process that serves alone
counts in plain numbers (``LocalMetrics``: a dict update on the request's path, no lock, since
one event loop counts) and makes them the library's metric families when scraped. The workers of
one ``serve --workers N`` share a port, so a scrape reaches one of them at random: they use the
library's metrics in its multiprocess mode (``SharedMetrics``; ``serve`` makes a folder for it
and hands it over in ``PROMETHEUS_MULTIPROC_DIR``), and any worker answers with the sum over all
of them. Replicas
(several ``serve`` processes, on one Redis or not) are separate scrape targets, told apart by
the ``instance`` label Prometheus adds (docs/metrics.md).

The metrics are made on first use, not at import: ``serve``'s parent imports this module before
it sets the multiprocess folder and forks its workers, and a metric made before that would
keep its values in memory, where no scrape of another worker sees them. The Prometheus client
itself is imported when first needed too (a scrape, or the multiprocess mode): a process that
serves alone counts in plain numbers, and start-up is faster without it (issue 22).
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from prometheus_client import Counter
    from prometheus_client.core import HistogramMetricFamily, Metric
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


# Each metric once: its name (after NAMESPACE) and help.
_REQUESTS = (
    "requests",
    "Requests to the VIVI surface, by channel, operation, status and how the scenario was "
    "chosen (one per journal entry)",
)
_FAULTS = ("faults_injected", "Faults chaos injected, by kind")
_OPEN = ("streams_open", "Streams being played now")
_FIRST_EVENT = (
    "stream_first_event_seconds",
    "Time from a stream request's arrival to its first event's bytes",
)
_LATENESS = ("event_lateness_seconds", "How late a timed event left, against its scheduled time")
_ROUND_TRIP = (
    "store_round_trip_seconds",
    "Round trip of one batch of atomic steps to the Redis store",
)
_REQUEST_LABELS = ("channel", "operation", "status", "chosen_by")


class Metrics:
    """The counting both ways share: a request's label values, bounded."""

    def __init__(self) -> None:
        self._channels: set[str] = set()

    def _bounded(self, key: _RequestKey) -> _RequestKey:
        """The key a new label set is counted under: past MAX_CHANNELS, channel _other."""
        channel = key[0]
        if channel not in self._channels:
            if len(self._channels) >= MAX_CHANNELS:
                return (OTHER_CHANNEL, *key[1:])
            self._channels.add(channel)
        return key

    @staticmethod
    def _key(entry: JournalEntry) -> _RequestKey:
        """The request's label values. On every request's path, so by hand for one item (all
        but a batch): its way is a ``StrEnum`` member, a ``str`` equal to its value (the
        enum's ``value`` is a Python-level property), and the operation is cut from the path
        here (measured: half of counting a request went to these two calls)."""
        items, path = entry.items, entry.path
        chosen = items[0].chosen_by if len(items) == 1 else None
        return (
            entry.channel,
            path[path.rfind("/") + 1 :],
            entry.status,
            chosen if chosen is not None else chosen_by(entry),
        )

    def finished(self, entry: JournalEntry) -> None:
        raise NotImplementedError

    def opened(self) -> None:
        raise NotImplementedError

    def closed(self) -> None:
        raise NotImplementedError

    def late(self, seconds: float) -> None:
        raise NotImplementedError

    def round_trip(self, seconds: float) -> None:
        raise NotImplementedError

    def collected(self) -> bytes:
        raise NotImplementedError

    def exposition(self, usage: Mapping[str, int], bounds: Mapping[str, int]) -> bytes:
        """The text exposition of the process's (or all workers') metrics and the store's use
        of its bounds."""
        from prometheus_client import CollectorRegistry, generate_latest

        store = CollectorRegistry()
        # The registry only calls collect() (describe() where there is one): the class need
        # not derive from the client's, which would import it at start-up.
        store.register(cast("Collector", _Usage(usage, bounds)))
        return self.collected() + generate_latest(store)


class _Buckets:
    """A histogram's counts, kept as plain numbers (``le`` buckets, as Prometheus counts)."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def family(self, name: str, text: str) -> HistogramMetricFamily:
        from prometheus_client.core import HistogramMetricFamily

        cumulative: list[tuple[str, float]] = []
        total = 0
        for bound, count in zip((*self.bounds, math.inf), self.counts, strict=True):
            total += count
            cumulative.append(("+Inf" if bound == math.inf else repr(float(bound)), total))
        return HistogramMetricFamily(name, text, buckets=cumulative, sum_value=self.sum)


class LocalMetrics(Metrics):
    """One process that serves alone: plain numbers on the request's path (no lock: one event
    loop counts), made into the library's metric families when scraped."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: dict[_RequestKey, int] = {}
        self.faults: dict[str, int] = {}
        self.open = 0
        self.first_event = _Buckets(_FIRST_EVENT_BUCKETS)
        self.lateness = _Buckets(_LATENESS_BUCKETS)
        self.round_trips = _Buckets(_ROUND_TRIP_BUCKETS)

    def finished(self, entry: JournalEntry) -> None:
        key = self._key(entry)
        requests = self.requests
        if key in requests:
            requests[key] += 1
        else:
            key = self._bounded(key)
            requests[key] = requests.get(key, 0) + 1
        for item in entry.items:
            if item.fault is not None:
                kind = fault_kind(item.fault)
                self.faults[kind] = self.faults.get(kind, 0) + 1
        if entry.first_byte_ms is not None:
            self.first_event.observe(entry.first_byte_ms / 1000)

    def opened(self) -> None:
        self.open += 1

    def closed(self) -> None:
        self.open -= 1

    def late(self, seconds: float) -> None:
        self.lateness.observe(seconds)

    def round_trip(self, seconds: float) -> None:
        self.round_trips.observe(seconds)

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        requests = CounterMetricFamily(
            f"{NAMESPACE}_{_REQUESTS[0]}", _REQUESTS[1], labels=_REQUEST_LABELS
        )
        for (channel, operation, status, chosen), count in list(self.requests.items()):
            requests.add_metric([channel, operation, str(status), chosen], count)
        yield requests
        faults = CounterMetricFamily(f"{NAMESPACE}_{_FAULTS[0]}", _FAULTS[1], labels=["kind"])
        for kind, count in list(self.faults.items()):
            faults.add_metric([kind], count)
        yield faults
        yield GaugeMetricFamily(f"{NAMESPACE}_{_OPEN[0]}", _OPEN[1], value=self.open)
        for buckets, (name, text) in (
            (self.first_event, _FIRST_EVENT),
            (self.lateness, _LATENESS),
            (self.round_trips, _ROUND_TRIP),
        ):
            yield buckets.family(f"{NAMESPACE}_{name}", text)

    def collected(self) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest

        registry = CollectorRegistry(auto_describe=False)
        registry.register(cast("Collector", self))  # collect() is all it calls
        return generate_latest(registry)


class SharedMetrics(Metrics):
    """The workers of one ``serve --workers N``: the library's metrics in its multiprocess mode
    (each worker's values in files of a shared folder, summed when any worker is scraped)."""

    def __init__(self, folder: str) -> None:
        from prometheus_client import Counter, Gauge, Histogram, values

        super().__init__()
        self.folder = folder
        # Multiprocess values must be chosen before the metrics are made (values.ValueClass).
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        # Not registered anywhere: the folder's files are what a scrape reads.
        common: dict[str, Any] = {"namespace": NAMESPACE, "registry": None}
        self.requests = Counter(*_REQUESTS, _REQUEST_LABELS, **common)
        self.faults = Counter(*_FAULTS, ["kind"], **common)
        self.streams_open = Gauge(*_OPEN, multiprocess_mode="livesum", **common)
        self.first_event = Histogram(*_FIRST_EVENT, buckets=_FIRST_EVENT_BUCKETS, **common)
        self.lateness = Histogram(*_LATENESS, buckets=_LATENESS_BUCKETS, **common)
        self.round_trips = Histogram(*_ROUND_TRIP, buckets=_ROUND_TRIP_BUCKETS, **common)
        self._requests: dict[_RequestKey, Counter] = {}

    def finished(self, entry: JournalEntry) -> None:
        key = self._key(entry)
        child = self._requests.get(key)
        if child is None:
            channel, operation, status, chosen = self._bounded(key)
            child = self.requests.labels(channel, operation, str(status), chosen)
            self._requests[key] = child
        child.inc()
        for item in entry.items:
            if item.fault is not None:
                self.faults.labels(fault_kind(item.fault)).inc()
        if entry.first_byte_ms is not None:
            self.first_event.observe(entry.first_byte_ms / 1000)

    def opened(self) -> None:
        self.streams_open.inc()

    def closed(self) -> None:
        self.streams_open.dec()

    def late(self, seconds: float) -> None:
        self.lateness.observe(seconds)

    def round_trip(self, seconds: float) -> None:
        self.round_trips.observe(seconds)

    def collected(self) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.folder)  # type: ignore[no-untyped-call]
        return generate_latest(registry)


# The store's use, read at scrape time (shared by every process on one Redis): gauge name,
# help, the usage key, the bound's key.
_USAGE = (
    ("threads", "Threads kept", "threads", "max_threads"),
    ("files", "Uploaded files kept", "files", None),
    ("file_bytes", "Bytes of uploaded files kept", "file_bytes", "files_quota_bytes"),
    ("journal_entries", "Journal entries kept", "journal_entries", "journal_size"),
    ("queued_replies", "One-shot replies queued", "queued", "max_queued"),
)


class _Usage:
    def __init__(self, usage: Mapping[str, int], bounds: Mapping[str, int]) -> None:
        self._usage = usage
        self._bounds = bounds

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

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
        _current = SharedMetrics(folder) if folder is not None else LocalMetrics()
    return _current


def finished(entry: JournalEntry) -> None:
    """Count a finished request, from its journal entry."""
    (_current or current()).finished(entry)


def stream_opened() -> None:
    (_current or current()).opened()


def stream_closed() -> None:
    (_current or current()).closed()


def late(seconds: float) -> None:
    """How late a timed event left (a wake-up before its time counts as 0)."""
    (_current or current()).late(max(seconds, 0.0))


def round_trip(seconds: float) -> None:
    (_current or current()).round_trip(seconds)
