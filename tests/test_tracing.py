"""OTLP traces: an emulator with an endpoint set sends one span per VIVI request to a real
OTLP/HTTP receiver (here: a small HTTP server decoding the protobuf export requests), a child of
the client's ``traceparent`` when it sent one."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.server import start
from tests.support import AUTH
from tests.test_har import _message

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


class Receiver(ThreadingHTTPServer):
    """Keeps every span it is sent (POST /v1/traces, protobuf)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[Any] = []
        self.resources: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def wait_for(self, count: int) -> list[Any]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.spans) >= count:
                    return list(self.spans)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.spans)} spans received, {count} expected")


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self.server.lock:
            for resource_spans in request.resource_spans:
                attributes = {
                    a.key: a.value.string_value for a in resource_spans.resource.attributes
                }
                for scope in resource_spans.scope_spans:
                    for span in scope.spans:
                        self.server.spans.append(span)
                        self.server.resources.append(attributes)
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *_: Any) -> None:  # the test's output stays quiet
        return


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _attributes(span: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for a in span.attributes:
        kind = a.value.WhichOneof("value")
        values[a.key] = getattr(a.value, kind)
    return values


def test_one_span_per_request_under_the_clients_trace(receiver: Receiver) -> None:
    endpoint = f"http://127.0.0.1:{receiver.server_address[1]}"
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "50"}
    server = start("--no-reload", env=env)
    try:
        base = server.base_url
        traced = {**AUTH, "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
        assert (
            httpx.post(
                f"{base}/channelsApi/demo-channel/stream", headers=traced, json=_message("hi")
            ).status_code
            == 200
        )
        assert (
            httpx.post(
                f"{base}/channelsApi/demo-channel/invoke", headers=AUTH, json=_message("hi")
            ).status_code
            == 200
        )
        refused = httpx.post(
            f"{base}/channelsApi/demo-channel/invoke", headers={"vivi-api-key": "no"}, json={}
        )
        assert refused.status_code == 401
        spans = receiver.wait_for(3)
    finally:
        code, log = server.stop()
    assert code == 0
    assert "Traceback" not in log
    assert len(spans) == 3  # one per request, nothing for the control API or the health check
    stream, invoke, refused_span = sorted(spans, key=lambda s: s.start_time_unix_nano)
    assert stream.name == "POST /channelsApi/{channelId}/stream"
    assert stream.trace_id.hex() == TRACE_ID
    assert stream.parent_span_id.hex() == PARENT_ID
    assert invoke.trace_id.hex() != TRACE_ID
    assert invoke.parent_span_id == b""
    attributes = _attributes(stream)
    assert attributes["http.response.status_code"] == 200
    assert attributes["vivi.channel"] == "demo-channel"
    assert attributes["vivi.chosen_by"] == "match"
    assert _attributes(refused_span)["http.response.status_code"] == 401
    assert stream.end_time_unix_nano > stream.start_time_unix_nano
    assert receiver.resources[0]["service.name"] == "vivi-emulator"
    # The key is in no span.
    assert all("demo-key" not in str(s) for s in spans)
