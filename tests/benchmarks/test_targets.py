"""The targets: the emulator on Redis with one and with 2 workers, each on a store of its own."""

from __future__ import annotations

from harness.cli import parse_args
from harness.targets import build_targets


def test_each_redis_target_has_its_own_redis_server_and_its_workers() -> None:
    targets, notes = build_targets(parse_args(["--only", "emulator-redis-1w,emulator-redis-2w"]))
    assert notes == []  # redis-server is installed on the machines that run the harness
    one, two = targets["emulator-redis-1w"], targets["emulator-redis-2w"]
    assert (one.workers, two.workers) == (1, 2)
    assert one.redis is not None
    assert two.redis is not None
    assert one.redis is not two.redis  # one target's FLUSHALL must not empty the other's store
    for t in (one, two):
        argv = t.argv(8000)
        assert argv[argv.index("--workers") + 1] == str(t.workers)
        assert argv[argv.index("--state") + 1] == t.redis.url()  # type: ignore[union-attr]
    # Redis with one worker is measured on invoke and stream only; the delayed workload compares
    # each emulator with its floor.
    assert not one.scripted
    assert two.scripted
