"""1. An upload refused before its body is read still gets its answer, under concurrency.

granian (hyper) closed the connection of a request whose body the emulator had not read, and
the kernel's reset overtook the answer: 8 concurrent clients uploading 200 KB each with a wrong
key got ``httpx.ReadError`` instead of their 401 (drain.py says why). Every client must get the
status and the JSON ``detail``, on both servers, whatever refuses it: the key (401), the channel
(404), the state store (503, with ``Retry-After``: item 10).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.adversarial.conftest import Served, log_problems, serve, stop
from tests.redis_server import RedisServer
from tests.server import SERVERS
from tests.support import AUTH, url

BODY = b"x" * 200_000
CLIENTS = 8
ROUNDS = 5


def refused_uploads(base_url: str, path: str, headers: dict[str, str]) -> Counter[str]:
    """What ``CLIENTS`` concurrent clients on kept-alive connections got, ``ROUNDS`` times:
    ``"<status> <has detail> <Retry-After>"`` for each answer, the exception's name for each
    failure."""

    async def run() -> Counter[str]:
        seen: Counter[str] = Counter()
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:

            async def one() -> None:
                try:
                    answer = await client.post(
                        path, headers=headers, files={"files": ("a.bin", BODY)}
                    )
                except httpx.TransportError as exc:
                    seen[type(exc).__name__] += 1
                    return
                detail = bool(answer.json().get("detail"))
                retry = answer.headers.get("retry-after")
                seen[f"{answer.status_code} {detail} {retry}"] += 1

            for _ in range(ROUNDS):
                await asyncio.gather(*(one() for _ in range(CLIENTS)))
        return seen

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("channel", "key", "status"),
    [("demo-channel", "not-the-key", 401), ("no-such-channel", "demo-key", 404)],
)
def test_concurrent_refused_uploads_all_get_their_answer(
    served: Served, channel: str, key: str, status: int
) -> None:
    seen = refused_uploads(served.base_url, url("files", channel), {"vivi-api-key": key})
    assert seen == {f"{status} True None": CLIENTS * ROUNDS}


@pytest.mark.parametrize("server", SERVERS)
def test_concurrent_uploads_in_a_store_outage_all_get_a_503(
    fresh_redis: RedisServer, tmp_path: Path, server: str
) -> None:
    served = serve(server, tmp_path / "server.log", "--state", fresh_redis.url)
    try:
        fresh_redis.stop()
        seen = refused_uploads(served.base_url, url("files"), AUTH)
    finally:
        log = stop(served)
    # 10. The contract's 503 says when to try again.
    assert seen == {"503 True 1": CLIENTS * ROUNDS}
    assert log_problems(log) == []


def test_a_file_over_its_limit_is_a_413_naming_it(served: Served) -> None:
    """2. The file is refused once it passes the limit (it was read whole first); the client,
    still sending, gets the answer."""
    big = b"x" * (11 * 1024 * 1024)
    response = served.http.post(url("files"), headers=AUTH, files={"files": ("big.bin", big)})
    assert response.status_code == 413
    assert response.json()["detail"] == "file 'big.bin' is over the limit of 10485760 bytes"
