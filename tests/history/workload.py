"""Runs a plan: the clients, the fault injector and the recorder.

Each action of a round starts at its planned time as a task of its own; the round ends when
every task has finished (a quiet point), and then the state is read (``quiet.py``).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from vivi_emulator import sse

from tests.history.cluster import CONFIGURED, CONFIGURED_KEY, Cluster
from tests.history.plan import DELETED, MADE, ROTATED, Action, Plan
from tests.history.record import Boundary, History, Op

TEXT = "t={{ turn }} p={{ previous_message }} m={{ message }}"
STORE_DOWN = (500, 502, 503, 504)
OP_HEADER = "x-history-op"


@dataclass
class Runner:
    plan: Plan
    cluster: Cluster
    history: History
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)
    previous_keys: dict[str, str] = field(default_factory=dict)
    retired: dict[str, float] = field(default_factory=dict)  # key: when it stopped
    next_id: int = 0
    override_rounds: asyncio.Lock = field(default_factory=asyncio.Lock)
    t0: float = field(default_factory=time.monotonic)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def new_op(self, kind: str, process: int, channel: str) -> Op:
        self.next_id += 1
        op = Op(self.next_id, kind, process, channel, self.now())
        self.history.ops.append(op)
        return op

    def key_of(self, channel: str) -> str:
        return CONFIGURED_KEY if channel == CONFIGURED else self.keys[channel]

    # --- set-up ---------------------------------------------------------------------------------

    async def make_channels(self, keys: dict[str, str], first: list[int]) -> None:
        """Make the tool's channels (again, after a restart); the first request each process
        gets is a control write, as the pytest plugin's is."""
        for process in first:
            await self.control(process, "DELETE", "/_emulator/queue", params={"channel": "q"})
        for channel in MADE:
            old = self.keys.get(channel)
            made = await self.control(first[0], "POST", "/_emulator/channels",
                                      json={"id": channel, "key": keys[channel]})  # fmt: skip
            if old is not None and not _created(made):
                continue  # a re-create of the channel running meanwhile made it first: its key
            if old is not None:
                self.previous_keys[channel] = old
                self.retired[old] = self.now()
            self.keys[channel] = keys[channel]

    async def control(
        self, process: int, method: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        """A control request, repeated while the store is down (up to 20 s); recorded."""
        deadline = time.monotonic() + 20
        while True:
            channel = kwargs.get("params", {}).get("channel", "")
            op = self.new_op(f"control {method} {path}", process, channel)
            answer: httpx.Response | None = None
            try:
                answer = await self.clients[process].request(method, path, **kwargs)
            except httpx.TransportError as exc:
                op.end, op.data = self.now(), {"error": type(exc).__name__}
            else:
                op.end, op.status, op.outcome = self.now(), answer.status_code, "ok"
                op.data = {"body": answer.text[:300]}
                if answer.status_code not in STORE_DOWN:
                    return answer
            if time.monotonic() > deadline:
                return answer
            await asyncio.sleep(0.1)

    # --- the clients ----------------------------------------------------------------------------

    def _message_request(
        self, action: Action, op: Op
    ) -> tuple[str, dict[str, Any], dict[str, str]]:
        params = action.params
        threads = self.plan.threads[action.channel]
        key = self.key_of(action.channel)
        if params["old_key"] and action.channel in self.previous_keys:
            key = self.previous_keys[action.channel]
        op.key = key
        # The op's identity, kept by the journal with the request's headers.
        headers = {"vivi-api-key": key, OP_HEADER: str(op.id)}
        if params["slow"]:
            headers["x-vivi-scenario"] = "slowprobe"
        if action.kind == "batch":
            op.threads = tuple(threads[i] for i in params["items"])
            op.messages = tuple(f"m{op.id}x{n}" for n in range(len(op.threads)))
            body: dict[str, Any] = {
                "messages": [
                    {"message": m, "threadId": t}
                    for m, t in zip(op.messages, op.threads, strict=True)
                ]
            }
        else:
            op.threads, op.messages = (threads[params["thread"]],), (f"m{op.id}",)
            body = {"message": op.messages[0], "threadId": op.threads[0]}
        return f"/channelsApi/{action.channel}/{action.kind}", body, headers

    async def message(self, action: Action) -> None:
        op = self.new_op(action.kind, action.process, action.channel)
        path, body, headers = self._message_request(action, op)
        client = self.clients[action.process]
        request = client.build_request("POST", path, json=body, headers=headers)
        hangup = action.params["hangup"]
        try:
            if action.kind == "stream":
                await self._stream(op, client, request, hangup)
            elif hangup is not None:
                try:
                    answer = await asyncio.wait_for(client.send(request), hangup)
                except TimeoutError:
                    op.outcome = "hangup"
                else:
                    self._read_json(op, answer)
            else:
                self._read_json(op, await client.send(request))
        except httpx.TransportError as exc:
            op.outcome, op.data = "broken", {"error": type(exc).__name__}
        op.end = self.now()

    def _read_json(self, op: Op, answer: httpx.Response) -> None:
        op.status, op.outcome, op.answered_at = answer.status_code, "ok", self.now()
        if answer.status_code != 200:
            op.data = {"body": answer.text[:200]}
            return
        data = answer.json()
        items = data.get("responses", [data])
        op.replies = tuple(str(i["message"]) for i in items)

    async def _stream(
        self, op: Op, client: httpx.AsyncClient, request: httpx.Request, hangup: float | None
    ) -> None:
        answer = await client.send(request, stream=True)
        try:
            op.status, op.answered_at = answer.status_code, self.now()
            received = b""
            async for chunk in answer.aiter_bytes():
                received += chunk
                if hangup is not None and b"on_chat_model_stream" in received:
                    op.outcome = "hangup"
                    return  # leaves mid-stream: the connection is closed, not reused
        finally:
            await answer.aclose()
        op.outcome = "ok"
        if answer.status_code != 200:
            op.data = {"body": received[:200].decode(errors="replace")}
            return
        events = [json.loads(d) for f in sse.split_frames(received) if (d := sse.frame_data(f))]
        if not events or events[-1].get("event") != "on_chat_model_end":
            op.outcome = "broken"  # the stream ended without its end event
        chunks = [e["message"] for e in events if e.get("event") == "on_chat_model_stream"]
        op.replies = ("".join(chunks),)

    async def push(self, action: Action) -> None:
        op = self.new_op("push", action.process, action.channel)
        name = f"Q{op.id}"
        op.data = {"name": name}
        try:
            answer = await self.clients[action.process].post(
                "/_emulator/queue",
                params={"channel": action.channel},
                json={"name": name, "text": f"{name} {TEXT}"},
            )
            op.status, op.outcome, op.answered_at = answer.status_code, "ok", self.now()
        except httpx.TransportError as exc:
            op.data["error"] = type(exc).__name__
        op.end = self.now()

    async def upload(self, action: Action) -> None:
        op = self.new_op("upload", action.process, action.channel)
        size = action.params["size"]
        op.data = {"size": size}
        files = {
            "files": (f"f{op.id}.bin", bytes([op.id % 251]) * size, "application/octet-stream")
        }
        try:
            answer = await self.clients[action.process].post(
                f"/channelsApi/{action.channel}/files",
                headers={"vivi-api-key": self.key_of(action.channel)},
                files=files,
            )
            op.status, op.outcome, op.answered_at = answer.status_code, "ok", self.now()
            if answer.status_code == 200:
                op.data["url"] = answer.json()["urls"][0]
        except httpx.TransportError as exc:
            op.data["error"] = type(exc).__name__
        op.end = self.now()

    # --- the faults -----------------------------------------------------------------------------

    async def reset(self, action: Action) -> None:
        await self.control(action.process, "POST", "/_emulator/reset",
                           params={"channel": action.channel})  # fmt: skip

    async def rotate(self, action: Action) -> None:
        old = self.keys[ROTATED]
        answer = await self.control(action.process, "POST", f"/_emulator/channels/{ROTATED}/rotate",
                                    json={"key": action.params["key"]})  # fmt: skip
        if answer is not None and answer.status_code == 200 and self.keys[ROTATED] == old:
            self.previous_keys[ROTATED], self.keys[ROTATED] = old, action.params["key"]
            self.retired[old] = self.now()

    async def recreate(self, action: Action) -> None:
        old = self.keys[DELETED]
        begin = self.now()
        gone = await self.control(action.process, "DELETE", f"/_emulator/channels/{DELETED}")
        cut = self.now()
        self.retired[old] = cut
        made = await self.control(action.process, "POST", "/_emulator/channels",
                                  json={"id": DELETED, "key": action.params["key"]})  # fmt: skip
        if _created(made):  # else a restart's re-making of the channel came first: its key
            self.previous_keys[DELETED], self.keys[DELETED] = old, action.params["key"]
        ended = gone is not None and gone.status_code == 200
        self.history.boundaries.append(
            Boundary("delete", DELETED, begin, self.now(), cut, ended=ended)
        )

    async def flush(self, action: Action) -> None:
        await asyncio.to_thread(self.cluster.script_flush, action.params["pick"])

    async def restart(self, action: Action) -> None:
        begin = self.now()
        await asyncio.to_thread(self.cluster.kill_redis)
        await asyncio.sleep(action.params["down"])
        await asyncio.to_thread(self.cluster.restart_redis_empty)
        await self.make_channels(action.params["keys"], action.params["first"])
        self.history.boundaries.append(Boundary("restart", None, begin, self.now()))

    async def overrides(self, action: Action) -> None:
        """Three fields of one channel's overrides written at once, each by its own request
        (from either process); then read back from every process. One round at a time: a
        round's fields are each written once."""
        async with self.override_rounds:
            await self._override_round(action)

    async def _override_round(self, action: Action) -> None:
        params, channel = action.params, {"channel": action.channel}
        begin = self.now()
        writes = [
            self.control(params["by"][0], "PUT", "/_emulator/forced",
                         json={"scenario": params["forced"], **channel}),
            self.control(params["by"][1], "PUT", "/_emulator/latency", params=channel,
                         json={"profile": params["latency"]}),
            self.control(params["by"][2], "PUT", "/_emulator/chaos", params=channel,
                         json=params["chaos"]),
        ]  # fmt: skip
        answers = await asyncio.gather(*writes)
        if any(a is None or a.status_code != 200 for a in answers):
            return
        seen = [await self._read_overrides(p, action.channel) for p in range(len(self.clients))]
        if any(s is None for s in seen):
            return
        self.history.override_rounds.append(
            {
                "begin": begin,
                "end": self.now(),
                "written": {
                    "forced": params["forced"],
                    "latency": params["latency"]["first_token"],
                    "chaos": _chaos_said(params["chaos"]),
                },
                "seen": seen,
            }
        )

    async def _read_overrides(self, process: int, channel: str) -> dict[str, Any] | None:
        """What the process reads of the three fields; None when it could not (the store down
        past the retries: a restart overlapped the round, which the property leaves aside)."""
        params = {"channel": channel}
        read = {}
        for name, path in (("forced", "scenarios"), ("latency", "latency"), ("chaos", "chaos")):
            answer = await self.control(process, "GET", f"/_emulator/{path}", params=params)
            if answer is None or answer.status_code != 200:
                return None
            read[name] = answer.json()
        return {
            "process": process,
            "forced": read["forced"]["forced"],
            "latency": read["latency"]["profile"].get("first_token"),
            "chaos": _chaos_said(read["chaos"]["chaos"]),
        }


def _chaos_said(chaos: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """What the run writes of a chaos setting: its seed and faults (kind, code, rate)."""
    if chaos is None:
        return None
    faults = tuple((f["kind"], f.get("code"), f["rate"]) for f in chaos["faults"])
    return (chaos["seed"], faults)


def _created(answer: httpx.Response | None) -> bool:
    """A channel made by this request (201); a 422 "exists" means another made it first."""
    return answer is not None and answer.status_code == 201
