"""The recording proxy on real sockets: streaming, hang-ups both ways, credentials never written."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
import yaml
from starlette.types import Receive, Scope, Send

from vivi_emulator.recorder import RecordingProxy, is_credential, recorded_events
from vivi_emulator.scenarios.loader import parse_file

from tests.contract.standin import serve
from tests.support import THREAD

KEY = "proxy-key-5e8d2c"
START = b'data: {"message": "", "event": "on_chat_model_start"}\n\n'


def chunk(text: str) -> bytes:
    return b"data: " + json.dumps({"message": text, "event": "on_chat_model_stream"}).encode()


class Upstream:
    """A VIVI stand-in whose answer depends on the message: slow, cut, or leaky."""

    def __init__(self) -> None:
        self.disconnected = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        text = json.loads(body)["message"]
        headers = [(b"content-type", b"text/event-stream")]
        if text == "leaky":
            headers += [(b"set-cookie", b"session=s3cr3t"), (b"x-upstream-token", b"t0k3n")]
            headers += [(b"x-request-id", b"req-1")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": START, "more_body": True})
        if text == "slow":
            async with anyio.create_task_group() as tasks:

                async def watch() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    self.disconnected.set()
                    tasks.cancel_scope.cancel()

                tasks.start_soon(watch)
                for index in range(200):
                    await anyio.sleep(0.05)
                    frame = chunk(f"{index} ") + b"\n\n"
                    await send({"type": "http.response.body", "body": frame, "more_body": True})
            return
        if text == "cut":
            frame = chunk("half") + b"\n\n"
            await send({"type": "http.response.body", "body": frame, "more_body": True})
            # The upstream dies here: its connection drops without the end of the body.
            return
        leak = chunk(f"your key is {KEY}") + b"\n\n"
        end = b'data: {"message": "", "event": "on_chat_model_end"}\n\n'
        await send({"type": "http.response.body", "body": leak + end, "more_body": False})


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[str, RecordingProxy, Upstream]]:
    upstream = Upstream()
    with serve(upstream) as upstream_base:
        proxy = RecordingProxy(upstream_base, tmp_path, timeout=10)
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
    proxied: tuple[str, RecordingProxy, Upstream],
) -> None:
    base, proxy, upstream = proxied
    body = {"message": "slow", "threadId": THREAD}
    started = time.monotonic()
    with httpx.stream(
        "POST", f"{base}/channelsApi/ch/stream", json=body, headers={"vivi-api-key": KEY}
    ) as response:
        received = b""
        for part in response.iter_raw():
            received += part
            if received.count(b"\n\n") >= 3:
                break  # streamed through as it came: the upstream is far from done
    assert time.monotonic() - started < 5
    assert upstream.disconnected.wait(5), "the upstream never saw the client hang up"
    time.sleep(0.2)
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


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("Authorization", True),
        ("vivi-api-key", True),
        ("X-Api-Key", True),
        ("Set-Cookie", True),
        ("x-session-id", True),
        ("x-accel-buffering", False),
        ("retry-after", False),
        ("content-type", False),
    ],
)
def test_credential_headers(name: str, credential: bool) -> None:
    assert is_credential(name) is credential
