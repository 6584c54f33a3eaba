"""The failure scenarios behave as they will against VIVI, in every mode the fixture offers: the
session's own emulator and a shared one given by URL. One test file, the same outcomes."""

from __future__ import annotations

import pytest

from tests.pytest_plugin.test_fixture import QUIET
from tests.server import Running

pytest_plugins = ["pytester"]

FAILURES = """
import time
import uuid

import anyio
import httpx
import pytest
import requests


def body():
    return {"message": "hello", "threadId": str(uuid.uuid4())}


def post_stream(vivi_emulator, timeout=10):
    return requests.post(
        vivi_emulator.url("stream"), headers=vivi_emulator.headers, json=body(), stream=True,
        timeout=timeout,
    )


def test_slow_streams_each_event_at_its_time(vivi_emulator):
    vivi_emulator.force("slow")
    started = time.monotonic()
    with post_stream(vivi_emulator) as response:
        arrivals = [time.monotonic() - started for line in response.iter_lines() if line]
    start, first_token, end = arrivals[0], arrivals[1], arrivals[-1]
    assert start < first_token - 0.5  # the start event at once, not with the rest
    assert first_token >= 0.9  # about a second to the first token
    assert end - first_token >= 0.5  # then about 50 ms a chunk


def test_disconnect_is_requests_own_protocol_error(vivi_emulator):
    vivi_emulator.force("disconnect")
    with post_stream(vivi_emulator) as response:
        lines = response.iter_lines()
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for _ in lines:
                pass


def test_disconnect_is_httpx_own_protocol_error(vivi_emulator):
    vivi_emulator.force("disconnect")

    async def read():
        events = []
        async with vivi_emulator.client() as client:
            async with client.stream("POST", vivi_emulator.url("stream"), json=body()) as reply:
                async for line in reply.aiter_lines():
                    events.append(line)
        return events

    with pytest.raises(httpx.RemoteProtocolError):
        anyio.run(read)


def test_stall_trips_the_clients_read_timeout(vivi_emulator):
    vivi_emulator.force("stall")
    timeout = httpx.Timeout(10, read=0.5)
    with vivi_emulator.sync_client(timeout=timeout) as client:
        with client.stream("POST", vivi_emulator.url("stream"), json=body()) as reply:
            events = (line for line in reply.iter_lines() if line)
            assert "on_chat_model_start" in next(events)
            started = time.monotonic()
            with pytest.raises(httpx.ReadTimeout):
                next(events)
    assert time.monotonic() - started < 4  # the client's timeout, not the stall's end (5 s)


def test_rate_limited_is_a_429_with_retry_after(vivi_emulator):
    vivi_emulator.force("rate-limited")
    with post_stream(vivi_emulator) as response:
        assert response.status_code == 429
        assert response.headers["retry-after"] == "2"


def test_error_event_ends_the_stream(vivi_emulator):
    vivi_emulator.force("error-event")
    with post_stream(vivi_emulator) as response:
        events = [line for line in response.iter_lines() if line]
    assert b"on_chain_error" in events[-1]
"""


@pytest.mark.parametrize("mode", ["own", "shared"])
def test_failure_scenarios_in_every_mode(
    pytester: pytest.Pytester, mode: str, shared_emulator: Running
) -> None:
    pytester.makepyfile(test_failures=FAILURES)
    args = list(QUIET)
    if mode == "shared":
        args += ["--vivi-emulator-url", shared_emulator.base_url]
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=6)
