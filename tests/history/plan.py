"""The schedule of a run: every operation and fault, with its time and parameters, drawn from
the seed alone (nothing in it depends on how the run goes), so a seed replays a run."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.history.cluster import CONFIGURED

# The channels the tool makes (and makes again after every restart of Redis), and the
# configured one. Turns are watched on those with threads.
QUEUE = "q"
DELETED = "dc"  # deleted and re-created with the same id
ROTATED = "rot"
FILES = "fq"
OVERRIDES = "ovr"
MADE = (QUEUE, DELETED, ROTATED, FILES, OVERRIDES)
THREADED = (CONFIGURED, QUEUE, DELETED, ROTATED)


@dataclass(frozen=True)
class Action:
    at: float  # seconds from the round's start
    kind: str
    process: int
    channel: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Round:
    actions: tuple[Action, ...]
    length: float


@dataclass(frozen=True)
class Plan:
    seed: int
    backend: str
    processes: int
    threads: dict[str, tuple[str, ...]]
    rounds: tuple[Round, ...]
    first_keys: dict[str, str]


class _Drawer:
    def __init__(self, seed: int, backend: str) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.backend = backend
        self.processes = 2 if backend == "redis" else 1
        self.keys = 0

    def key(self, channel: str) -> str:
        self.keys += 1
        return f"hk-{channel}-{self.seed}-{self.keys}"

    def process(self) -> int:
        return self.rng.randrange(self.processes)

    def message(self, at: float) -> Action:
        rng = self.rng
        channel = rng.choice(THREADED)
        endpoint = rng.choice(("invoke", "invoke", "stream", "batch"))
        slow = rng.random() < 0.3
        params: dict[str, Any] = {
            "thread": rng.randrange(5),
            "slow": slow,
            # The client leaves mid-answer (only a slow answer lasts long enough).
            "hangup": rng.uniform(0.02, 0.2) if slow and rng.random() < 0.5 else None,
            "old_key": channel == ROTATED and rng.random() < 0.3,
            "items": [rng.randrange(5) for _ in range(rng.randint(2, 3))],
        }
        return Action(at, endpoint, self.process(), channel, params)

    def traffic(self, length: float) -> list[Action]:
        rng = self.rng
        actions: list[Action] = []
        for _ in range(int(length * 22)):
            at = rng.uniform(0, length)
            draw = rng.random()
            if draw < 0.7:
                actions.append(self.message(at))
            elif draw < 0.82:
                channel = rng.choice((QUEUE, QUEUE, DELETED))
                actions.append(Action(at, "push", self.process(), channel))
            else:
                channel = rng.choice((FILES, FILES, FILES, DELETED))
                size = rng.randint(2, 14) * 1024
                actions.append(Action(at, "upload", self.process(), channel, {"size": size}))
        return actions

    def faults(self, length: float, index: int) -> list[Action]:
        rng = self.rng
        actions: list[Action] = []

        def at() -> float:
            return rng.uniform(0.1 * length, 0.9 * length)

        for _ in range(rng.randint(1, 3)):
            actions.append(Action(at(), "reset", self.process(), FILES))
        for _ in range(rng.randint(1, 2)):
            actions.append(
                Action(at(), "rotate", self.process(), ROTATED, {"key": self.key(ROTATED)})
            )
        actions.append(
            Action(at(), "recreate", self.process(), DELETED, {"key": self.key(DELETED)})
        )
        for _ in range(rng.randint(1, 2)):
            actions.append(Action(at(), "overrides", self.process(), OVERRIDES, self.overrides()))
        if self.backend == "redis":
            for _ in range(rng.randint(2, 5)):
                actions.append(Action(at(), "flush", 0, "", {"pick": rng.getrandbits(16)}))
            # Every other round, Redis is killed and comes back empty.
            if index % 2 == 1:
                keys = {c: self.key(c) for c in MADE}
                order = [rng.randrange(self.processes) for _ in range(self.processes)]
                params = {"down": rng.uniform(0.2, 0.8), "keys": keys, "first": order}
                actions.append(Action(at(), "restart", 0, "", params))
        return actions

    def flushes(self, length: float) -> list[Action]:
        """Every 100 ms a script cache emptied (then partly filled), and right after it a burst
        of fast messages (no client leaves, no old key): requests at different steps meet in
        one pipeline, so a reply NOSCRIPT shares a batch with steps that ran."""
        actions = []
        for n in range(int(length / 0.1)):
            at = n * 0.1
            actions.append(Action(at, "flush", 0, "", {"pick": self.rng.getrandbits(16)}))
            for _ in range(20):
                planned = self.message(at + self.rng.uniform(0.0, 0.03))
                params = {**planned.params, "slow": False, "hangup": None, "old_key": False}
                actions.append(
                    Action(planned.at, planned.kind, planned.process, planned.channel, params)
                )
        return actions

    def overrides(self) -> dict[str, Any]:
        rng = self.rng
        return {
            "forced": rng.choice(("probe", "slowprobe", "greeting", "slow", None)),
            "latency": {"first_event": 0, "first_token": rng.randint(1, 999), "token_gap": 0},
            "chaos": {
                "seed": rng.randint(0, 10**6),
                "faults": [{"kind": "status", "code": 429, "rate": rng.randint(1, 99) / 1000}],
            },
            # Which process writes each field.
            "by": [self.process() for _ in range(3)],
        }


def make_plan(
    seed: int, backend: str, rounds: int, length: float, *, focus: str | None = None
) -> Plan:
    """The plan of a run. ``focus="flush"``: messages and ``SCRIPT FLUSH`` only, every 50 ms
    (the fault a broken NOSCRIPT retry meets)."""
    drawer = _Drawer(seed, backend)
    threads = {
        channel: tuple(str(uuid.UUID(int=drawer.rng.getrandbits(128), version=4)) for _ in range(5))
        for channel in THREADED
    }
    first_keys = {c: drawer.key(c) for c in MADE}
    made = []
    for index in range(rounds):
        if focus == "flush":
            actions = drawer.flushes(length)
        else:
            actions = drawer.traffic(length) + drawer.faults(length, index)
        made.append(Round(tuple(sorted(actions, key=lambda a: a.at)), length))
    return Plan(seed, backend, drawer.processes, threads, tuple(made), first_keys)
