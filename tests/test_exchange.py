"""A turn's lease is settled once, by one rule, whatever happens to the request: kept once its
answer was delivered, given back otherwise (a client gone first, a cancellation, an error).

The app is driven at the ASGI level, on both state stores: a test decides exactly when its
client hangs up, or cancels the request as a server stopping would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from starlette.types import ASGIApp
from starlette.types import Message as AsgiMessage

from vivi_emulator.app import create_app
from vivi_emulator.calls import Call, Message
from vivi_emulator.errors import Unauthorized
from vivi_emulator.exchange import TurnLease
from vivi_emulator.journal import JournalEntry
from vivi_emulator.service import Emulator
from vivi_emulator.settings import Settings
from vivi_emulator.store.base import ChannelGone, StoreUnavailable
from vivi_emulator.store.keys import KeyRing
from vivi_emulator.store.memory import MemoryStore
from vivi_emulator.store.values import TurnEnd

from tests.redis_server import RedisServer
from tests.support import CHANNEL, KEY, THREAD, url

SLOW = {"text": "too late", "timing": {"first_chunk_ms": 60_000}}
SLOW_DOWN = {"status": {"code": 429, "body": {"detail": "slow down"}}}


class Served:
    """An emulator's app and service, called at the ASGI level."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.app: ASGIApp = create_app(emulator.settings, emulator)

        # Set when a request listens for its client hanging up: it holds its turn and waits.
        self.waiting = asyncio.Event()

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
        await self.app(scope, receive, send)
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
        await served.waiting.wait()
        gone.set()
    await served.call("invoke", MESSAGE)
    entries = await served.emulator.journal()
    assert entries[0].client_left is True
    # The next message is the thread's first turn, with no previous exchange.
    assert entries[1].items[0].turn == 1


async def test_a_stream_that_sent_its_first_event_keeps_its_turn(served: Served) -> None:
    await served.emulator.scripting.queue_reply(SLOW)
    gone = asyncio.Event()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(served.call, "stream", MESSAGE, gone)
        await served.waiting.wait()
        gone.set()
    await served.call("invoke", MESSAGE)
    (streamed, invoked) = await served.emulator.journal()
    assert streamed.client_left is True
    assert streamed.events  # the start event went out
    assert invoked.items[0].turn == 2


async def test_a_cancelled_request_gives_its_turn_back(served: Served) -> None:
    await served.emulator.scripting.queue_reply(SLOW)
    task = asyncio.create_task(served.call("invoke", MESSAGE))
    await served.waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await served.call("invoke", MESSAGE)
    assert (await served.turns())[-1] == 1


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
        await served.waiting.wait()  # the stream plays (its start event went out)
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


async def test_a_turn_the_store_fails_to_keep_is_given_back_and_answered_503() -> None:
    settings = Settings(access_log=False, reload_fixtures=False)
    channels = {c.id: c.key.get_secret_value() for c in settings.channels}
    store = KeepFails(channels, Emulator.bounds_of(settings))
    emulator = Emulator(settings, store)
    await emulator.start()
    try:
        served = Served(emulator)
        store.fail_next = True
        sent = await served.call("invoke", MESSAGE)
        start = sent[0]
        assert start["status"] == 503
        assert dict(start["headers"])[b"retry-after"]
        assert b"injected" in sent[1]["body"]
        await served.call("invoke", MESSAGE)
        # The turn the store could not keep went back: the next message is turn 1 again.
        assert (await served.turns())[-1] == 1
    finally:
        await emulator.close()


async def test_a_status_answers_turn_goes_back_with_its_entry_in_one_step(served: Served) -> None:
    await served.emulator.scripting.queue_reply(SLOW_DOWN)
    sent = await served.call("invoke", MESSAGE)
    assert sent[0]["status"] == 429
    await served.call("invoke", MESSAGE)
    # One entry for the 429, its turn given back: the next message is turn 1 again.
    assert await served.turns() == [1, 1]


async def test_a_status_answers_turn_goes_back_alone_when_the_store_refuses_its_entry() -> None:
    settings = Settings(access_log=False, reload_fixtures=False)
    channels = {c.id: c.key.get_secret_value() for c in settings.channels}
    store = KeepFails(channels, Emulator.bounds_of(settings))
    emulator = Emulator(settings, store)
    await emulator.start()
    try:
        served = Served(emulator)
        await emulator.scripting.queue_reply(SLOW_DOWN)
        store.fail_next = True  # the step giving the turn back with the 429's entry
        sent = await served.call("invoke", MESSAGE)
        assert sent[0]["status"] == 503
        assert await served.turns() == []  # the store refused the entry
        await served.call("invoke", MESSAGE)
        assert await served.turns() == [1]  # the turn went back, without its entry
    finally:
        await emulator.close()


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
