"""OTLP traces, optional: one span per request to the VIVI surface, a child of the incoming
``traceparent`` when the client sent one (W3C Trace Context).

On only when both hold: the extra is installed (``pip install 'vivi-emulator[otlp]'``: the
OpenTelemetry SDK and its OTLP/HTTP exporter) and an endpoint is set the standard way
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``; the SDK reads the
rest of its ``OTEL_*`` variables itself: headers, service name, batching). An endpoint set without
the extra is said once in the log, and tracing stays off.

Like the metrics, spans are made from the journal entry of a finished request
(``journaling.Journaling.entry`` calls :func:`finished`), after the fact, with the request's own
start and end times: no route handler is touched, and a request costs nothing when tracing is
off. Spans leave in batches from the SDK's own thread, never from the event loop. The decision is
made at a process's first request, so each worker of ``serve --workers N`` has its own exporter.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from vivi_emulator import __version__
from vivi_emulator.journal import JournalEntry

log = logging.getLogger("vivi_emulator.tracing")

ENDPOINT_ENVS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
SERVICE_NAME = "vivi-emulator"


class _Tracing:
    """The process's tracer provider and OTLP exporter."""

    def __init__(self) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace import SpanKind, Status, StatusCode
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, when set, win over this default.
        self.provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self.tracer = self.provider.get_tracer("vivi_emulator", __version__)
        self.propagator = TraceContextTextMapPropagator()
        self.server_kind = SpanKind.SERVER
        self.error = Status(StatusCode.ERROR)

    def finished(self, entry: JournalEntry) -> None:
        headers = dict(entry.headers)  # lower-case names, as journaled
        parent = self.propagator.extract(headers) if "traceparent" in headers else None
        route = f"/channelsApi/{{channelId}}/{entry.operation}"
        single = entry.items[0] if len(entry.items) == 1 else None
        attributes: dict[str, Any] = {
            "http.request.method": entry.method,
            "http.route": route,
            "url.path": entry.path,
            "http.response.status_code": entry.status,
            "vivi.channel": entry.channel,
            "vivi.operation": entry.operation,
            "vivi.client_left": entry.client_left,
            "vivi.journal_id": entry.id,
        }
        if single is not None:
            attributes["vivi.thread"] = single.thread
            if single.scenario is not None:
                attributes["vivi.scenario"] = single.scenario
            if single.chosen_by is not None:
                attributes["vivi.chosen_by"] = single.chosen_by.value
            if single.fault is not None:
                attributes["vivi.fault"] = single.fault
        start = int(entry.time * 1e9)
        span = self.tracer.start_span(
            f"{entry.method} {route}",
            context=parent,
            kind=self.server_kind,
            attributes=attributes,
            start_time=start,
        )
        if entry.status >= 500:
            span.set_status(self.error)
        span.end(end_time=start + int(entry.duration_ms * 1e6))


_OFF = "off"
_current: _Tracing | str | None = None  # None: not decided yet in this process


def _start() -> _Tracing | str:
    if not any(os.environ.get(name) for name in ENDPOINT_ENVS):
        return _OFF
    try:
        return _Tracing()
    except ImportError:
        log.warning(
            "an OTLP endpoint is set, but the OpenTelemetry SDK is not installed: no traces "
            "(pip install 'vivi-emulator[otlp]')"
        )
    except Exception as exc:  # a bad OTEL_* setting must not fail the request that found it
        log.warning("OTLP traces are off: the exporter cannot be set up (%s)", exc)
    return _OFF


def finished(entry: JournalEntry) -> None:
    """A span for a finished request, when tracing is on."""
    global _current
    tracing = _current
    if tracing is _OFF:
        return
    if tracing is None:
        tracing = _current = _start()
    if isinstance(tracing, _Tracing):
        tracing.finished(entry)
