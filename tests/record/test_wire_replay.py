"""Byte-exact replay (`replay: wire`): a stream recorded through `vivi-emulator record`, its reads
cut inside a UTF-8 character and across events, with gaps, comes back from `serve --fixtures`
chunk for chunk (each chunk of the chunked body one write, read off a raw socket), with the same
gaps within TOLERANCE, on both servers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
import yaml
from starlette.types import Receive, Scope, Send

from vivi_emulator.record.proxy import RecordingProxy
from vivi_emulator.scenarios.loader import parse_file

from tests.contract.standin import serve
from tests.server import Running, start
from tests.support import CHANNEL, KEY, THREAD
from tests.wire.raw import request

# A replayed gap may differ from the recorded one by this much, either way: a late wake-up of
# the player, or of the recorder's read (a loaded machine), moves a chunk.
TOLERANCE = 0.25
GAPS = (0.5, 0.7)  # seconds between the upstream's writes
START = b'data: {"message": "", "event": "on_chat_model_start"}\n\n'
GREETING = 'data: {"message": "Grüße", "event": "on_chat_model_stream"}\n\n'.encode()
END = b'data: {"message": "", "event": "on_chat_model_end"}\n\n'
INSIDE_U = GREETING.index("ü".encode()) + 1  # after the first of its two bytes
# The upstream's writes: the first ends inside "ü", the second inside the end event.
WRITES = [START + GREETING[:INSIDE_U], GREETING[INSIDE_U:] + END[:12], END[12:]]


async def upstream(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"text/event-stream; charset=utf-8")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for index, chunk in enumerate(WRITES):
        if index:
            await anyio.sleep(GAPS[index - 1])
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("recordings")
    with serve(upstream) as upstream_base:
        proxy = RecordingProxy(upstream_base, folder, timeout=10)
        with serve(proxy) as base:
            response = httpx.post(
                f"{base}/channelsApi/{CHANNEL}/stream",
                json={"message": "replay me", "threadId": THREAD},
                headers={"vivi-api-key": KEY},
                timeout=10,
            )
    assert response.content == b"".join(WRITES)
    return proxy.recording.path


@pytest.fixture(scope="module", params=["granian", "uvicorn"])
def server(request: pytest.FixtureRequest, recorded: Path) -> Iterator[Running]:
    running = start("--server", request.param, "--fixtures", str(recorded.parent), "--no-reload")
    yield running
    _, out = running.stop()
    assert "Traceback" not in out, out


def _name(recorded: Path) -> str:
    [scenario] = yaml.safe_load(recorded.read_text())["scenarios"]
    return str(scenario["name"])


def test_the_recording_keeps_each_read_and_its_gap(recorded: Path) -> None:
    [scenario], problems = parse_file(recorded)
    assert problems == []
    assert scenario.replay == "wire"
    assert scenario.chunks is not None
    assert [c.size for c in scenario.chunks] == [len(w) for w in WRITES]
    for chunk, gap in zip(scenario.chunks[1:], GAPS, strict=True):
        assert abs(chunk.after_ms / 1000.0 - gap) < TOLERANCE


def test_the_replay_sends_the_recorded_chunks_with_their_gaps(
    server: Running, recorded: Path
) -> None:
    response = request(server.base_url, scenario=_name(recorded))
    assert response.status == 200
    assert response.chunks == WRITES  # a UTF-8 character and an event cut where they were
    assert response.terminated
    gaps = [b - a for a, b in zip(response.arrivals, response.arrivals[1:], strict=False)]
    assert len(gaps) == len(GAPS)
    for replayed, gap in zip(gaps, GAPS, strict=True):
        assert abs(replayed - gap) < TOLERANCE, (gaps, GAPS)


def test_invoke_still_answers_the_recorded_events(server: Running, recorded: Path) -> None:
    response = request(server.base_url, "invoke", scenario=_name(recorded))
    assert response.status == 200
    assert json.loads(response.data or response.body)["message"] == "Grüße"
