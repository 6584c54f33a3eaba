"""Scenarios as a client sees them, on every endpoint."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from vivi_emulator import sse
from vivi_emulator.settings import Settings

from tests.server import start
from tests.support import BODY, THREAD, chunks_text, forced, post_forced, sse_events, url


async def test_header_forces_a_scenario(client: httpx.AsyncClient) -> None:
    response = await client.post(url("invoke"), headers=forced("tool-call"), json=BODY)
    assert response.json()["message"].startswith("Based on 3 documents")


async def test_unknown_scenario_is_422_naming_the_known_ones(client: httpx.AsyncClient) -> None:
    response = await client.post(url("stream"), headers=forced("nope"), json=BODY)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "unknown scenario 'nope'" in detail
    for name in ("greeting", "rate-limited", "echo"):
        assert name in detail
    assert response.json()["errors"][0]["field"] == "x-vivi-scenario"


@pytest.mark.parametrize("operation", ["stream", "invoke", "batch"])
async def test_rate_limited_is_429_with_retry_after_everywhere(
    client: httpx.AsyncClient, operation: str
) -> None:
    response = await post_forced(client, operation, "rate-limited")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.headers["content-type"] == "application/json"
    assert "rate limit" in response.json()["detail"]


@pytest.mark.parametrize(("name", "status"), [("server-error", 500), ("service-unavailable", 503)])
async def test_status_scenarios(client: httpx.AsyncClient, name: str, status: int) -> None:
    for operation in ("stream", "invoke"):
        response = await client.post(url(operation), headers=forced(name), json=BODY)
        assert response.status_code == status
        assert "detail" in response.json()


async def test_tool_call_events_come_between_start_and_end(client: httpx.AsyncClient) -> None:
    response = await client.post(url("stream"), headers=forced("tool-call"), json=BODY)
    names = [e["event"] for e in sse_events(response.content)]
    assert names[:3] == ["on_chat_model_start", "on_tool_start", "on_tool_end"]
    assert names[-1] == "on_chat_model_end"
    assert set(names[3:-1]) == {"on_chat_model_stream"}


async def test_malformed_frame_as_the_client_sees_it(client: httpx.AsyncClient) -> None:
    response = await client.post(url("stream"), headers=forced("malformed"), json=BODY)
    frames = sse.split_frames(response.content)
    assert frames[2] == b"data: {this is not json\n\n"
    assert frames[-1] == b'data: {"message": "", "event": "on_chat_model_end"}\n\n'
    invoked = await client.post(url("invoke"), headers=forced("malformed"), json=BODY)
    assert invoked.status_code == 500
    assert "malformed" in invoked.json()["detail"]


async def test_error_event_ends_the_stream(client: httpx.AsyncClient) -> None:
    response = await client.post(url("stream"), headers=forced("error-event"), json=BODY)
    events = sse_events(response.content)
    assert events[-1] == {"message": "tool call failed: timeout", "event": "on_chain_error"}
    assert "on_chat_model_end" not in [e["event"] for e in events]
    batch = await client.post(
        url("batch"), headers=forced("error-event"), json={"messages": [BODY]}
    )
    assert batch.status_code == 500
    assert "on_chain_error" in batch.json()["detail"]


async def test_no_end(client: httpx.AsyncClient) -> None:
    response = await client.post(url("stream"), headers=forced("no-end"), json=BODY)
    events = sse_events(response.content)
    assert events[0]["event"] == "on_chat_model_start"
    assert events[-1]["event"] == "on_chat_model_stream"
    assert (
        await client.post(url("invoke"), headers=forced("no-end"), json=BODY)
    ).status_code == 500


async def test_long_has_about_680_chunks(client: httpx.AsyncClient) -> None:
    response = await client.post(url("stream"), headers=forced("long"), json=BODY)
    assert 630 <= len(sse_events(response.content)) - 2 <= 730


async def test_a_conversation_by_turns_per_thread_and_channel(client: httpx.AsyncClient) -> None:
    other = str(uuid.uuid4())
    replies = []
    for thread in (THREAD, THREAD, other, THREAD):
        body = {"message": "hi", "threadId": thread}
        response = await client.post(url("invoke"), headers=forced("echo-turns"), json=body)
        replies.append(response.json()["message"])
    assert replies == ["turn 1: hi", "turn 2, after 'hi'", "turn 1: hi", "turn 3 and later"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "extra.yaml").write_text(
        "scenarios:\n"
        "  - name: echo-turns\n"
        "    turns:\n"
        "      - text: 'turn {{turn}}: {{message}}'\n"
        "      - text: \"turn {{turn}}, after '{{previous_message}}'\"\n"
        "      - text: turn 3 and later\n"
        "  - name: paced\n"
        "    text: a b c d\n"
        "    timing: {first_chunk_ms: 200, chunk_ms: 100}\n"
        "  - name: cached\n"
        "    text: x\n"
        "    headers: {Cache-Control: 'private, max-age=5', X-Trace: a, x-trace: b}\n"
        "  - name: limited\n"
        "    headers: {retry-after: '9'}\n"
        "    status: {code: 429, headers: {Retry-After: '3'}}\n"
    )
    return Settings(access_log=False, reload_fixtures=False, fixtures=(tmp_path,))


async def test_invoke_takes_as_long_as_the_stream(client: httpx.AsyncClient) -> None:
    started = time.perf_counter()
    response = await client.post(url("invoke"), headers=forced("paced"), json=BODY)
    assert response.json()["message"] == "a b c d"
    assert time.perf_counter() - started >= 0.5  # 200 + 3 x 100 ms, never sooner


def test_on_a_socket_events_arrive_on_schedule_and_disconnect_cuts_the_stream(
    tmp_path: Path,
) -> None:
    (tmp_path / "paced.yaml").write_text(
        "scenarios:\n"
        "  - {name: paced, text: a b c d, timing: {first_chunk_ms: 200, chunk_ms: 100}}\n"
    )
    emulator = start("--fixtures", str(tmp_path))
    try:
        arrivals: list[tuple[float, bytes]] = []
        with httpx.Client(base_url=emulator.base_url, timeout=10) as http:
            started = time.perf_counter()
            with http.stream("POST", url("stream"), headers=forced("paced"), json=BODY) as stream:
                for line in stream.iter_lines():
                    if line:
                        arrivals.append((time.perf_counter() - started, line.encode()))
            schedule = [0.0, 0.2, 0.3, 0.4, 0.5, 0.5]
            assert len(arrivals) == len(schedule)
            for (arrived, _), due in zip(arrivals, schedule, strict=True):
                assert arrived >= due - 0.005, (arrived, due)  # never early
                assert arrived <= due + 1.0, (arrived, due)  # late only by a busy machine's noise

            seen: list[str] = []
            with (  # noqa: PT012 - reading the stream is what raises
                pytest.raises(httpx.RemoteProtocolError),
                http.stream("POST", url("stream"), headers=forced("disconnect"), json=BODY) as s,
            ):
                for line in s.iter_lines():
                    if line:
                        seen.append(line)
            assert len(seen) == 3
            assert chunks_text(sse_events("\n\n".join(seen).encode() + b"\n\n")) == "This reply"
            assert http.get("/_emulator/health").status_code == 200
    finally:
        code, out = emulator.stop()
    assert code == 0
    assert "Traceback" not in out
    assert "ERROR" not in out


async def test_scenario_headers_replace_the_streams_own(client: httpx.AsyncClient) -> None:
    response = await client.post(url("stream"), headers=forced("cached"), json=BODY)
    assert response.headers.get_list("cache-control") == ["private, max-age=5"]
    assert response.headers.get_list("x-trace") == ["b"]
    limited = await client.post(url("invoke"), headers=forced("limited"), json=BODY)
    assert limited.headers.get_list("retry-after") == ["3"]
