"""The SSE response: timing, coalescing, and a client that hangs up."""

from __future__ import annotations

import time
from typing import Any

import anyio
from starlette.types import Message

from vivi_emulator import sse
from vivi_emulator.rendering import Rendered
from vivi_emulator.script import CHUNK, END, START, Script, ScriptEvent
from vivi_emulator.streaming import EventStream
from vivi_emulator.wire import WireOptions, with_wire

SCOPE: dict[str, Any] = {"type": "http", "asgi": {"spec_version": "2.4"}}


def _script(delay: float, chunks: int = 3) -> Script:
    return Script(
        events=(
            ScriptEvent(START),
            *(ScriptEvent(CHUNK, f"c{i} ", delay=delay) for i in range(chunks)),
            ScriptEvent(END),
        )
    )


async def _never_disconnect() -> Message:
    await anyio.sleep_forever()
    raise AssertionError


async def test_each_event_waits_its_scripted_delay() -> None:
    timeline: list[tuple[str, float | bytes]] = []

    now = [100.0]

    async def fake_sleep(seconds: float) -> None:
        timeline.append(("sleep", round(seconds, 9)))
        now[0] += seconds

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and message["body"]:
            timeline.append(("send", len(sse.split_frames(message["body"]))))

    stream = EventStream(_script(0.05), sleep=fake_sleep, clock=lambda: now[0])
    await stream(SCOPE, _never_disconnect, send)
    # start at once; c0, c1 and c2 each 50 ms after the one before; end, due with c2, with it.
    assert timeline == [
        ("send", 1),
        ("sleep", 0.05),
        ("send", 1),
        ("sleep", 0.05),
        ("send", 1),
        ("sleep", 0.05),
        ("send", 2),
    ]


async def test_a_late_wake_up_does_not_delay_the_events_after_it() -> None:
    now = [0.0]
    waits: list[float] = []

    async def oversleeping(seconds: float) -> None:
        waits.append(round(seconds, 9))
        now[0] += seconds + (0.03 if len(waits) == 1 else 0.0)  # the first wake-up is 30 ms late

    async def send(message: Message) -> None:
        pass

    stream = EventStream(_script(0.05), sleep=oversleeping, clock=lambda: now[0])
    await stream(SCOPE, _never_disconnect, send)
    assert waits == [0.05, 0.02, 0.05]  # the second wait makes up for the late first one


async def test_on_a_real_clock_no_event_is_early() -> None:
    arrivals: list[float] = []
    started = time.perf_counter()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and message["body"]:
            arrivals.append(time.perf_counter() - started)

    await EventStream(_script(0.05))(SCOPE, _never_disconnect, send)
    for index, arrived in enumerate(arrivals):
        assert arrived >= index * 0.05 - 0.002
    # Lateness is measured by the benchmark harness, not asserted here (a busy CI machine).


async def test_events_due_together_leave_in_one_write() -> None:
    bodies: list[bytes] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            bodies.append(message["body"])

    await EventStream(_script(0.0, chunks=5))(SCOPE, _never_disconnect, send)
    assert bodies[-1] == b""  # the clean end of the body
    assert len([b for b in bodies if b]) == 1
    assert len(sse.split_frames(bodies[0])) == 7


async def test_client_hanging_up_during_a_stall_stops_the_stream_at_once() -> None:
    sent: list[bytes] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            sent.append(message["body"])

    async def disconnect_soon() -> Message:
        await anyio.sleep(0.05)
        return {"type": "http.disconnect"}

    started = time.perf_counter()
    await EventStream(_script(10.0))(SCOPE, disconnect_soon, send)
    assert time.perf_counter() - started < 1.0
    assert all(b"on_chat_model_end" not in body for body in sent)


async def test_send_failing_on_a_closed_socket_ends_quietly() -> None:
    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise OSError("connection reset")

    await EventStream(_script(0.0))(SCOPE, _never_disconnect, send)
    await EventStream(_script(0.01))(SCOPE, _never_disconnect, send)


async def test_a_wire_cut_lingers_then_closes_without_ending_the_body() -> None:
    script = with_wire(
        Script(events=(ScriptEvent(START), ScriptEvent(CHUNK, "late", delay=90))),
        WireOptions(preset="idle-cut"),
    )
    timeline: list[tuple[str, object]] = []

    async def fake_sleep(seconds: float) -> None:
        timeline.append(("sleep", seconds))

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            timeline.append(("send", message["body"]))

    await EventStream(script, sleep=fake_sleep)(SCOPE, _never_disconnect, send)
    # the start, 60 s of silence, then the connection is dropped: no final empty body message
    assert timeline == [
        ("send", b'data: {"message": "", "event": "on_chat_model_start"}\n\n'),
        ("sleep", 60.0),
    ]


async def test_a_stream_without_wire_options_plays_the_docs_batches() -> None:
    rendered = Rendered(_script(0.0))
    stream = EventStream(rendered)
    assert stream.script.wire is None
    assert (stream.abort, stream.linger) == (False, 0.0)
    # Encoded once: every stream of one rendering plays the same writes.
    assert stream.batches is rendered.writes is EventStream(rendered).batches
