"""The recording proxy on real sockets: streaming, hang-ups both ways, credentials never written."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import yaml
from starlette.types import Receive, Scope, Send

from vivi_emulator import sse
from vivi_emulator.record.proxy import RecordingProxy
from vivi_emulator.record.recording import Exchange
from vivi_emulator.redaction import secret_forms
from vivi_emulator.scenarios.loader import parse_file
from vivi_emulator.sse import FrameSplitter, encode_event

from tests.contract.standin import serve
from tests.server import free_port
from tests.support import THREAD

KEY = "proxy-key-5e8d2c"
ACCENTS = "café ✓".encode()
START = encode_event("", "on_chat_model_start")


def chunk(text: str) -> bytes:
    return encode_event(text, "on_chat_model_stream")


def recorded_events(scenario: dict[str, Any]) -> list[tuple[str, str]]:
    """(event, message) of a recorded scenario's frames (each kept as its data or raw)."""
    out = []
    for frame in scenario.get("frames") or []:
        data = frame.get("data") if "data" in frame else sse.frame_data(frame.get("raw", ""))
        parsed = sse.parse_event(data) if data is not None else None
        if parsed is not None:
            out.append(parsed)
    return out


class Upstream:
    """A VIVI stand-in whose answer depends on the message: slow, cut, or leaky."""

    def __init__(self) -> None:
        self.disconnected = threading.Event()
        self.headers: dict[bytes, bytes] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        text = json.loads(await _body(receive))["message"]
        self.headers = dict(scope["headers"])
        await send({"type": "http.response.start", "status": 200, "headers": _headers(text)})
        await send({"type": "http.response.body", "body": START, "more_body": True})
        if text == "slow":
            await self._slow(receive, send)
            return
        if text == "cut":
            frame = chunk("half")
            await send({"type": "http.response.body", "body": frame, "more_body": True})
            # The upstream dies here: its connection drops without the end of the body.
            return
        # The key the client sent, quoted in a reply (JSON-escaped, as any JSON encoder writes it).
        key = self.headers.get(b"vivi-api-key", b"").decode()
        leak = chunk(f"your key is {key}")
        end = encode_event("", "on_chat_model_end")
        await send({"type": "http.response.body", "body": leak + end, "more_body": False})

    async def _slow(self, receive: Receive, send: Send) -> None:
        """A chunk every 50 ms for ten seconds, until the client hangs up."""
        async with anyio.create_task_group() as tasks:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                self.disconnected.set()
                tasks.cancel_scope.cancel()

            tasks.start_soon(watch)
            for index in range(200):
                await anyio.sleep(0.05)
                frame = chunk(f"{index} ")
                await send({"type": "http.response.body", "body": frame, "more_body": True})


async def _body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        part: bytes = message.get("body", b"")
        body += part
        if not message.get("more_body"):
            return body


def _headers(text: str) -> list[tuple[bytes, bytes]]:
    """The upstream's response headers: leaky ones (credentials) and non-ASCII ones on demand."""
    headers = [(b"content-type", b"text/event-stream")]
    if text == "leaky":
        headers += [(b"set-cookie", b"session=s3cr3t"), (b"x-upstream-token", b"t0k3n")]
        headers += [(b"x-request-id", b"req-1")]
    if text == "accents":
        headers += [(b"x-greeting", ACCENTS)]
    return headers


class Done:
    """The exchanges the proxy is done with, as its ``on_exchange`` hook reports them."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self.event = threading.Event()

    def __call__(self, exchange: Exchange) -> None:
        self.exchanges.append(exchange)
        self.event.set()


@pytest.fixture
def done() -> Done:
    return Done()


@pytest.fixture
def proxied(tmp_path: Path, done: Done) -> Iterator[tuple[str, RecordingProxy, Upstream]]:
    upstream = Upstream()
    with serve(upstream) as upstream_base:
        proxy = RecordingProxy(upstream_base, tmp_path, timeout=10, on_exchange=done)
        with serve(proxy) as base:
            yield base, proxy, upstream


def send(base: str, message: str) -> httpx.Response:
    return httpx.post(
        f"{base}/channelsApi/ch/stream",
        json={"message": message, "threadId": THREAD},
        headers={"vivi-api-key": KEY, "cookie": "a=b"},
        timeout=10,
    )


def test_a_client_hanging_up_closes_the_upstream_request(
    proxied: tuple[str, RecordingProxy, Upstream], done: Done
) -> None:
    base, proxy, upstream = proxied
    body = {"message": "slow", "threadId": THREAD}
    started = time.monotonic()
    with httpx.stream(
        "POST", f"{base}/channelsApi/ch/stream", json=body, headers={"vivi-api-key": KEY}
    ) as response:
        splitter, frames = FrameSplitter(), 0
        for part in response.iter_raw():
            frames += len(splitter.feed(part))
            if frames >= 3:
                break  # streamed through as it came: the upstream is far from done
    assert time.monotonic() - started < 5
    assert upstream.disconnected.wait(5), "the upstream never saw the client hang up"
    assert done.event.wait(5), "the proxy never finished the exchange"
    [exchange] = done.exchanges
    assert exchange.client_gone
    assert exchange.frames is not None
    assert len(exchange.frames.frames) >= 3  # it had streamed, and still recorded nothing
    assert not proxy.recording.path.exists(), "a hung-up exchange is not recorded"


def test_an_upstream_cut_cuts_the_client_and_is_recorded_as_a_drop(
    proxied: tuple[str, RecordingProxy, Upstream],
) -> None:
    base, proxy, _ = proxied
    with pytest.raises(httpx.RemoteProtocolError):
        send(base, "cut")
    scenarios, problems = parse_file(proxy.recording.path)
    assert problems == []
    [cut] = scenarios
    assert cut.fault.close_after_events == 2
    assert cut.recorded is not None
    assert not cut.recorded.complete
    assert cut.match is not None
    assert cut.match.message == "cut"


def test_credentials_are_never_written(proxied: tuple[str, RecordingProxy, Upstream]) -> None:
    base, proxy, _ = proxied
    response = send(base, "leaky")
    assert response.status_code == 200
    assert response.headers["set-cookie"] == "session=s3cr3t"  # the client gets it all
    text = proxy.recording.path.read_text()
    for secret in (KEY, "s3cr3t", "t0k3n", "set-cookie", "x-upstream-token", "a=b"):
        assert secret not in text
    data = yaml.safe_load(text)
    [scenario] = data["scenarios"]
    assert scenario["headers"] == {"x-request-id": "req-1"}
    assert recorded_events(scenario)[1] == ("on_chat_model_stream", "your key is [redacted]")


@pytest.fixture
def proxy_errors(
    proxied: tuple[str, RecordingProxy, Upstream],
) -> Iterator[list[logging.LogRecord]]:
    """What the proxy's server logs as errors (a traceback is one)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(logging.ERROR)
    # Added once the servers run: each uvicorn start configures this logger afresh.
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_non_ascii_header_values_pass_through_unchanged(
    proxied: tuple[str, RecordingProxy, Upstream], proxy_errors: list[logging.LogRecord]
) -> None:
    base, proxy, upstream = proxied
    response = httpx.post(
        f"{base}/channelsApi/ch/stream",
        json={"message": "accents", "threadId": THREAD},
        headers={b"vivi-api-key": KEY.encode(), b"x-note": ACCENTS},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert upstream.headers[b"x-note"] == ACCENTS
    assert dict(response.headers.raw)[b"x-greeting"] == ACCENTS
    assert proxy_errors == []
    [scenario] = yaml.safe_load(proxy.recording.path.read_text())["scenarios"]
    assert scenario["headers"]["x-greeting"] == ACCENTS.decode()


@pytest.mark.parametrize("key", ['proxy"key\\5e8d', "proxy-kéy-5e8d"])
def test_a_key_quoted_in_a_reply_is_never_written_in_any_form(
    proxied: tuple[str, RecordingProxy, Upstream], key: str
) -> None:
    base, proxy, _ = proxied
    response = httpx.post(
        f"{base}/channelsApi/ch/stream",
        json={"message": "leaky", "threadId": THREAD},
        headers={b"vivi-api-key": key.encode()},
        timeout=10,
    )
    assert response.status_code == 200
    assert json.dumps(key)[1:-1].encode() in response.content  # the reply quotes it, escaped
    text = proxy.recording.path.read_text()
    for form in secret_forms(key):
        assert form not in text
    [scenario] = yaml.safe_load(text)["scenarios"]
    assert recorded_events(scenario)[1] == ("on_chat_model_stream", "your key is [redacted]")


def test_an_upstream_that_does_not_answer_is_a_json_502_and_nothing_is_recorded(
    tmp_path: Path, done: Done
) -> None:
    proxy = RecordingProxy(f"http://127.0.0.1:{free_port()}", tmp_path, on_exchange=done)
    with serve(proxy) as base:
        response = send(base, "hello")
    assert response.status_code == 502
    assert response.json() == {"detail": "the upstream did not answer (ConnectError)"}
    assert done.event.wait(5)
    assert not proxy.recording.path.exists()
