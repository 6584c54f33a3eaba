"""Redis unreachable at start, or lost while serving: a clear error, never a traceback."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.redis_server import RedisServer
from tests.server import CLI, SERVERS, free_port, start
from tests.support import AUTH, THREAD, assert_clean

BODY = {"message": "hi", "threadId": THREAD}


def test_redis_down_at_start_stops_serve_with_a_clear_error() -> None:
    port = free_port()
    done = subprocess.run(
        [CLI, "serve", "--port", str(free_port()), "--state", f"redis://127.0.0.1:{port}/0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert f"the state store (Redis at 127.0.0.1:{port}/0) is unavailable" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_workers_without_a_shared_store_are_refused() -> None:
    done = subprocess.run(
        [CLI, "serve", "--port", str(free_port()), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "need a shared state store" in done.stderr
    assert "--state redis://" in done.stderr


@pytest.mark.parametrize("server", SERVERS)
def test_redis_lost_while_serving_is_a_503_and_service_resumes(
    fresh_redis: RedisServer, server: str
) -> None:
    emulator = start("--state", fresh_redis.url, "--server", server)
    invoke = f"{emulator.base_url}/channelsApi/demo-channel/invoke"
    try:
        assert httpx.post(invoke, headers=AUTH, json=BODY).status_code == 200
        fresh_redis.stop()
        lost = httpx.post(invoke, headers=AUTH, json=BODY, timeout=15)
        assert lost.status_code == 503
        assert "is unavailable" in lost.json()["detail"]
        health = httpx.get(f"{emulator.base_url}/_emulator/health", timeout=15)
        assert health.status_code == 503
        fresh_redis.start()  # returns once Redis answers (empty: no persistence)
        back = httpx.post(invoke, headers=AUTH, json=BODY, timeout=15)
        assert back.status_code == 200, back.text
        assert httpx.get(f"{emulator.base_url}/_emulator/health").status_code == 200
    finally:
        code, log = emulator.stop()
    assert code == 0
    assert_clean(log)
