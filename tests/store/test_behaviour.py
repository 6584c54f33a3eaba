"""Both state stores behave the same: every test here runs on the in-memory store and on a real
redis-server (the ``state`` fixture)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import pytest

from vivi_emulator.journal import ChosenBy, ItemRecord, JournalEntry
from vivi_emulator.scenarios.latency import LatencyProfile
from vivi_emulator.scenarios.model import Scenario
from vivi_emulator.store import open_store
from vivi_emulator.store.base import (
    Bounds,
    ChannelGone,
    KeysMoved,
    QueueFull,
    QuotaExceeded,
    StateStore,
)
from vivi_emulator.store.memory import MemoryStore
from vivi_emulator.store.values import (
    KEEP,
    Conversation,
    NewFile,
    Overrides,
    QueuedReply,
    Turn,
    TurnEnd,
)

CHANNELS = {"a": "key-a", "b": "key-b"}
T1 = "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"
T2 = "7d1c2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"


@dataclass
class Stores:
    """Makes stores of the test's backend; ``advance`` lets time pass for bounds by time."""

    state: str
    now: list[float]
    made: list[StateStore]

    def make(self, **bounds: float) -> StateStore:
        chosen = Bounds(**bounds)  # type: ignore[arg-type]
        store: StateStore
        if self.state == "memory":
            store = MemoryStore(CHANNELS, chosen, clock=lambda: self.now[0])
        else:
            store = open_store(self.state, CHANNELS, chosen)
        self.made.append(store)
        return store

    async def advance(self, seconds: float) -> None:
        if self.state == "memory":
            self.now[0] += seconds
        else:  # Redis keeps time itself (TTLs, TIME): let it pass
            await anyio.sleep(seconds)


@pytest.fixture
async def stores(state: str) -> AsyncIterator[Stores]:
    made = Stores(state, [1000.0], [])
    yield made
    for store in made.made:
        await store.close()


def entry(
    channel: str = "a", path: str = "/channelsApi/a/invoke", status: int = 200
) -> JournalEntry:
    return JournalEntry(
        id=0,
        time=1.0,
        method="POST",
        path=path,
        channel=channel,
        headers=(("vivi-api-key", "[redacted]"),),
        status=status,
        body='{"message": "hi"}',
        items=(ItemRecord(T1, 1, "echo", ChosenBy.DEFAULT),),
    )


def reply(name: str, channel: str | None = None, **fields: object) -> QueuedReply:
    scenario = Scenario.model_validate({"name": name, "text": name, **fields})
    return QueuedReply(f"id-{name}", scenario, channel)


# --- threads and turns ------------------------------------------------------------------------


async def test_turns_count_up_and_a_committed_exchange_is_the_next_ones_previous(
    stores: Stores,
) -> None:
    store = stores.make()
    first = await store.begin_turn("a", T1)
    assert (first.turn, first.previous, first.conversation) == (1, None, None)
    await store.commit_turn(TurnEnd("a", T1, 1, "hello", "hi!", Conversation("onboarding", 1)))
    second = await store.begin_turn("a", T1.upper())  # thread ids are case-insensitive
    assert second.turn == 2
    assert second.previous == Turn("hello", "hi!")
    assert second.conversation == Conversation("onboarding", 1)
    # Threads are per channel.
    assert (await store.begin_turn("b", T1)).turn == 1


async def test_a_turn_given_back_under_an_open_one_goes_when_that_one_does(
    stores: Stores,
) -> None:
    store = stores.make()
    await store.begin_turn("a", T1)
    await store.cancel_turn("a", T1, 1)
    assert (await store.begin_turn("a", T1)).turn == 1
    await store.begin_turn("a", T1)  # turn 2 opened meanwhile
    await store.cancel_turn("a", T1, 1)  # marked: turn 2 is still open
    assert (await store.begin_turn("a", T1)).turn == 3
    await store.cancel_turn("a", T1, 3)
    await store.cancel_turn("a", T1, 2)  # 2 goes, and 1 with it: no gap is left
    assert (await store.begin_turn("a", T1)).turn == 1


async def test_a_turn_given_back_under_a_kept_one_stays_a_gap(stores: Stores) -> None:
    store = stores.make()
    for _ in range(3):
        await store.begin_turn("a", T1)
    await store.cancel_turn("a", T1, 2)
    await store.commit_turn(TurnEnd("a", T1, 3, "third", "reply", None))
    assert (await store.begin_turn("a", T1)).turn == 4
    await store.cancel_turn("a", T1, 4)
    assert (await store.begin_turn("a", T1)).turn == 4  # 2 stays a gap, under the kept 3


async def test_concurrent_messages_in_one_thread_get_distinct_turns(stores: Stores) -> None:
    store = stores.make()
    turns: list[int] = []

    async def one() -> None:
        turns.append((await store.begin_turn("a", T1)).turn)

    async with anyio.create_task_group() as tasks:
        for _ in range(20):
            tasks.start_soon(one)
    assert sorted(turns) == list(range(1, 21))


async def test_an_older_commit_never_overwrites_a_newer_one(stores: Stores) -> None:
    store = stores.make()
    await store.begin_turn("a", T1)
    await store.begin_turn("a", T1)
    await store.commit_turn(TurnEnd("a", T1, 2, "two", "2", None))
    await store.commit_turn(TurnEnd("a", T1, 1, "one", "1", None))
    assert (await store.begin_turn("a", T1)).previous == Turn("two", "2")


async def test_threads_beyond_the_count_bound_go_least_recently_used_first(
    stores: Stores,
) -> None:
    store = stores.make(max_threads=3)
    threads = [f"{i:08x}-6a43-4d3c-9c55-6f7d4c1d2e10" for i in range(4)]
    for thread in threads[:3]:
        await store.begin_turn("a", thread)
    await store.begin_turn("a", threads[0])  # used again: now the most recent
    await store.begin_turn("a", threads[3])  # one too many: threads[1] goes
    assert (await store.usage())["threads"] == 3
    assert (await store.begin_turn("a", threads[0])).turn == 3
    assert (await store.begin_turn("a", threads[1])).turn == 1  # forgotten, starts again


async def test_idle_threads_expire(stores: Stores) -> None:
    store = stores.make(thread_idle_seconds=0.3)
    await store.begin_turn("a", T1)
    await stores.advance(0.2)
    assert (await store.begin_turn("a", T1)).turn == 2  # used within the idle time
    await stores.advance(0.5)
    await store.begin_turn("a", T2)  # any request prunes the idle ones
    assert (await store.usage())["threads"] == 1
    assert (await store.begin_turn("a", T1)).turn == 1


# --- files --------------------------------------------------------------------------------------


async def test_files_are_kept_and_read_back_from_any_store_sharing_the_state(
    stores: Stores,
) -> None:
    store = stores.make()
    data = bytes(range(256)) * 4
    (file_id,) = await store.put_files("a", [NewFile("x.bin", "application/pdf", data)])
    stored = await store.get_file(file_id)
    assert stored is not None
    assert (stored.channel_id, stored.name, stored.content_type, stored.data) == (
        "a",
        "x.bin",
        "application/pdf",
        data,
    )
    assert await store.get_file("no-such-id") is None
    if stores.state != "memory":  # another process: another store on the same Redis
        other = stores.make()
        assert (await other.get_file(file_id)) == stored


async def test_the_file_quota_refuses_a_whole_upload_and_loses_nothing(stores: Stores) -> None:
    store = stores.make(files_quota_bytes=1000)
    (kept,) = await store.put_files("a", [NewFile("a", "text/plain", b"x" * 600)])
    with pytest.raises(QuotaExceeded, match="1000 bytes in all") as refused:
        await store.put_files(
            "a", [NewFile("b", "text/plain", b"y" * 200), NewFile("c", "text/plain", b"z" * 300)]
        )
    assert refused.value.status_code == 507
    assert (await store.usage())["file_bytes"] == 600
    stored = await store.get_file(kept)
    assert stored is not None
    assert stored.data == b"x" * 600
    await store.put_files("a", [NewFile("d", "text/plain", b"w" * 400)])  # exactly fits
    assert (await store.usage())["file_bytes"] == 1000


async def test_files_expire_and_give_their_bytes_back(stores: Stores) -> None:
    store = stores.make(file_ttl_seconds=0.3, files_quota_bytes=100)
    (file_id,) = await store.put_files("a", [NewFile("a", "text/plain", b"x" * 100)])
    await stores.advance(0.5)
    assert await store.get_file(file_id) is None
    # The quota counts only files not yet expired.
    await store.put_files("a", [NewFile("b", "text/plain", b"y" * 100)])
    assert (await store.usage())["file_bytes"] == 100


# --- journal ------------------------------------------------------------------------------------


async def test_the_journal_keeps_the_last_entries_in_order(stores: Stores) -> None:
    store = stores.make(journal_size=3)
    for status in (200, 401, 422, 429):
        await store.record(entry(status=status))
    kept = await store.journal()
    assert [e.status for e in kept] == [401, 422, 429]
    ids = [e.id for e in kept]
    assert ids == sorted(set(ids))  # the store's order: distinct and increasing
    assert min(ids) > 0  # 0 is an entry's id before it is kept
    assert kept[0].items == (ItemRecord(T1, 1, "echo", ChosenBy.DEFAULT),)
    assert kept[0].body == '{"message": "hi"}'


async def test_a_commit_records_its_entry_in_the_same_step(stores: Stores) -> None:
    store = stores.make()
    await store.begin_turn("a", T1)
    await store.commit_turn(TurnEnd("a", T1, 1, "m", "r", None), entry())
    (kept,) = await store.journal()
    assert kept.path == "/channelsApi/a/invoke"


async def test_a_turn_given_back_records_its_entry_in_the_same_step(stores: Stores) -> None:
    store = stores.make()
    await store.begin_turn("a", T1)
    # Given back: the exchange is not the thread's; its conversation is as the end says.
    end = TurnEnd("a", T1, 1, "m", "r", KEEP, kept=False)
    await store.commit_turn(end, entry())
    (kept,) = await store.journal()
    assert kept.path == "/channelsApi/a/invoke"
    again = await store.begin_turn("a", T1)
    assert (again.turn, again.previous, again.conversation) == (1, None, None)
    end = TurnEnd("a", T1, 1, "m", "r", Conversation("onboarding", 1), kept=False)
    await store.commit_turn(end, entry())
    third = await store.begin_turn("a", T1)
    assert (third.turn, third.previous) == (1, None)
    assert third.conversation == Conversation("onboarding", 1)
    assert len(await store.journal()) == 2


async def test_a_step_given_the_keys_it_was_checked_against_does_nothing_once_they_moved(
    stores: Stores,
) -> None:
    store = stores.make()
    checked = await store.keys()
    await store.record(entry(), as_of=checked)
    await store.set_key("b", "key-b2")  # another process rotates a key
    with pytest.raises(KeysMoved):
        await store.record(entry(status=422), as_of=checked)
    await store.begin_turn("a", T1)
    with pytest.raises(KeysMoved):
        await store.commit_turn(TurnEnd("a", T1, 1, "m", "r", None), entry(), as_of=checked)
    assert [e.status for e in await store.journal()] == [200]
    await store.commit_turn(TurnEnd("a", T1, 1, "m", "r", None), entry(), as_of=await store.keys())
    assert (await store.begin_turn("a", T1)).previous == Turn("m", "r")
    assert len(await store.journal()) == 2


async def test_the_journal_is_cleared_per_channel_or_whole(stores: Stores) -> None:
    store = stores.make()
    await store.record(entry("a"))
    await store.record(entry("b", "/channelsApi/b/stream"))
    await store.clear_journal("a")
    assert [e.channel for e in await store.journal()] == ["b"]
    await store.clear_journal()
    assert await store.journal() == []


# --- the queue ----------------------------------------------------------------------------------


async def test_a_channel_queue_comes_before_the_global_one(stores: Stores) -> None:
    store = stores.make()
    await store.push(reply("g1"))
    await store.push(reply("a1", "a"))
    await store.push(reply("b1", "b"))
    assert [r.scenario.name for r in await store.queued("a")] == ["a1", "g1"]
    assert [r.scenario.name for r in await store.queued("b")] == ["b1", "g1"]
    assert sorted(r.scenario.name for r in await store.queued(None)) == ["a1", "b1", "g1"]
    queued = (await store.queued("a"))[0]
    assert (queued.scenario.text, queued.channel) == ("a1", "a")


async def test_a_queued_reply_is_claimed_exactly_once(stores: Stores) -> None:
    store = stores.make()
    await store.push(reply("once", match={"message": {"contains": "x"}}))
    (queued,) = await store.queued("a")
    claims: list[bool] = []

    async def claim() -> None:
        claims.append(await store.claim(queued))

    async with anyio.create_task_group() as tasks:
        for _ in range(20):
            tasks.start_soon(claim)
    assert claims.count(True) == 1
    assert await store.queued("a") == []


async def test_the_queue_is_bounded(stores: Stores) -> None:
    store = stores.make(max_queued=2)
    await store.push(reply("1"))
    await store.push(reply("2"))
    with pytest.raises(QueueFull, match="at most 2"):
        await store.push(reply("3"))
    assert len(await store.queued(None)) == 2


# --- overrides, keys, reset ---------------------------------------------------------------------


async def test_a_channel_override_wins_over_the_global_one(stores: Stores) -> None:
    store = stores.make()
    await store.set_override(None, "forced", "slow")
    assert (await store.begin_turn("a", T1)).view.overrides.forced == "slow"
    await store.set_override("a", "forced", "stall")
    assert (await store.begin_turn("a", T1)).view.overrides.forced == "stall"
    assert (await store.begin_turn("b", T1)).view.overrides.forced == "slow"
    await store.set_override(None, "forced", None)
    assert (await store.begin_turn("b", T1)).view.overrides.forced is None
    assert await store.overrides("a") == Overrides(forced="stall")


async def test_the_view_counts_queued_replies_and_knows_the_versions(stores: Stores) -> None:
    store = stores.make()
    before = (await store.begin_turn("a", T1)).view
    assert before.queued == 0
    await store.push(reply("g"))
    await store.push(reply("b1", "b"))
    await store.bump_scenarios()
    view = (await store.begin_turn("a", T1)).view
    assert view.queued == 1  # the global one; b's is not a's
    assert view.scenarios_version == before.scenarios_version + 1


async def test_keys_are_added_and_rotated_and_every_old_key_is_remembered(
    stores: Stores,
) -> None:
    store = stores.make()
    ring = await store.keys()
    ring.check("a", "key-a")
    assert await store.add_channel("c", "key-c")
    assert not await store.add_channel("c", "other")  # exists
    assert await store.set_key("a", "key-a2")
    assert not await store.set_key("nope", "k")
    ring = await store.keys()
    ring.check("a", "key-a2")
    ring.check("c", "key-c")
    with pytest.raises(Exception, match="invalid API key"):
        ring.check("a", "key-a")
    assert {"key-a", "key-a2", "key-b", "key-c"} <= ring.ever
    assert (await store.begin_turn("a", T1)).view.keys_version == ring.version


async def test_a_removed_channel_is_unknown_and_its_key_stays_redacted(stores: Stores) -> None:
    store = stores.make()
    assert await store.add_channel("c", "key-c")
    before = (await store.keys()).version
    assert await store.remove_channel("c")
    assert not await store.remove_channel("c")
    ring = await store.keys()
    assert ring.version > before
    assert "c" not in ring.channels()
    assert "key-c" in ring.ever  # a deleted channel's key never shows in the journal
    with pytest.raises(Exception, match="unknown channel 'c'"):
        ring.check("c", "key-c")
    ring.check("a", "key-a")  # the others stay
    assert await store.add_channel("c", "key-c2")  # the id is free again
    (await store.keys()).check("c", "key-c2")


async def test_reset_of_a_channel_leaves_the_others_alone(stores: Stores) -> None:
    store = stores.make()
    for channel in ("a", "b"):
        await store.begin_turn(channel, T1)
        await store.put_files(channel, [NewFile("f", "text/plain", b"x")])
        await store.record(entry(channel))
        await store.push(reply(f"q-{channel}", channel))
        await store.set_override(channel, "forced", "slow")
    await store.reset("a")
    assert (await store.begin_turn("a", T1)).turn == 1
    assert (await store.begin_turn("b", T1)).turn == 2
    assert [e.channel for e in await store.journal()] == ["b"]
    assert [r.scenario.name for r in await store.queued(None)] == ["q-b"]
    assert (await store.overrides("a")).forced is None
    assert (await store.overrides("b")).forced == "slow"
    usage = await store.usage()
    assert (usage["files"], usage["file_bytes"]) == (1, 1)
    await store.reset()
    assert await store.usage() == {
        "threads": 0,
        "files": 0,
        "file_bytes": 0,
        "journal_entries": 0,
        "queued": 0,
    }
    (await store.keys()).check("b", "key-b")  # channels and keys stay


# --- every multi-step change is one step (issue 20) ---------------------------------------------


async def test_a_push_at_the_bound_never_takes_out_an_accepted_reply(stores: Stores) -> None:
    # Pushes and claims racing at the bound: every push that was accepted is either still
    # queued or was claimed, and nothing past the bound was ever kept.
    store = stores.make(max_queued=3)
    accepted: list[str] = []
    claimed: list[str] = []

    async def push(n: int) -> None:
        try:
            await store.push(reply(f"r{n}"))
        except QueueFull:
            return
        accepted.append(f"id-r{n}")

    async def claim() -> None:
        for waiting in await store.queued(None):
            if await store.claim(waiting):
                claimed.append(waiting.id)
                return

    async with anyio.create_task_group() as tasks:
        for n in range(40):
            tasks.start_soon(push, n)
            if n % 2:
                tasks.start_soon(claim)
    left = [r.id for r in await store.queued(None)]
    assert len(left) <= 3
    assert sorted(left + claimed) == sorted(accepted)


async def test_a_queued_reply_is_claimed_by_its_id_whatever_it_serialises_to(
    stores: Stores,
) -> None:
    store = stores.make()
    await store.push(reply("by-id"))
    # The same reply as another version of the emulator could hold it: same id, fields in
    # another form.
    same = QueuedReply("id-by-id", Scenario.model_validate({"name": "by-id", "text": "other"}))
    assert await store.claim(same)
    assert await store.queued(None) == []
    assert not await store.claim(same)


async def test_each_override_is_set_on_its_own(stores: Stores) -> None:
    first = stores.make()
    second = first if stores.state == "memory" else stores.make()  # Redis: two processes
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(first.set_override, "a", "forced", "slow")
        tasks.start_soon(second.set_override, "a", "latency", LatencyProfile(name="fast"))
    both = await first.overrides("a")
    assert both.forced == "slow"
    assert both.latency is not None
    await second.set_override("a", "forced", None)
    assert (await first.overrides("a")).forced is None
    assert (await first.overrides("a")).latency is not None


async def test_concurrent_resets_count_each_file_once(stores: Stores) -> None:
    store = stores.make()
    for channel in ("a", "b"):
        await store.put_files(channel, [NewFile("f", "text/plain", b"x" * 10)] * 3)
    async with anyio.create_task_group() as tasks:
        for _ in range(4):
            tasks.start_soon(store.reset, "a")
    usage = await store.usage()
    assert (usage["files"], usage["file_bytes"]) == (3, 30)


async def test_a_reset_counts_only_its_own_channels_files(stores: Stores) -> None:
    store = stores.make(file_ttl_seconds=1)
    await store.put_files("b", [NewFile("f", "text/plain", b"x" * 10)])
    await stores.advance(1.2)  # b's file expired, not yet forgotten
    await store.put_files("a", [NewFile("g", "text/plain", b"y" * 5)])
    await store.reset("a")
    assert (await store.usage())["file_bytes"] == 0


async def test_queued_reply_numbers_are_unique_under_concurrency(stores: Stores) -> None:
    store = stores.make()
    numbers: list[int] = []

    async def number() -> None:
        numbers.append(await store.queue_number("a"))

    async with anyio.create_task_group() as tasks:
        for _ in range(20):
            tasks.start_soon(number)
    assert sorted(numbers) == list(range(1, 21))
    await store.clear_queue("a")
    assert await store.queue_number("a") == 1


# --- channel generations (issue 20) -------------------------------------------------------------


async def _recreated(store: StateStore, channel: str = "c") -> tuple[int, int]:
    """A channel added, deleted and added again: its two generations."""
    assert await store.add_channel(channel, "key-c")
    old = (await store.keys()).generation(channel)
    assert await store.remove_channel(channel)
    assert await store.add_channel(channel, "key-c")
    new = (await store.keys()).generation(channel)
    assert new not in (old, 0)
    return old, new


async def test_a_deleted_channels_requests_open_no_turn_in_its_successor(stores: Stores) -> None:
    store = stores.make()
    assert await store.add_channel("c", "key-c")
    old = (await store.keys()).generation("c")
    started = await store.begin_turn("c", T1, old)
    assert started.view.generation == old
    assert await store.remove_channel("c")
    assert await store.add_channel("c", "key-c")
    with pytest.raises(ChannelGone):
        await store.begin_turn("c", T1, old)
    # What the old request still writes is dropped: the successor's thread starts at 1.
    end = TurnEnd("c", T1, started.turn, "old", "old reply", None, old)
    await store.commit_turn(end, entry("c"))
    await store.cancel_turn("c", T1, 1, None, old)
    await store.record(entry("c"), old)
    new = (await store.keys()).generation("c")
    first = await store.begin_turn("c", T1, new)
    assert (first.turn, first.previous) == (1, None)
    await store.cancel_turn("c", T1, 1, None, old)  # not the successor's turn to give back
    assert (await store.begin_turn("c", T1, new)).turn == 2
    assert [e for e in await store.journal() if e.channel == "c"] == []


async def test_a_deleted_channels_requests_claim_nothing_and_store_no_file(
    stores: Stores,
) -> None:
    store = stores.make()
    old, new = await _recreated(store)
    await store.push(reply("for-anyone"))
    (waiting,) = await store.queued("c")
    assert not await store.claim(waiting, "c", old)
    with pytest.raises(ChannelGone):
        await store.put_files("c", [NewFile("f", "text/plain", b"x")], old)
    assert (await store.usage())["file_bytes"] == 0
    assert await store.claim(waiting, "c", new)


async def test_a_channel_removed_takes_everything_of_it_in_the_same_step(stores: Stores) -> None:
    store = stores.make()
    assert await store.add_channel("c", "key-c")
    await store.begin_turn("c", T1)
    await store.put_files("c", [NewFile("f", "text/plain", b"x" * 7)])
    await store.record(entry("c"))
    await store.push(reply("mine", "c"))
    await store.set_override("c", "forced", "slow")
    assert await store.remove_channel("c")
    usage = await store.usage()
    assert (usage["files"], usage["file_bytes"], usage["queued"]) == (0, 0, 0)
    assert [e for e in await store.journal() if e.channel == "c"] == []
    assert await store.overrides("c") == Overrides()


async def test_keys_kept_redacted_are_the_most_recent_within_the_bound(stores: Stores) -> None:
    store = stores.make(redacted_keys=4)
    for n in range(6):
        assert await store.set_key("a", f"key-a{n}")
    ever = (await store.keys()).ever
    # The four most recent keys given, and the current ones: no fewer, no more.
    assert ever == {"key-a2", "key-a3", "key-a4", "key-a5", "key-b"}


async def test_a_key_given_again_counts_as_recent_for_the_redaction_bound(stores: Stores) -> None:
    store = stores.make(redacted_keys=4)
    for key in ["k0", "k1", "k2", "k3", "k0", "k4"]:
        assert await store.set_key("a", key)
    ever = (await store.keys()).ever
    assert ever == {"k0", "k2", "k3", "k4", "key-b"}  # k1 is the oldest now, not k0
