"""A whole run: start the cluster, play the plan round by round, read the state at each quiet
point, stop the cluster; the history."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from tests.history.cluster import CONFIGURED, CONFIGURED_KEY, Cluster
from tests.history.plan import DELETED, QUEUE, THREADED, Action, Plan
from tests.history.record import History, Op, Read
from tests.history.workload import Runner

# Client requests in flight at once (the faults are not counted).
CONCURRENCY = 24
# Seconds between a round's last request and the probes of its quiet point: longer than a
# server takes to notice a client that left (properties.SETTLE_SECONDS).
PROBE_PAUSE = 1.5


def _dispatch(runner: Runner) -> dict[str, Callable[[Action], Awaitable[None]]]:
    return {
        "invoke": runner.message,
        "stream": runner.message,
        "batch": runner.message,
        "push": runner.push,
        "upload": runner.upload,
        "reset": runner.reset,
        "rotate": runner.rotate,
        "recreate": runner.recreate,
        "flush": runner.flush,
        "restart": runner.restart,
        "overrides": runner.overrides,
    }


async def _play(runner: Runner, actions: tuple[Action, ...]) -> None:
    limit = asyncio.Semaphore(CONCURRENCY)
    dispatch = _dispatch(runner)
    start = time.monotonic()

    async def at(action: Action) -> None:
        await asyncio.sleep(max(0.0, start + action.at - time.monotonic()))
        if action.kind in ("invoke", "stream", "batch", "push", "upload"):
            async with limit:
                await dispatch[action.kind](action)
        else:
            await dispatch[action.kind](action)

    sampling = asyncio.create_task(_sample_usage(runner))
    try:
        await asyncio.gather(*(at(a) for a in actions))
    finally:
        sampling.cancel()


async def _sample_usage(runner: Runner) -> None:
    """The usage, read every half second while the round runs (the file bytes never negative)."""
    n = 0
    while True:
        await asyncio.sleep(0.5)
        n += 1
        try:
            answer = await runner.clients[n % len(runner.clients)].get("/_emulator/usage")
        except httpx.TransportError:
            continue
        if answer.status_code == 200:
            runner.history.usage_samples.append((runner.now(), answer.json()["usage"]))


async def _json(runner: Runner, process: int, path: str, **params: Any) -> Any:
    answer = await runner.control(process, "GET", path, params=params)
    assert answer is not None, path
    assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text}"
    return answer.json()


async def _configured(runner: Runner, process: int) -> Op:
    """A message to the configured channel, repeated while the store answers 503 (20 s)."""
    deadline = time.monotonic() + 20
    while True:
        op = runner.new_op("configured", process, CONFIGURED)
        op.threads, op.messages = (str(uuid.UUID(int=op.id, version=4)),), (f"m{op.id}",)
        try:
            answer = await runner.clients[process].post(
                f"/channelsApi/{CONFIGURED}/invoke",
                headers={"vivi-api-key": CONFIGURED_KEY},
                json={"message": op.messages[0], "threadId": op.threads[0]},
            )
        except httpx.TransportError as exc:
            op.data = {"error": type(exc).__name__}
        else:
            op.status, op.outcome = answer.status_code, "ok"
            op.data = {"body": answer.text[:200]}
        op.end = runner.now()
        if op.status not in (503, None) or time.monotonic() > deadline:
            return op
        await asyncio.sleep(0.2)


async def _files(runner: Runner) -> dict[str, int | None]:
    sizes: dict[str, int | None] = {}
    for op in runner.history.ops:
        if op.kind == "upload" and "url" in op.data:
            answer = await runner.clients[0].get(op.data["url"])
            sizes[op.data["url"]] = len(answer.content) if answer.status_code == 200 else None
    return sizes


async def _probe_threads(runner: Runner) -> None:
    """One message to every thread once every request has ended and the server has had time to
    notice the clients that left: each is a turn begun in a quiet thread, so a turn left open
    (neither kept nor given back) shows as one that does not read the turn before it."""
    await asyncio.sleep(PROBE_PAUSE)
    quiet: dict[str, Any] = {"slow": False, "hangup": None, "old_key": False, "items": []}
    n = len(runner.clients)
    await asyncio.gather(
        *(
            runner.message(Action(0, "invoke", i % n, channel, {**quiet, "thread": i}))
            for channel in THREADED
            for i in range(len(runner.plan.threads[channel]))
        )
    )


async def _quiet_read(runner: Runner) -> Read:
    await _probe_threads(runner)
    at = runner.now()
    processes = range(len(runner.clients))
    journal = {}
    for channel in THREADED:
        page = await _json(runner, 0, "/_emulator/journal", channel=channel, limit=10_000)
        journal[channel] = page["entries"]
    usage = [(await _json(runner, p, "/_emulator/usage"))["usage"] for p in processes]
    queue = {c: (await _json(runner, 0, "/_emulator/queue", channel=c))["queue"]
             for c in (QUEUE, DELETED)}  # fmt: skip
    files = await _files(runner)
    configured = [await _configured(runner, p) for p in processes]
    return Read(at, journal, usage, queue, files, [], configured)


async def play(plan: Plan, cluster: Cluster, history: History) -> None:
    clients = [
        httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(max_connections=64))
        for url in cluster.urls
    ]
    runner = Runner(plan, cluster, history, clients)
    try:
        await runner.make_channels(plan.first_keys, list(range(plan.processes)))
        for round_ in plan.rounds:
            await _play(runner, round_.actions)
            history.reads.append(await _quiet_read(runner))
        history.retired.update(runner.retired)
    finally:
        for client in clients:
            await client.aclose()


def run(plan: Plan, workdir: Path, env: dict[str, str] | None = None) -> tuple[History, list[str]]:
    """Play the plan on a fresh cluster in ``workdir``; the history and the servers' logs."""
    history = History(plan.seed, plan.backend)
    cluster = Cluster(workdir, plan.backend, plan.seed, env or {}).start()
    try:
        asyncio.run(play(plan, cluster, history))
    finally:
        logs = cluster.stop()
    return history, logs
