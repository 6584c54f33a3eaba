"""Wire options over HTTP, in-process: gateway timeouts and idle cuts on every endpoint, the
queue, the journal, and /invoke left alone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from vivi_emulator.app import create_app
from vivi_emulator.settings import Settings
from vivi_emulator.wire import WireOptions

from tests.support import AUTH, BODY, forced, post_forced, sse_events, url

SCALE = 0.001  # 100 s of gateway timeout: 0.1 s


async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as client:
        yield client


@pytest.fixture
async def scaled() -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(Settings(access_log=False, time_scale=SCALE)):
        yield client


@pytest.mark.parametrize("operation", ["stream", "invoke", "batch"])
async def test_gateway_timeout_is_cloudflares_524_page_everywhere(
    scaled: httpx.AsyncClient, operation: str
) -> None:
    response = await post_forced(scaled, operation, "gateway-timeout")
    assert response.status_code == 524
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["server"] == "cloudflare"
    assert "<h1>A timeout occurred</h1>" in response.text
    assert "Error code 524" in response.text


async def test_gateway_timeout_waits_its_scaled_time_and_is_journaled(
    scaled: httpx.AsyncClient,
) -> None:
    response = await scaled.post(url("invoke"), headers=forced("gateway-timeout"), json=BODY)
    assert response.status_code == 524
    assert response.elapsed.total_seconds() >= 100 * SCALE
    (entry,) = (await scaled.get("/_emulator/journal")).json()["entries"]
    assert entry["status"] == 524
    assert "scripted gateway timeout: 524 after 0.1 s" in entry["error"]


async def test_a_504_gateway_is_an_alb_page() -> None:
    settings = Settings(
        access_log=False,
        time_scale=SCALE,
        wire=WireOptions(preset="gateway-timeout", status=504, timeout_seconds=10),
    )
    async for client in _client(settings):
        response = await client.post(url("stream"), headers=AUTH, json=BODY)
        assert response.status_code == 504
        assert response.headers["server"] == "awselb/2.0"
        assert "<center><h1>504 Gateway Time-out</h1></center>" in response.text


@pytest.mark.parametrize("operation", ["invoke", "batch"])
async def test_idle_cut_answers_a_reply_slower_than_the_limit_with_504(
    scaled: httpx.AsyncClient, operation: str
) -> None:
    response = await post_forced(scaled, operation, "idle-cut")
    assert response.status_code == 504
    assert "504 Gateway Time-out" in response.text


async def test_idle_cut_leaves_a_quick_invoke_alone() -> None:
    settings = Settings(access_log=False, wire=WireOptions(preset="idle-cut"))
    async for client in _client(settings):
        response = await client.post(url("invoke"), headers=AUTH, json=BODY)
        assert response.status_code == 200
        assert response.json()["message"].startswith("Hello!")


@pytest.mark.parametrize(
    "name", ["wire-crlf", "wire-oversize", "proxy-buffered", "chunked-cut", "wire-everything"]
)
async def test_other_wire_options_do_not_change_invoke(
    scaled: httpx.AsyncClient, name: str
) -> None:
    response = await scaled.post(url("invoke"), headers=forced(name), json=BODY)
    assert response.status_code == 200
    assert response.json()["message"] == "Grüße aus Köln! Ça va? ✓ 日本語も大丈夫 🙂"


async def test_the_journal_lists_the_events_of_a_wired_stream(scaled: httpx.AsyncClient) -> None:
    response = await scaled.post(url("stream"), headers=forced("wire-oversize"), json=BODY)
    assert response.status_code == 200
    (entry,) = (await scaled.get("/_emulator/journal")).json()["entries"]
    assert entry["events"][:2] == [
        {"message": "", "event": "on_chat_model_start"},
        {"wire": "oversize", "event": "on_tool_end", "bytes": "1048576"},
    ]
    assert entry["events"][-1] == {"message": "", "event": "on_chat_model_end"}


async def test_without_wire_the_stream_is_the_docs_framing(scaled: httpx.AsyncClient) -> None:
    response = await scaled.post(url("stream"), headers=forced("wire-baseline"), json=BODY)
    events = sse_events(response.content)
    assert "".join(e["message"] for e in events) == "Grüße aus Köln! Ça va? ✓ 日本語も大丈夫 🙂"


async def test_a_queued_reply_carries_its_wire_options(scaled: httpx.AsyncClient) -> None:
    queued = {"text": "from the queue", "wire": {"line_ending": "crlf", "event_ids": True}}
    assert (await scaled.post("/_emulator/queue", json=queued)).status_code in (200, 201)
    response = await scaled.post(url("stream"), headers=AUTH, json=BODY)
    assert response.content.startswith(
        b'id: 1\r\ndata: {"message": "", "event": "on_chat_model_start"}\r\n\r\n'
    )


async def test_bad_wire_options_in_the_queue_are_a_422_naming_them(
    scaled: httpx.AsyncClient,
) -> None:
    queued = {"text": "x", "wire": {"split": {"inside": "crlf"}}}
    response = await scaled.post("/_emulator/queue", json=queued)
    assert response.status_code == 422
    assert "needs line_ending: crlf" in response.text


async def test_a_gateway_timeout_keeps_the_turn(scaled: httpx.AsyncClient) -> None:
    await scaled.post(url("invoke"), headers=forced("gateway-timeout"), json=BODY)
    await scaled.post(url("invoke"), headers=AUTH, json=BODY)
    first, second = (await scaled.get("/_emulator/journal")).json()["entries"]
    assert (first["status"], first["turn"]) == (524, 1)
    assert (second["status"], second["turn"]) == (200, 2)  # the origin got the first message
