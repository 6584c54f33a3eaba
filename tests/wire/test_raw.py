"""Wire options on a real socket, under both servers: the bytes, the writes, the cuts.

Each chunk of the chunked body is one write of the emulator (one ASGI body message); the raw
client parses the chunk framing itself, so write boundaries are checked exactly, whatever TCP
did with them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vivi_emulator import sse
from vivi_emulator.resources import default_fixtures_dir
from vivi_emulator.scenarios.context import RequestContext
from vivi_emulator.scenarios.engine import BuildOptions, build_script
from vivi_emulator.scenarios.loader import parse_file
from vivi_emulator.scenarios.model import Scenario
from vivi_emulator.wire import plan

from tests.server import Running, start
from tests.support import CHANNEL, THREAD
from tests.wire.raw import request

SCALE = 0.02  # idle-cut: 1.2 s; gateway-timeout: 2 s
FRAMES = 13  # start, the reply's 11 tokens, end
KIT: dict[str, Scenario] = {s.name: s for s in parse_file(default_fixtures_dir() / "wire.yaml")[0]}


@pytest.fixture(scope="module", params=["granian", "uvicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[Running]:
    running = start(
        "--server", request.param, "--time-scale", str(SCALE), "--no-reload", "--no-access-log"
    )
    yield running
    _, out = running.stop()
    assert "Traceback" not in out, out


def planned(name: str) -> list[bytes]:
    """The writes the plan makes for a kit scenario, as the server's engine builds it."""
    ctx = RequestContext(CHANNEL, "hello", THREAD, None, (), 1, {})
    return [
        data
        for _, data, _ in plan(build_script(KIT[name], ctx, BuildOptions(time_scale=SCALE))).writes
    ]


def docs_frame(message: str, event: str = "on_chat_model_stream") -> bytes:
    return f'data: {{"message": "{message}", "event": "{event}"}}\n\n'.encode()


def test_the_default_stream_is_the_docs_framing_byte_for_byte(server: Running) -> None:
    response = request(server.base_url)  # "hello": the greeting scenario, no wire options
    assert response.status == 200
    assert response.header("content-type") == ["text/event-stream; charset=utf-8"]
    assert response.header("cache-control") == ["no-cache"]
    assert response.header("x-accel-buffering") == ["no"]
    chunks = ["Hello", "!", " I", " am", " the", " VIVI", " emul", "ator", ".", " How", " can"]
    chunks += [" I", " help", " you", " today", "?"]
    assert response.chunks == [
        docs_frame("", "on_chat_model_start")
        + b"".join(docs_frame(c) for c in chunks)
        + docs_frame("", "on_chat_model_end")
    ]  # due together: one write
    assert response.terminated


def test_the_kit_baseline_escapes_non_ascii_as_the_docs_do(server: Running) -> None:
    response = request(server.base_url, scenario="wire-baseline")
    assert response.data.isascii()
    assert docs_frame("Gr\\u00fc\\u00dfe") in response.data
    assert docs_frame(" \\ud83d\\ude42") in response.data  # 🙂, as json.dumps escapes it


@pytest.mark.parametrize(
    "name",
    [
        "wire-crlf",
        "wire-cr",
        "wire-bom",
        "wire-utf8",
        "wire-split-utf8",
        "wire-split-crlf",
        "wire-split-bytes",
        "wire-split-random",
        "wire-coalesce",
        "wire-coalesce-split",
        "wire-keepalive",
        "wire-event-ids",
        "wire-oversize",
        "wire-everything",
        "proxy-buffered",
    ],
)
def test_each_write_of_the_plan_is_one_chunk_on_the_socket(server: Running, name: str) -> None:
    response = request(server.base_url, scenario=name)
    assert response.status == 200
    assert response.chunks == planned(name)
    assert response.terminated


def test_crlf_and_cr_framing(server: Running) -> None:
    crlf = request(server.base_url, scenario="wire-crlf").data
    assert crlf.startswith(b'data: {"message": "", "event": "on_chat_model_start"}\r\n\r\n')
    assert crlf.count(b"\r\n\r\n") == FRAMES
    assert b"\n" not in crlf.replace(b"\r\n", b"")
    cr = request(server.base_url, scenario="wire-cr").data
    assert cr.endswith(b'data: {"message": "", "event": "on_chat_model_end"}\r\r')
    assert b"\n" not in cr


def test_bom_and_raw_utf8(server: Running) -> None:
    assert request(server.base_url, scenario="wire-bom").data.startswith(b"\xef\xbb\xbfdata: ")
    raw = request(server.base_url, scenario="wire-utf8").data
    assert 'data: {"message": " 🙂", "event": "on_chat_model_stream"}\n\n'.encode() in raw


def test_a_split_utf8_stream_has_writes_that_are_not_utf8_on_their_own(server: Running) -> None:
    response = request(server.base_url, scenario="wire-split-utf8")
    broken = 0
    for chunk in response.chunks:
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            broken += 1
    assert broken >= 10
    assert response.data == request(server.base_url, scenario="wire-utf8").data


def test_split_crlf_puts_cr_and_lf_in_separate_writes(server: Running) -> None:
    chunks = request(server.base_url, scenario="wire-split-crlf").chunks
    assert chunks[:3] == [
        b'data: {"message": "", "event": "on_chat_model_start"}\r',
        b"\n\r",
        b"\n",
    ]
    assert all(not c.endswith(b"\r\n") for c in chunks)


def test_split_bytes_is_one_byte_a_chunk(server: Running) -> None:
    chunks = request(server.base_url, scenario="wire-split-bytes").chunks
    assert set(map(len, chunks)) == {1}
    assert b"".join(chunks) == request(server.base_url, scenario="wire-utf8").data


def test_keepalive_comments_while_the_agent_thinks(server: Running) -> None:
    chunks = request(server.base_url, scenario="wire-keepalive").chunks
    assert chunks[1:4] == [b": ping\n\n"] * 3  # 3.5 s before the first chunk, a ping a second
    assert chunks[4].startswith(b'data: {"message": "Gr\\u00fc')


def test_event_ids_and_retry(server: Running) -> None:
    data = request(server.base_url, scenario="wire-event-ids").data
    assert data.startswith(
        b'retry: 3000\nid: 1\ndata: {"message": "", "event": "on_chat_model_start"}\n\n'
        b'id: 2\ndata: {"message": "Gr\\u00fc\\u00dfe", "event": "on_chat_model_stream"}\n\n'
    )
    assert data.endswith(b'id: 13\ndata: {"message": "", "event": "on_chat_model_end"}\n\n')


def test_oversize_line_is_exactly_one_mebibyte(server: Running) -> None:
    frames = sse.split_frames(request(server.base_url, scenario="wire-oversize").data)
    assert len(frames[1]) == 1_048_576 + len(b"\n\n")
    assert frames[1].endswith(b'", "event": "on_tool_end"}\n\n')


def test_proxy_buffered_sends_the_whole_stream_at_its_end(server: Running) -> None:
    response = request(server.base_url, scenario="proxy-buffered")
    (chunk,) = response.chunks
    assert chunk.count(b"\n\n") == FRAMES
    assert response.arrivals[0] >= (FRAMES - 1) * 0.2 * SCALE  # not before the end was due


def test_idle_cut_closes_the_connection_without_the_terminator(server: Running) -> None:
    response = request(server.base_url, scenario="idle-cut")
    assert response.status == 200
    assert response.chunks == planned("idle-cut")
    assert response.data.count(b"\n\n") == 2  # the start and the first chunk, then silence
    assert not response.terminated
    assert response.closed
    assert response.closed_at is not None
    assert response.closed_at >= 60 * SCALE


def test_gateway_timeout_is_a_524_page_after_the_wait(server: Running) -> None:
    response = request(server.base_url, scenario="gateway-timeout")
    assert response.status == 524
    assert response.header("content-type") == ["text/html; charset=utf-8"]
    assert "cloudflare" in response.header("server")
    assert b"Error code 524" in response.body
    assert response.closed_at is None or response.closed_at >= 100 * SCALE


def test_chunked_cut_sends_every_event_then_no_terminator(server: Running) -> None:
    response = request(server.base_url, scenario="chunked-cut")
    assert response.data.endswith(b'data: {"message": "", "event": "on_chat_model_end"}\n\n')
    assert not response.terminated
    assert response.closed


def test_chunked_cut_mid_frame(server: Running) -> None:
    response = request(server.base_url, scenario="chunked-cut-mid-frame")
    assert len(response.data) == 150
    assert not response.data.endswith(b"\n\n")
    assert not response.terminated
    assert response.closed


def test_the_server_is_healthy_after_every_cut(server: Running) -> None:
    for name in ("chunked-cut", "chunked-cut-mid-frame", "idle-cut"):
        request(server.base_url, scenario=name)
    assert request(server.base_url).terminated
