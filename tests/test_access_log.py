from __future__ import annotations

import logging

import httpx
import pytest

from vivi_emulator.app import ViviApp, create_app
from vivi_emulator.settings import Settings

from tests.support import THREAD, url

SECRET = "k3y-that-must-never-be-logged"


@pytest.fixture
def app() -> ViviApp:
    return create_app(Settings.model_validate({"channels": [{"id": "c", "key": SECRET}]}))


async def test_one_line_per_request_without_the_key(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = {"vivi-api-key": SECRET}
    body = {"message": "hi", "threadId": THREAD}
    await client.post(url("stream", "c"), headers=headers, json=body)
    await client.post(url("invoke", "c"), headers={"vivi-api-key": SECRET + "x"}, json=body)
    await client.post(url("invoke", "c"), headers=headers, content=b"{bad json")
    await client.post(url("files", "c"), headers=headers, files={"files": (SECRET, b"x")})
    access = [r.getMessage() for r in caplog.records if r.name == "vivi_emulator.access"]
    assert len(access) == 4
    assert access[0].startswith("POST /channelsApi/c/stream channel=c status=200 ")
    assert "status=401" in access[1]
    assert "status=415" in access[2]
    for record in caplog.records:
        assert SECRET not in record.getMessage()


def test_batching_handler_writes_lines_soon_and_warnings_at_once() -> None:
    import io
    import time

    from vivi_emulator.access_log import BatchingHandler

    handler = BatchingHandler(interval=0.5)
    handler.setStream(io.StringIO())
    stream = handler.stream
    assert isinstance(stream, io.StringIO)
    log = logging.getLogger("tests.batching")
    log.propagate = False
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("first")
        log.info("second")
        assert stream.getvalue() == ""  # batched, not written line by line
        deadline = time.monotonic() + 5
        while stream.getvalue() != "first\nsecond\n" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stream.getvalue() == "first\nsecond\n"
        log.warning("now")
        assert stream.getvalue().endswith("now\n")
        log.info("pending at exit")
        handler.flush()  # what logging.shutdown does at exit
        assert stream.getvalue().endswith("pending at exit\n")
    finally:
        log.removeHandler(handler)
