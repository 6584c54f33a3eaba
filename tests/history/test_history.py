"""The history checker in the test suite: a seeded short run on Redis (two processes, two
workers each, faults injected) and on the in-memory store (one process), each property a test
of its own; and proof that the checker catches a broken step, with the property and the seed.

Replay a failure: ``python -m tests.history --seed N [--backend memory] [--keep DIR]``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.history.check import Options, Outcome, run_and_check
from tests.history.plan import make_plan
from tests.history.properties import PROPERTIES, check
from tests.history.record import Boundary, History, Op, Read
from tests.history.workload import OP_HEADER

SEED = 20
NAMES = [p.__name__ for p in PROPERTIES] + ["no_traceback"]

# The step a fix replaced, put back in the servers by a sitecustomize module: after NOSCRIPT,
# the whole batch is sent again, steps that already ran included. The gathering window is
# widened (3 ms instead of one turn of the event loop) in both runs below, so that requests at
# different steps (a turn opening, another kept) share a pipeline often on a slow machine.
_WIDER_WINDOW = """
import asyncio

from vivi_emulator.store.redis.batch import ScriptBatcher

_call = ScriptBatcher.call


async def call(self, script, *args, **kwargs):
    if not self._scheduled:
        self._scheduled = True
        asyncio.get_running_loop().call_later(0.003, self._flush)
    return await _call(self, script, *args, **kwargs)


ScriptBatcher.call = call
"""

_WHOLE_BATCH_RETRY = """
from redis.exceptions import NoScriptError


def _parts(item):
    return (item.script, item.args) if hasattr(item, "script") else (item[0], item[1])


async def _send(self, batch):
    async def once():
        async with self._redis.pipeline(transaction=False) as pipe:
            for item in batch:
                script, args = _parts(item)
                pipe.evalsha(script.sha, 0, *args)
            return await pipe.execute(raise_on_error=False)

    replies = await once()
    if any(isinstance(r, NoScriptError) for r in replies):
        for script in {id(_parts(i)[0]): _parts(i)[0] for i in batch}.values():
            await self._redis.script_load(script.script)
        replies = await once()
    return replies


ScriptBatcher._send = _send
"""


@pytest.fixture(scope="module")
def on_redis(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    return run_and_check(SEED, "redis", tmp_path_factory.mktemp("history-redis"))


@pytest.fixture(scope="module")
def in_memory(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    return run_and_check(
        SEED, "memory", tmp_path_factory.mktemp("history-memory"), Options(rounds=3)
    )


def _holds(outcome: Outcome, name: str) -> None:
    found = [v for v in outcome.violations if v.property == name]
    assert not found, "\n".join(v.render(outcome.seed) for v in found)


@pytest.mark.parametrize("name", NAMES)
def test_property_on_redis(on_redis: Outcome, name: str) -> None:
    _holds(on_redis, name)


@pytest.mark.parametrize("name", NAMES)
def test_property_in_memory(in_memory: Outcome, name: str) -> None:
    _holds(in_memory, name)


def test_the_runs_did_what_they_planned(on_redis: Outcome, in_memory: Outcome) -> None:
    """The faults happened and the state was read: a run that did nothing proves nothing."""
    kinds = {b.kind for b in on_redis.history.boundaries}
    assert kinds == {"restart", "delete"}, kinds
    assert len(on_redis.history.reads) == 5
    assert len(in_memory.history.reads) == 3
    for outcome in (on_redis, in_memory):
        answered = [op for op in outcome.history.ops if op.status == 200 and op.replies]
        assert len(answered) > 100
        assert any(op.outcome == "hangup" for op in outcome.history.ops)
        assert outcome.history.override_rounds


def _sitecustomize(tmp_path: Path, *parts: str) -> dict[str, str]:
    (tmp_path / "sitecustomize.py").write_text("\n".join(parts), encoding="utf-8")
    return {"PYTHONPATH": str(tmp_path)}


def test_a_whole_batch_noscript_retry_is_caught(tmp_path: Path) -> None:
    env = _sitecustomize(tmp_path, _WIDER_WINDOW, _WHOLE_BATCH_RETRY)
    outcome = run_and_check(SEED, "redis", tmp_path, Options(2, "flush", env))
    # A step that ran twice: a turn opened twice (one never settled), or an entry journaled
    # twice; which one shows depends on which steps shared a pipeline.
    twice = {"turns_without_unexplained_gaps", "journal_one_entry_per_answer"}
    assert outcome.violated & twice, outcome.report()
    assert outcome.violated <= twice | {"turns_unique"}, outcome.report()
    assert f"(seed {SEED})" in outcome.report()


def test_the_same_run_holds_without_the_broken_step(tmp_path: Path) -> None:
    """The control of the test above: the same run, the same wider window, the real retry."""
    env = _sitecustomize(tmp_path, _WIDER_WINDOW)
    outcome = run_and_check(SEED, "redis", tmp_path, Options(2, "flush", env))
    assert not outcome.violations, outcome.report()


def test_a_seed_gives_the_same_plan() -> None:
    assert make_plan(7, "redis", 3, 6.0) == make_plan(7, "redis", 3, 6.0)
    assert make_plan(7, "redis", 3, 6.0) != make_plan(8, "redis", 3, 6.0)


# --- the properties themselves, on histories made by hand ---------------------------------------


def _answer(op_id: int, thread: str, reply: str, start: float, channel: str = "cfg-a") -> Op:
    return Op(
        op_id, "invoke", 0, channel, start, start + 0.01, 200, start + 0.01, "ok",
        key="k", threads=(thread,), messages=(f"m{op_id}",), replies=(reply,),
    )  # fmt: skip


def _names(history: History) -> set[str]:
    return {v.property for v in check(history, [])}


def test_a_turn_given_twice_is_named() -> None:
    history = History(1, "memory")
    history.ops += [_answer(1, "t", "t=1 p= m=m1", 0.0), _answer(2, "t", "t=1 p= m=m2", 0.0)]
    assert "turns_unique" in _names(history)


def test_a_turn_skipped_in_a_quiet_thread_is_named() -> None:
    history = History(1, "memory")
    history.ops += [_answer(1, "t", "t=1 p= m=m1", 0.0), _answer(2, "t", "t=3 p=m1 m=m2", 1.0)]
    assert _names(history) == {"turns_without_unexplained_gaps"}


def test_a_gap_after_a_store_fault_is_explained() -> None:
    history = History(1, "memory")
    failed = _answer(2, "t", "", 0.5)
    failed.status, failed.replies = 503, ()
    history.ops += [_answer(1, "t", "t=1 p= m=m1", 0.0), failed]
    history.ops.append(_answer(3, "t", "t=3 p=m1 m=m3", 1.0))
    assert _names(history) == set()


def test_a_queued_reply_consumed_twice_is_named() -> None:
    history = History(1, "memory")
    push = Op(1, "push", 0, "q", 0.0, 0.01, 201, 0.01, "ok", data={"name": "Q1"})
    history.ops += [push, _answer(2, "a", "Q1 t=1 p= m=m2", 1.0, "q")]
    history.ops.append(_answer(3, "b", "Q1 t=1 p= m=m3", 2.0, "q"))
    assert "queued_reply_consumed_once" in _names(history)


def test_a_key_accepted_after_its_rotation_is_named() -> None:
    history = History(1, "memory", retired={"k": 0.5})
    history.ops.append(_answer(1, "t", "t=1 p= m=m1", 1.0))
    assert _names(history) == {"key_refused_after_rotation"}


def test_a_turn_of_a_deleted_generation_is_named() -> None:
    history = History(1, "memory")
    history.boundaries.append(Boundary("delete", "dc", 0.4, 0.6, 0.5))
    history.ops += [_answer(1, "t", "t=1 p= m=m1", 0.0, "dc")]
    history.ops.append(_answer(2, "t", "t=2 p=m1 m=m2", 1.0, "dc"))
    assert "deleted_channel_invisible" in _names(history)


def _refused_then_read(delete_answered: int) -> History:
    """A batch to the deleted-and-made-again channel refused 404 (the channel not there: Redis
    just emptied by a restart), its entry journaled under the channel id; then the channel's
    delete, answered ``delete_answered``, and made again; then a read that finds the entry."""
    history = History(1, "redis")
    history.boundaries.append(Boundary("restart", None, 0.0, 2.0))
    refused = Op(
        1, "batch", 0, "dc", 0.1, 0.11, 404, 0.11, "ok", key="k", threads=("t",),
        messages=("m1x0",), data={"body": '{"detail": "unknown channel \'dc\'"}'},
    )  # fmt: skip
    history.ops.append(refused)
    ended = delete_answered == 200
    history.boundaries.append(Boundary("delete", "dc", 0.4, 0.6, 0.5, ended=ended))
    entry = {"id": 8, "status": 404, "headers": {OP_HEADER: "1"}}
    history.reads.append(Read(3.0, {"dc": [entry]}, [], {}, {}, [], []))
    return history


def test_an_entry_kept_past_a_delete_is_named() -> None:
    assert "deleted_channel_invisible" in _names(_refused_then_read(200))


def test_an_entry_kept_past_a_delete_that_found_no_channel_is_not_named() -> None:
    """The delete answered 404: nothing was deleted (the restart had emptied Redis, the channel
    was not made again yet), so the refused request's entry is of no ended generation."""
    assert "deleted_channel_invisible" not in _names(_refused_then_read(404))
