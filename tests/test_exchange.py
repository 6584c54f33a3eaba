"""A turn's lease is settled once, by one rule, whatever happens to the request: kept once its
answer was delivered, given back otherwise (a client gone first, a cancellation, an error).

The app is driven at the ASGI level, on both state stores: a test decides exactly when its
client hangs up, or cancels the request as a server stopping would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
import pytest
from starlette.types import ASGIApp
from starlette.types import Message as AsgiMessage

from vivi_emulator.app import create_app
from vivi_emulator.calls import Call, Message
from vivi_emulator.errors import Unauthorized, ValidationFailed
from vivi_emulator.exchange import TurnLease
from vivi_emulator.journal import ChosenBy, JournalEntry
from vivi_emulator.ratelimit_rules import RateLimits
from vivi_emulator.service import Emulator
from vivi_emulator.settings import Settings
from vivi_emulator.store.base import ChannelGone, StoreUnavailable
from vivi_emulator.store.keys import KeyRing
from vivi_emulator.store.memory import MemoryStore
from vivi_emulator.store.values import TurnEnd

from tests.redis_server import RedisServer
from tests.support import CHANNEL, KEY, OTHER_THREAD, THREAD, url

S = TypeVar("S", bound=MemoryStore)

SLOW = {"text": "too late", "timing": {"first_chunk_ms": 60_000}}
SLOW_DOWN = {"status": {"code": 429, "body": {"detail": "slow down"}}}


class Served:
    """An emulator's app and service, called at the ASGI level."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.app: ASGIApp = create_app(emulator.settings, emulator)

        # Set when a request listens for its client hanging up: it holds its turn and waits.
        self.waiting = asyncio.Event()
        # Set when a request returned: one that answered without waiting (an error) must fail
        # a test that waits for it to hold its turn, not hang it.
        self.returned = asyncio.Event()

    async def held(self) -> None:
        """Wait until a request holds its turn and listens for its client."""
        async with anyio.create_task_group() as tasks:

            async def first(event: asyncio.Event) -> None:
                await event.wait()
                tasks.cancel_scope.cancel()

            tasks.start_soon(first, self.waiting)
            tasks.start_soon(first, self.returned)
        assert self.waiting.is_set(), "the request answered without waiting for its client"

    async def call(
        self,
        operation: str,
        body: dict[str, Any],
        gone: asyncio.Event | None = None,
        channel: str = CHANNEL,
    ) -> list[AsgiMessage]:
        """POST ``body``; the client hangs up once ``gone`` is set (never, if None)."""
        sent: list[AsgiMessage] = []
        data = json.dumps(body).encode()
        given = False

        async def receive() -> AsgiMessage:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": data, "more_body": False}
            self.waiting.set()
            if gone is None:
                await anyio.sleep_forever()
            else:
                await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: AsgiMessage) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": url(operation, channel),
            "raw_path": url(operation, channel).encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"emulator.test"),
                (b"vivi-api-key", (KEY if channel == CHANNEL else f"{channel}-key").encode()),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("emulator.test", 80),
            "state": {},
        }
        try:
            await self.app(scope, receive, send)
        finally:
            self.returned.set()
        return sent

    async def turns(self) -> list[int | None]:
        """The turn of each journaled request, oldest first."""
        return [e.as_dict()["turn"] for e in await self.emulator.journal()]


@pytest.fixture
async def served(state: str) -> AsyncIterator[Served]:
    emulator = Emulator(Settings(access_log=False, reload_fixtures=False, state=state))
    await emulator.start()
    try:
        yield Served(emulator)
    finally:
        await emulator.close()


MESSAGE = {"message": "hello", "threadId": THREAD}


@pytest.mark.parametrize("operation", ["invoke", "batch"])
async def test_a_client_gone_before_its_reply_gives_the_turn_back(
    served: Served, operation: str
) -> None:
    await served.emulator.scripting.queue_reply(SLOW)
    body = {"messages": [MESSAGE]} if operation == "batch" else MESSAGE
    gone = asyncio.Event()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(served.call, operation, body, gone)
        await served.held()
        gone.set()
    await served.call("invoke", MESSAGE)
    entries = await served.emulator.journal()
    assert entries[0].client_left is True
    assert entries[0].error == "the client hung up before its answer was ready"
    # The next message is the thread's first turn, with no previous exchange.
    assert entries[1].items[0].turn == 1


async def test_a_stream_that_sent_its_first_event_keeps_its_turn(served: Served) -> None:
    await served.emulator.scripting.queue_reply(SLOW)
    gone = asyncio.Event()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(served.call, "stream", MESSAGE, gone)
        await served.held()
        gone.set()
    await served.call("invoke", MESSAGE)
    (streamed, invoked) = await served.emulator.journal()
    assert streamed.client_left is True
    assert streamed.events  # the start event went out
    assert invoked.items[0].turn == 2


async def test_a_cancelled_request_gives_its_turn_back(served: Served) -> None:
    await served.emulator.scripting.queue_reply(SLOW)
    task = asyncio.create_task(served.call("invoke", MESSAGE))
    await served.held()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await served.call("invoke", MESSAGE)
    assert (await served.turns())[-1] == 1
    (cancelled, _) = await served.emulator.journal()
    assert cancelled.error == "the request ended before its answer (cancelled)"


async def test_a_request_closed_inside_a_cancelled_scope_still_settles(served: Served) -> None:
    """A cancellation pending as the request settles: on Redis the settling is shielded, in
    memory no step waits (``StateStore.waits``, so no shield is paid for): either way the turn
    is kept and the entry written."""
    emulator = served.emulator
    call = Call("POST", url("invoke"), CHANNEL, {"vivi-api-key": KEY}, 0.0, 0.0)
    exchange = emulator.exchange(call)
    lease = await exchange.answer(Message("hello", THREAD))
    lease.delivered()
    with anyio.CancelScope() as scope:
        scope.cancel()
        exchange.report(200)
        await exchange.close()
    (entry,) = await emulator.journal()
    assert entry.status == 200
    again = emulator.exchange(call)
    assert (await again.answer(Message("hello", THREAD))).answer.turn == 2
    await again.close()


async def test_a_lease_is_settled_once_whatever_settles_it(served: Served) -> None:
    emulator = served.emulator
    call = Call("POST", url("invoke"), CHANNEL, {"vivi-api-key": KEY}, 0.0, 0.0)
    exchange = emulator.exchange(call)
    lease = await exchange.answer(Message("hello", THREAD))
    async with lease:
        lease.delivered()
    await exchange.close()  # the lease was settled already: not again
    second = emulator.exchange(call)
    again: TurnLease = await second.answer(Message("hello", THREAD))
    await second.close()  # never delivered: given back when the exchange closes
    third = emulator.exchange(call)
    last = await third.answer(Message("hello", THREAD))
    assert (lease.answer.turn, again.answer.turn, last.answer.turn) == (1, 2, 2)
    await third.close()
    assert [e.items[0].turn for e in await emulator.journal()] == [1, 2, 2]


async def test_a_stream_of_a_deleted_channel_leaves_nothing_in_its_successor(
    served: Served,
) -> None:
    emulator = served.emulator
    await emulator.add_channel("gone", "gone-key")
    await emulator.scripting.queue_reply(SLOW, "gone")
    gone = asyncio.Event()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(served.call, "stream", MESSAGE, gone, "gone")
        await served.held()  # the stream plays (its start event went out)
        await emulator.remove_channel("gone")
        await emulator.add_channel("gone", "gone-key")
        gone.set()  # the stream ends after its channel's generation did
    assert await emulator.journal(channel="gone") == []
    await served.call("invoke", MESSAGE, channel="gone")
    (entry,) = await emulator.journal(channel="gone")
    assert entry.items[0].turn == 1  # the old stream's turn is not the successor's


async def test_a_message_racing_its_channels_delete_is_refused(served: Served) -> None:
    emulator = served.emulator
    await emulator.add_channel("gone", "gone-key")
    call = Call("POST", url("invoke", "gone"), "gone", {"vivi-api-key": "gone-key"}, 0.0, 0.0)
    exchange = emulator.exchange(call)
    await exchange.check_key()  # the request starts under the channel's generation
    await emulator.remove_channel("gone")
    await emulator.add_channel("gone", "gone-key")
    with pytest.raises(ChannelGone):
        await exchange.answer(Message("hello", THREAD))
    fresh = emulator.exchange(call)
    await fresh.check_key()
    assert (await fresh.answer(Message("hello", THREAD))).answer.turn == 1


@pytest.fixture
async def on_redis(
    redis_server: RedisServer, redis_url: str
) -> AsyncIterator[tuple[RedisServer, Emulator, Emulator]]:
    """Two processes' services on one real Redis (emptied by the test when it likes)."""
    pair = [
        Emulator(Settings(access_log=False, reload_fixtures=False, state=redis_url))
        for _ in range(2)
    ]
    for emulator in pair:
        await emulator.start()
    try:
        yield redis_server, pair[0], pair[1]
    finally:
        for emulator in pair:
            await emulator.close()


async def test_a_configured_channel_seeded_again_is_the_same_channel(
    on_redis: tuple[RedisServer, Emulator, Emulator],
) -> None:
    server, emulator, _ = on_redis
    call = Call("POST", url("invoke"), CHANNEL, {"vivi-api-key": KEY}, 0.0, 0.0)
    exchange = emulator.exchange(call)
    await exchange.check_key()  # against this process's keys, of the Redis before
    server.flush()  # Redis restarted empty...
    await emulator.store.keys()  # ...and another request of this process seeded it again
    lease = await exchange.answer(Message("hello", THREAD))
    lease.delivered()
    exchange.report(200)
    await exchange.close()
    (entry,) = await emulator.journal(channel=CHANNEL)
    assert (entry.status, entry.items[0].turn) == (200, 1)


async def test_a_key_refused_after_an_emptied_redis_is_journaled(
    on_redis: tuple[RedisServer, Emulator, Emulator],
) -> None:
    server, emulator, other = on_redis
    await emulator.add_channel("rot", "old-key")
    call = Call("POST", url("invoke", "rot"), "rot", {"vivi-api-key": "old-key"}, 0.0, 0.0)
    exchange = emulator.exchange(call)
    await exchange.check_key()  # passes against this process's keys, of the Redis before
    server.flush()
    await other.add_channel("rot", "new-key")  # the channel made again, elsewhere
    with pytest.raises(Unauthorized) as refused:
        await exchange.answer(Message("hello", THREAD))
    await exchange.fail(refused.value)
    (entry,) = await other.journal(channel="rot")
    assert entry.status == 401


class KeepFails(MemoryStore):
    """The in-memory store, whose next ``commit_turn`` answers 503 (the store failing to keep
    a turn, as a Redis lost at that moment would): the one fault this test injects."""

    fail_next = False

    async def commit_turn(
        self, end: TurnEnd, entry: JournalEntry | None = None, as_of: KeyRing | None = None
    ) -> None:
        if self.fail_next:
            self.fail_next = False
            raise StoreUnavailable("the state store is unavailable: injected; retry")
        await super().commit_turn(end, entry, as_of)


@asynccontextmanager
async def _failing(kind: type[S]) -> AsyncIterator[tuple[Served, S]]:
    """A started service on ``kind``, an in-memory store this module makes fail on demand."""
    settings = Settings(access_log=False, reload_fixtures=False)
    channels = {c.id: c.key.get_secret_value() for c in settings.channels}
    store = kind(channels, Emulator.bounds_of(settings))
    emulator = Emulator(settings, store)
    await emulator.start()
    try:
        yield Served(emulator), store
    finally:
        await emulator.close()


async def test_a_turn_the_store_fails_to_keep_is_given_back_and_answered_503() -> None:
    async with _failing(KeepFails) as (served, store):
        store.fail_next = True
        sent = await served.call("invoke", MESSAGE)
        start = sent[0]
        assert start["status"] == 503
        assert dict(start["headers"])[b"retry-after"]
        assert b"injected" in sent[1]["body"]
        await served.call("invoke", MESSAGE)
        # The turn the store could not keep went back: the next message is turn 1 again.
        assert (await served.turns())[-1] == 1


def _invoke(channel: str = CHANNEL, key: str = KEY) -> Call:
    return Call("POST", url("invoke", channel), channel, {"vivi-api-key": key}, 0.0, 0.0)


async def test_a_lease_is_kept_once_delivered_and_settling_or_closing_again_does_nothing(
    served: Served,
) -> None:
    emulator = served.emulator
    exchange = emulator.exchange(_invoke())
    lease = await exchange.answer(Message("hello", THREAD))
    assert lease.kept is False
    lease.delivered()
    assert lease.kept is True
    await exchange.settle(lease)
    await exchange.settle(lease)  # settled: not again
    exchange.report(200)
    await exchange.close()
    await exchange.close()  # closed: no second entry
    (entry,) = await emulator.journal()
    assert (entry.status, entry.client_left, entry.items[0].turn) == (200, False, 1)
    following = emulator.exchange(_invoke())
    assert (await following.answer(Message("hello", THREAD))).answer.turn == 2
    await following.close()


async def test_closing_settles_every_open_lease(served: Served) -> None:
    emulator = served.emulator
    third = "3e0f6a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b"
    threads = (THREAD, OTHER_THREAD, third)
    exchange = emulator.exchange(_invoke())
    leases = [await exchange.answer(Message("hello", t)) for t in threads]
    leases[0].delivered()
    leases[1].delivered()  # the last one never reached its client: given back
    exchange.report(200)
    await exchange.close()
    again = emulator.exchange(_invoke())
    turns = [(await again.answer(Message("again", t))).answer.turn for t in threads]
    await again.close()
    assert turns == [2, 2, 1]
    entry = (await emulator.journal())[0]
    assert [item.turn for item in entry.items] == [1, 1, 1]


@pytest.mark.parametrize("answered", [True, False], ids=["turn-given-back", "no-turn"])
async def test_the_entry_of_a_request_whose_channel_was_deleted_is_dropped(
    served: Served, answered: bool
) -> None:
    emulator = served.emulator
    await emulator.add_channel("gone", "gone-key")
    exchange = emulator.exchange(_invoke("gone", "gone-key"))
    await exchange.check_key()
    if answered:
        await exchange.answer(Message("hello", THREAD))  # never delivered
    await emulator.remove_channel("gone")
    await emulator.add_channel("gone", "gone-key")
    exchange.report(200)
    await exchange.close()
    assert await emulator.journal(channel="gone") == []


class KeepAndGiveBackFail(MemoryStore):
    """The in-memory store, whose ``commit_turn`` and ``cancel_turn`` answer 503 once armed:
    the store lost while a turn is kept, and still lost when the turn would go back."""

    failing = False

    async def commit_turn(
        self, end: TurnEnd, entry: JournalEntry | None = None, as_of: KeyRing | None = None
    ) -> None:
        if self.failing:
            raise StoreUnavailable("the state store is unavailable: injected; retry")
        await super().commit_turn(end, entry, as_of)

    async def cancel_turn(self, *args: Any, **kwargs: Any) -> None:
        if self.failing:
            raise StoreUnavailable("the state store is unavailable: still injected; retry")
        await super().cancel_turn(*args, **kwargs)


async def test_a_turn_neither_kept_nor_given_back_answers_the_first_error() -> None:
    async with _failing(KeepAndGiveBackFail) as (served, store):
        store.failing = True
        sent = await served.call("invoke", MESSAGE)
        assert sent[0]["status"] == 503
        assert json.loads(sent[1]["body"])["detail"] == (
            "the state store is unavailable: injected; retry"
        )


async def test_a_status_reply_is_journaled_with_its_item(served: Served) -> None:
    await served.emulator.scripting.queue_reply({"status": {"code": 418}})
    sent = await served.call("invoke", MESSAGE)
    assert sent[0]["status"] == 418
    (entry,) = await served.emulator.journal()
    assert entry.status == 418
    (item,) = entry.items
    assert (item.thread, item.turn, item.chosen_by) == (THREAD, 1, ChosenBy.QUEUE)


@pytest.mark.parametrize("state", ["memory"])
async def test_a_stream_gives_its_slot_back_when_its_request_closes(state: str) -> None:
    limits = RateLimits(concurrent_streams=1)
    settings = Settings(access_log=False, reload_fixtures=False, state=state, rate_limits=limits)
    emulator = Emulator(settings)
    await emulator.start()
    try:
        served = Served(emulator)
        first = await served.call("stream", MESSAGE)
        second = await served.call("stream", MESSAGE)
        assert (first[0]["status"], second[0]["status"]) == (200, 200)
    finally:
        await emulator.close()


async def test_a_key_rotated_elsewhere_is_seen_by_a_check_now_and_before_another_error(
    on_redis: tuple[RedisServer, Emulator, Emulator],
) -> None:
    _, emulator, other = on_redis
    await emulator.add_channel("rot", "old-key")
    exchange = emulator.exchange(_invoke("rot", "old-key"))
    await exchange.check_key()
    await other.rotate_key("rot", "new-key")
    # This process's copy of the keys is not re-read for an ordinary check...
    await exchange.check_key()
    # ...but a check now, and any error but the key's own, re-read them.
    with pytest.raises(Unauthorized):
        await exchange.check_key(now=True)
    answered = await exchange.fail(ValidationFailed("invalid body"))
    assert isinstance(answered, Unauthorized)
    (entry,) = await other.journal(channel="rot")
    assert entry.status == 401


async def test_a_cancelled_request_still_settles_and_writes_its_entry(
    on_redis: tuple[RedisServer, Emulator, Emulator],
) -> None:
    """On Redis every store step waits for the network, where a cancellation strikes unless
    the settling is shielded."""
    _, emulator, _ = on_redis
    exchange = emulator.exchange(_invoke())
    settled = await exchange.answer(Message("hello", THREAD))
    closed = await exchange.answer(Message("hello", OTHER_THREAD))
    settled.delivered()
    closed.delivered()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await exchange.settle(settled)
        exchange.report(200)
        await exchange.close()
    (entry,) = await emulator.journal()
    assert entry.status == 200
    again = emulator.exchange(_invoke())
    turns = [(await again.answer(Message("again", t))).answer.turn for t in (THREAD, OTHER_THREAD)]
    await again.close()
    assert turns == [2, 2]


async def test_a_cancelled_request_ends_cancelled_even_if_the_store_fails_to_settle_it() -> None:
    async with _failing(KeepAndGiveBackFail) as (served, store):
        await served.emulator.scripting.queue_reply(SLOW)
        task = asyncio.create_task(served.call("invoke", MESSAGE))
        await served.held()
        store.failing = True  # the step giving its turn back with its entry fails
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        store.failing = False
        sent = await served.call("invoke", MESSAGE)
        assert sent[0]["status"] == 200
        (entry,) = await served.emulator.journal()  # the cancelled request's entry was refused
        assert entry.status == 200


async def test_a_status_answers_turn_goes_back_with_its_entry_in_one_step(served: Served) -> None:
    await served.emulator.scripting.queue_reply(SLOW_DOWN)
    sent = await served.call("invoke", MESSAGE)
    assert sent[0]["status"] == 429
    await served.call("invoke", MESSAGE)
    # One entry for the 429, its turn given back: the next message is turn 1 again.
    assert await served.turns() == [1, 1]


async def test_a_status_answers_turn_goes_back_alone_when_the_store_refuses_its_entry() -> None:
    async with _failing(KeepFails) as (served, store):
        await served.emulator.scripting.queue_reply(SLOW_DOWN)
        store.fail_next = True  # the step giving the turn back with the 429's entry
        sent = await served.call("invoke", MESSAGE)
        assert sent[0]["status"] == 503
        assert await served.turns() == []  # the store refused the entry
        await served.call("invoke", MESSAGE)
        assert await served.turns() == [1]  # the turn went back, without its entry


async def test_a_key_rotated_elsewhere_before_a_status_answer_is_refused_as_such(
    on_redis: tuple[RedisServer, Emulator, Emulator],
) -> None:
    _, emulator, other = on_redis
    await emulator.add_channel("rot", "old-key")
    await emulator.scripting.queue_reply(SLOW_DOWN, "rot")
    call = Call("POST", url("invoke", "rot"), "rot", {"vivi-api-key": "old-key"}, 0.0, 0.0)
    exchange = emulator.exchange(call)
    await exchange.check_key()  # passes against this process's copy of the keys
    await other.rotate_key("rot", "new-key")
    # The status answer makes no key check of its own: its turn's opening step saw the
    # rotation, and the key is refused there, its turn given back.
    with pytest.raises(Unauthorized) as refused:
        await exchange.answer(Message("hello", THREAD))
    await exchange.fail(refused.value)
    (entry,) = await other.journal(channel="rot")
    assert entry.status == 401
    assert len(await other.scripting.queue("rot")) == 1  # nobody claimed the 429


@pytest.mark.parametrize("delivered", [False, True], ids=["given-back", "kept"])
async def test_an_error_after_a_turn_opened_is_refused_as_the_key_rotated_elsewhere(
    on_redis: tuple[RedisServer, Emulator, Emulator], delivered: bool
) -> None:
    """The step that settles the open turn with the error's entry runs only while the store's
    keys are those the key passed against: rotated since, the key is refused."""
    _, emulator, other = on_redis
    await emulator.add_channel("rot", "old-key")
    exchange = emulator.exchange(_invoke("rot", "old-key"))
    await exchange.check_key()
    lease = await exchange.answer(Message("hello", THREAD))
    if delivered:
        lease.delivered()
    await other.rotate_key("rot", "new-key")
    answered = await exchange.fail(ValidationFailed("invalid body"))
    assert isinstance(answered, Unauthorized)
    (entry,) = await other.journal(channel="rot")
    assert entry.status == 401
    # The turn was settled with the entry: kept, or given back (the next message is turn 1).
    again = other.exchange(_invoke("rot", "new-key"))
    await again.check_key()
    assert (await again.answer(Message("hello", THREAD))).answer.turn == (2 if delivered else 1)
    await again.close()
