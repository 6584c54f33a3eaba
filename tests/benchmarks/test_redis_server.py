"""The harness's own redis-server (target emulator-redis-2w): starts, answers, empties, stops."""

from __future__ import annotations

from harness.redis_server import RedisServer


def test_the_harness_starts_empties_and_stops_its_redis_server() -> None:
    redis = RedisServer()
    try:
        redis.ensure_started()
        assert redis.command("SET", "k", "v") == b"+OK\r\n"
        assert redis.command("DBSIZE") == b":1\r\n"
        redis.flush()
        assert redis.command("DBSIZE") == b":0\r\n"
        # Persistence is off: no snapshot rules, no append-only file.
        assert redis.command("CONFIG", "GET", "save") == b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n"
        assert redis.command("CONFIG", "GET", "appendonly").endswith(b"$2\r\nno\r\n")
        assert redis.proc is not None
        pid = redis.proc.pid
    finally:
        if redis.proc is not None:
            redis.proc.stop()
    assert redis.proc.popen.poll() is not None, pid
