"""The named properties checked on a history. Each returns its violations: the property's name
and the minimal evidence (the offending operations)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.history.cluster import FILES_QUOTA
from tests.history.record import REPLY, History, Op, Read
from tests.history.workload import OP_HEADER

MESSAGE_KINDS = ("invoke", "stream", "batch")
_STORE_FAULT = (500, 502, 503, 504)


@dataclass
class Violation:
    property: str
    what: str
    evidence: list[str] = field(default_factory=list)

    def render(self, seed: int) -> str:
        lines = [f"PROPERTY {self.property} violated (seed {seed}): {self.what}"]
        lines += [f"    {e}" for e in self.evidence[:8]]
        if len(self.evidence) > 8:
            lines.append(f"    ... and {len(self.evidence) - 8} more")
        return "\n".join(lines)


@dataclass(frozen=True)
class Seen:
    """One item of an answer: the turn it got and what it read of the turn before."""

    op: Op
    thread: str
    message: str
    index: int  # its place in the request (a batch's later items begin after the earlier)
    turn: int
    previous: str
    queued: str | None


def _seen(history: History) -> Iterator[Seen]:
    for op in history.ops:
        if op.kind not in MESSAGE_KINDS or op.status != 200:
            continue
        for index, (thread, reply) in enumerate(zip(op.threads, op.replies, strict=False)):
            match = REPLY.match(reply)
            if match is not None:
                yield Seen(
                    op,
                    thread,
                    match["msg"],
                    index,
                    int(match["turn"]),
                    match["prev"],
                    match["queued"],
                )


def _op_of_message(history: History) -> dict[str, tuple[Op, int]]:
    return {m: (op, n) for op in history.ops for n, m in enumerate(op.messages)}


def _uncertain(op: Op) -> bool:
    """The op may have opened a turn (or claimed a reply) that no answer shows."""
    return op.indeterminate or (op.status == 200 and op.outcome != "ok")


# --- turns -------------------------------------------------------------------------------------


def _by_thread(history: History) -> dict[tuple[str, str, int], list[Seen]]:
    groups: dict[tuple[str, str, int], list[Seen]] = defaultdict(list)
    for seen in _seen(history):
        epochs = history.epochs(seen.op)
        if len(epochs) == 1:
            groups[(seen.op.channel, seen.thread, epochs[0])].append(seen)
    return groups


def turns_unique(history: History) -> list[Violation]:
    found = []
    for (channel, thread, epoch), seen in _by_thread(history).items():
        by_turn: dict[int, list[Seen]] = defaultdict(list)
        for s in seen:
            by_turn[s.turn].append(s)
        for turn, same in by_turn.items():
            if len(same) > 1:
                found.append(
                    Violation(
                        "turns_unique",
                        f"turn {turn} of thread {thread} in {channel} (epoch {epoch}) given "
                        f"{len(same)} times",
                        [s.op.summary() for s in same],
                    )
                )
    return found


def _uncertain_items(history: History, channel: str, thread: str, epoch: int) -> list[Op]:
    return [
        op
        for op in history.ops
        if op.kind in MESSAGE_KINDS
        and op.channel == channel
        and epoch in history.epochs(op)
        and (_uncertain(op) or len(history.epochs(op)) > 1)
        for t in op.threads
        if t == thread
    ]


def turns_without_unexplained_gaps(history: History) -> list[Violation]:
    """A thread's turns run 1, 2, 3...: a missing turn is explained only by a request whose
    outcome is unknown (the client left, the store failed, a restart overlapped it); a turn
    begun when its thread was quiet reads the turn before's message (an empty or older one:
    that turn was opened and never settled), unless a store fault explains it."""
    found = []
    messages = _op_of_message(history)
    for (channel, thread, epoch), seen in _by_thread(history).items():
        uncertain = _uncertain_items(history, channel, thread, epoch)
        turns = {s.turn: s for s in seen}
        # A turn no answer shows but the next one read: the message of a request whose
        # answer was not seen (a client that left).
        shown = {s.message for s in seen}
        inferred = {s.turn - 1 for s in seen if s.previous in messages and s.previous not in shown}
        missing = sorted(set(range(1, max(turns) + 1)) - set(turns) - inferred)
        if len(missing) > len(uncertain):
            found.append(
                Violation(
                    "turns_without_unexplained_gaps",
                    f"thread {thread} in {channel} (epoch {epoch}): turns {missing} missing, "
                    f"{len(uncertain)} requests of unknown outcome to explain them",
                    # The answers around each missing turn, and what could explain it.
                    [
                        s.op.summary()
                        for s in sorted(seen, key=lambda s: s.turn)
                        if any(abs(s.turn - m) == 1 for m in missing)
                    ]
                    + [f"unknown: {op.summary()}" for op in uncertain],
                )
            )
        found += _unsettled(history, (channel, thread, epoch), seen, turns)
    return found


# A client that left is noticed by the server within this (it settles the turn then).
SETTLE_SECONDS = 1.0


def _left_before(history: History, where: tuple[str, str, int], odd: list[Seen]) -> list[Op]:
    """For each odd turn, the last request of its thread whose client left before it began
    (the likely owner of the turn never settled)."""
    channel, thread, _ = where
    found = []
    for s in odd:
        left = [
            op
            for op in history.ops
            if op.channel == channel
            and thread in op.threads
            and op.outcome == "hangup"
            and op.end < s.op.start
        ]
        if left:
            found.append(max(left, key=lambda op: op.end))
    return found


def _message_of_turn(turns: dict[int, Seen], turn: int) -> str:
    return repr(turns[turn].message) if turn in turns else "unseen"


def _quiet_before(history: History, where: tuple[str, str, int], seen: Seen) -> bool:
    """No other request of the thread was in flight (or had just left) while this one was."""
    channel, thread, epoch = where
    for op in history.ops:
        if (
            op is not seen.op
            and op.channel == channel
            and thread in op.threads
            and op.start <= seen.op.end
            and epoch in history.epochs(op)
        ):
            margin = SETTLE_SECONDS if op.outcome == "hangup" else 0.0
            if op.end + margin >= seen.op.start:
                return False
    return True


def _unsettled(
    history: History, where: tuple[str, str, int], seen: list[Seen], turns: dict[int, Seen]
) -> list[Violation]:
    faults = [
        op
        for op in _uncertain_items(history, *where)
        if op.outcome != "hangup" or len(history.epochs(op)) > 1
    ]
    turn_of = {s.message: s.turn for s in seen}
    odd = [
        s
        for s in seen
        if s.turn > 1
        and s.index == 0
        # Nothing read, or an older turn's message read: the turn before was opened and never
        # kept nor given back. (A message no answer shows may be that turn: a client that left.)
        and (not s.previous or turn_of.get(s.previous, s.turn - 1) != s.turn - 1)
        and _quiet_before(history, where, s)
    ]
    if len(odd) <= len(faults):
        return []
    channel, thread, epoch = where
    return [
        Violation(
            "turns_without_unexplained_gaps",
            f"thread {thread} in {channel} (epoch {epoch}): {len(odd)} turns begun in a quiet "
            f"thread did not read the turn before (opened, never settled); {len(faults)} store "
            "faults to explain them",
            [
                f"turn {s.turn} read {s.previous!r}, turn {s.turn - 1} was "
                f"{_message_of_turn(turns, s.turn - 1)}: {s.op.summary()}"
                for s in odd
            ]
            + [f"fault: {op.summary()}" for op in faults]
            + [
                f"the last to leave before: {op.summary()}"
                for op in _left_before(history, where, odd)
            ],
        )
    ]


# --- queued replies ----------------------------------------------------------------------------


def queued_reply_consumed_once(history: History) -> list[Violation]:
    found = []
    pushes = {op.data["name"]: op for op in history.ops if op.kind == "push"}
    consumed: dict[str, list[Seen]] = defaultdict(list)
    for seen in _seen(history):
        if seen.queued is not None:
            consumed[seen.queued].append(seen)
    for name, by in consumed.items():
        push = pushes[name]
        if len(by) > 1:
            found.append(
                Violation(
                    "queued_reply_consumed_once",
                    f"{name} consumed {len(by)} times",
                    [push.summary()] + [s.op.summary() for s in by],
                )
            )
        if push.status != 201:
            found.append(
                Violation(
                    "queued_reply_consumed_once",
                    f"{name} was refused ({push.status}) yet consumed",
                    [push.summary()] + [s.op.summary() for s in by],
                )
            )
    if history.reads:
        found += _lost_replies(history, pushes, consumed, history.reads[-1])
    return found


def _lost_replies(
    history: History, pushes: dict[str, Op], consumed: dict[str, list[Seen]], last: Read
) -> list[Violation]:
    """Exactly once where nothing intervened: a reply accepted in the channel's last epoch is
    still queued at the end, or was consumed (seen, or by a request of unknown outcome)."""
    found = []
    for channel, listed in last.queue.items():
        epoch = history.epoch_at(channel, last.at)
        accepted = [
            p
            for p in pushes.values()
            if p.channel == channel
            and p.status == 201
            and history.epochs(p) == range(epoch, epoch + 1)
        ]
        lost = [
            p for p in accepted if p.data["name"] not in listed and p.data["name"] not in consumed
        ]
        if not lost:
            continue
        first = min(p.start for p in lost)
        uncertain = [
            op
            for op in history.ops
            if op.kind in MESSAGE_KINDS
            and op.channel == channel
            and op.end >= first
            and epoch in history.epochs(op)
            and _uncertain(op)
            for _ in op.messages
        ]
        if len(lost) > len(uncertain):
            found.append(
                Violation(
                    "queued_reply_consumed_once",
                    f"{len(lost)} accepted replies of {channel} neither queued nor consumed at the "
                    f"end, {len(uncertain)} requests of unknown outcome to explain them",
                    [p.summary() for p in lost] + [f"unknown: {op.summary()}" for op in uncertain],
                )
            )
    return found


# --- the journal -------------------------------------------------------------------------------


def _entries_by_op(entries: list[dict[str, Any]]) -> dict[int, list[int]]:
    """The journal's entries by the op that sent them (its header, kept with the request)."""
    by_op: dict[int, list[int]] = defaultdict(list)
    for entry in entries:
        said = entry["headers"].get(OP_HEADER)
        if said is not None:
            by_op[int(said)].append(int(entry["id"]))
    return by_op


def journal_one_entry_per_answer(history: History) -> list[Violation]:
    """Each request answered in the epoch the journal is read in has exactly one entry there
    (at most one when its outcome is unknown); checked at the first quiet point after it."""
    found = []
    checked: set[int] = set()
    for read in history.reads:
        for channel, entries in read.journal.items():
            epoch = history.epoch_at(channel, read.at)
            by_op = _entries_by_op(entries)
            for op in history.ops:
                if (
                    op.channel != channel
                    or op.kind not in MESSAGE_KINDS
                    or op.end > read.at
                    or op.id in checked
                    or history.epochs(op) != range(epoch, epoch + 1)
                ):
                    continue
                checked.add(op.id)
                count = len(by_op.get(op.id, []))
                # A request begun while its channel was being deleted and made again may
                # belong to the deleted generation (its entry then dropped).
                racing = any(
                    b.kind == "delete" and b.begin <= op.start <= b.done
                    for b in history.boundaries_of(channel)
                )
                certain = not _uncertain(op) and (op.status or 0) < 500 and not racing
                if count > 1 or (certain and count != 1):
                    found.append(
                        Violation(
                            "journal_one_entry_per_answer",
                            f"op {op.id} has {count} journal entries in {channel} "
                            f"(ids {by_op.get(op.id, [])})",
                            [op.summary()],
                        )
                    )
    return found


# --- files -------------------------------------------------------------------------------------


def file_bytes_add_up(history: History) -> list[Violation]:
    """The file-bytes counter is the sum of the files served, never negative, within the
    quota; every process agrees."""
    found = []
    for at, usage in history.usage_samples:
        if not 0 <= usage["file_bytes"] <= FILES_QUOTA:
            found.append(
                Violation("file_bytes_add_up", f"file bytes {usage['file_bytes']} at {at:.3f}")
            )
    for read in history.reads:
        served = {url: size for url, size in read.files.items() if size is not None}
        total = sum(served.values())
        restarted = max((b.begin for b in history.boundaries if b.kind == "restart"), default=0)
        unknown = [
            op
            for op in history.ops
            if op.kind == "upload" and _uncertain(op) and restarted <= op.end <= read.at
        ]
        for usage in read.usage:
            counted = usage["file_bytes"]
            if counted == total and usage["files"] == len(served):
                continue
            if unknown and counted >= total and counted <= FILES_QUOTA:
                continue
            found.append(
                Violation(
                    "file_bytes_add_up",
                    f"at {read.at:.3f} the counter says {counted} bytes in {usage['files']} "
                    f"files, {len(served)} files of {total} bytes are served",
                    [f"unknown: {op.summary()}" for op in unknown],
                )
            )
    return found


# --- keys, deletes, restarts, overrides --------------------------------------------------------


def key_refused_after_rotation(history: History) -> list[Violation]:
    return [
        Violation(
            "key_refused_after_rotation",
            f"a key retired at {history.retired[op.key]:.3f} was accepted",
            [op.summary()],
        )
        for op in history.ops
        if op.key in history.retired and op.status == 200 and op.start > history.retired[op.key]
    ]


def deleted_channel_invisible(history: History) -> list[Violation]:
    """Nothing a request of a deleted generation wrote is seen in its successor: no journal
    entry, no queued reply, no file, no turn."""
    found = []
    ops = {op.id: op for op in history.ops}
    for read in history.reads:
        for channel, entries in read.journal.items():
            for op_id, ids in _entries_by_op(entries).items():
                op = ops.get(op_id)
                if op is not None and op.channel == channel and history.deleted_before(op, read.at):
                    found.append(
                        Violation(
                            "deleted_channel_invisible",
                            f"journal entries {ids} of a deleted generation of {channel}",
                            [op.summary()],
                        )
                    )
        for url, size in read.files.items():
            upload = next(op for op in history.ops if op.data.get("url") == url)
            if size is not None and history.deleted_before(upload, read.at):
                found.append(
                    Violation(
                        "deleted_channel_invisible",
                        f"a file of a deleted generation of {upload.channel} is still served",
                        [upload.summary()],
                    )
                )
    pushes = {op.data["name"]: op for op in history.ops if op.kind == "push"}
    messages = _op_of_message(history)
    for seen in _seen(history):
        for origin in (pushes.get(seen.queued or ""), messages.get(seen.previous, (None,))[0]):
            if origin is not None and history.deleted_before(origin, seen.op.start):
                found.append(
                    Violation(
                        "deleted_channel_invisible",
                        "a request of a new generation saw a request of the deleted one",
                        [origin.summary(), seen.op.summary()],
                    )
                )
    return found


def configured_channels_served(history: History) -> list[Violation]:
    return [
        Violation(
            "configured_channels_served",
            f"the configured channel answered {op.status} at a quiet point",
            [op.summary()],
        )
        for read in history.reads
        for op in read.configured
        if op.status != 200
    ]


def overrides_not_lost(history: History) -> list[Violation]:
    """Fields of a channel's overrides written at once by different requests all hold."""
    found = []
    restarts = [b for b in history.boundaries if b.kind == "restart"]
    for round_ in history.override_rounds:
        if any(b.begin <= round_["end"] and b.done >= round_["begin"] for b in restarts):
            continue
        written = round_["written"]
        for seen in round_["seen"]:
            lost = [k for k in written if seen[k] != written[k]]
            if lost:
                found.append(
                    Violation(
                        "overrides_not_lost",
                        f"process {seen['process']} reads {lost} not as written",
                        [f"written {written}", f"read {seen}"],
                    )
                )
    return found


def no_traceback(logs: list[str]) -> list[Violation]:
    return [
        Violation(
            "no_traceback", f"server {n} logged a traceback", [log[log.index("Traceback") :][:1500]]
        )
        for n, log in enumerate(logs)
        if "Traceback" in log
    ]


PROPERTIES: tuple[Callable[[History], list[Violation]], ...] = (
    turns_unique,
    turns_without_unexplained_gaps,
    queued_reply_consumed_once,
    journal_one_entry_per_answer,
    file_bytes_add_up,
    key_refused_after_rotation,
    deleted_channel_invisible,
    configured_channels_served,
    overrides_not_lost,
)


def check(history: History, logs: list[str]) -> list[Violation]:
    found = [v for prop in PROPERTIES for v in prop(history)]
    return found + no_traceback(logs)
