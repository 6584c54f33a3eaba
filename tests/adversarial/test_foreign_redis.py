"""Redis holding keys the emulator did not write under its prefix: a clear 503, never a 500.

Another program's keys, or values of the wrong type, under ``vivi:`` (a shared database, a
hand-edited key): a number that is not one and JSON that is not an emulator's were 500s with
"unexpected ValueError" in the log. Each is a 503 saying what is wrong and what to do, on both
servers; at start, ``serve`` stops with exit status 2 and says so.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.adversarial.conftest import Served, log_problems, serve, stop
from tests.redis_server import RedisServer
from tests.server import SERVERS, free_port, run_cli
from tests.support import AUTH, THREAD, url

BODY = {"message": "hi", "threadId": THREAD}
FOREIGN = "holds data under the prefix 'vivi:' that the emulator did not write"

# What another program may have left under the prefix (Redis commands), and the operation that
# meets it.
CORRUPTIONS: dict[str, tuple[list[tuple[str, ...]], str]] = {
    "a key version that is not a number": ([("HSET", "vivi:meta", "keys", "x")], "invoke"),
    "the meta hash as a list": ([("DEL", "vivi:meta"), ("RPUSH", "vivi:meta", "1")], "invoke"),
    "the threads as a string": ([("DEL", "vivi:threads"), ("SET", "vivi:threads", "1")], "invoke"),
    "the journal as a string": ([("DEL", "vivi:j"), ("SET", "vivi:j", "1")], "invoke"),
    # The overrides are a hash of one JSON value per setting (the composed Redis store).
    "overrides that are not JSON": ([("HSET", "vivi:ov:", "forced", "{not json")], "invoke"),
    "overrides as a string": ([("SET", "vivi:ov:", "{not json")], "invoke"),
    "the queue as a string": ([("SET", "vivi:q:", "1")], "invoke"),
    "a byte count that is not a number": ([("SET", "vivi:fbytes", "x")], "files"),
    "the files as a hash": ([("DEL", "vivi:files"), ("HSET", "vivi:files", "a", "1")], "files"),
}


@pytest.fixture(scope="module")
def redis_for_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("foreign-redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=SERVERS)
def on_redis(
    request: pytest.FixtureRequest,
    redis_for_suite: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    log = tmp_path_factory.mktemp(f"foreign-{request.param}") / "server.log"
    served = serve(request.param, log, "--state", redis_for_suite.url)
    yield served
    text = stop(served)
    assert log_problems(text) == [], text


def _command(port: int, *words: str) -> None:
    """One Redis command, sent as the protocol's array of bulk strings."""
    request = f"*{len(words)}\r\n" + "".join(f"${len(w.encode())}\r\n{w}\r\n" for w in words)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request.encode())
        assert not conn.recv(256).startswith(b"-"), words


def _send(served: Served, operation: str) -> httpx.Response:
    if operation == "files":
        return served.http.post(url("files"), headers=AUTH, files={"files": ("a.txt", b"a")})
    return served.http.post(url(operation), headers=AUTH, json=BODY)


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_foreign_data_under_the_prefix_is_a_clear_503(
    on_redis: Served, redis_for_suite: RedisServer, corruption: str
) -> None:
    redis_for_suite.flush()
    commands, operation = CORRUPTIONS[corruption]
    assert _send(on_redis, operation).status_code == 200  # seeded again, working
    for command in commands:
        _command(redis_for_suite.port, *command)
    response = _send(on_redis, operation)
    assert response.status_code == 503, response.text
    assert FOREIGN in response.json()["detail"]
    assert response.headers["retry-after"] == "1"
    redis_for_suite.flush()
    assert _send(on_redis, operation).status_code == 200  # and it recovers once emptied
    assert log_problems(on_redis.log()) == []


def test_foreign_data_at_start_stops_serve_with_a_clear_error(
    redis_for_suite: RedisServer, tmp_path: Path
) -> None:
    redis_for_suite.flush()
    _command(redis_for_suite.port, "SET", "vivi:keys", "another program's")
    done = run_cli("serve", "--port", str(free_port()), "--state", redis_for_suite.url)
    redis_for_suite.flush()
    assert done.returncode == 2
    assert FOREIGN in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
