"""Verification against a channel's journal, in the style of WireMock's ``verify`` and respx's
call assertions: which requests a test expects, and a failure that lists what was received.

Works on the journal's entries as the control API shows them (plain dicts), so it is the same
against the session's emulator and a shared one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vivi_emulator.paths import parse_api_path

OPERATIONS = ("stream", "invoke", "batch", "files")

Entry = dict[str, Any]
MessageMatch = str | re.Pattern[str]


def operation_of(entry: Entry) -> str:
    """The VIVI operation of a journaled request: stream, invoke, batch or files."""
    parsed = parse_api_path(str(entry.get("path", "")))
    return parsed.operation.partition("/")[0] if parsed else ""


def messages_of(entry: Entry) -> list[str]:
    """The messages a request sent: one for stream and invoke, each item's for batch."""
    body = entry.get("body")
    if not isinstance(body, dict):
        return []
    if isinstance(body.get("message"), str):
        return [body["message"]]
    items = body.get("messages")
    if isinstance(items, list):
        return [i["message"] for i in items if isinstance(i, dict) and _is_text(i.get("message"))]
    return []


def items_of(entry: Entry) -> list[dict[str, Any]]:
    """Each message's record (thread, scenario, how it was chosen); a batch has several."""
    items = entry.get("items")
    if isinstance(items, list):
        return items
    if entry.get("thread") is None and entry.get("scenario") is None:
        return []  # an upload, or a request refused before it reached a scenario
    return [{k: entry.get(k) for k in ("thread", "scenario", "chosen_by", "limit")}]


def unmatched_items(entry: Entry) -> list[dict[str, Any]]:
    """The messages nothing scripted answered: they fell through to the default scenario (a
    message the rate limits refused got no scenario's answer at all)."""
    return [
        i
        for i in items_of(entry)
        if i.get("chosen_by") == "default" and not str(i.get("limit") or "").startswith("refused")
    ]


def describe(entry: Entry) -> str:
    """One line per request: what was sent, and what it got."""
    messages = messages_of(entry)
    sent = ""
    if operation_of(entry) == "batch":
        sent = f" messages={messages!r}"
    elif messages:
        sent = f" message={_short(messages[0])!r}"
    threads = sorted({str(i["thread"]) for i in items_of(entry) if i.get("thread")})
    if threads:
        sent += f" thread={','.join(threads)}"
    answers = ", ".join(f"{i.get('scenario')} ({i.get('chosen_by')})" for i in items_of(entry))
    got = f"{entry.get('status')} {answers}".rstrip()
    if entry.get("error"):
        got += f", {entry['error']}"
    if entry.get("client_left"):
        got += ", the client left"
    return f"{entry.get('method')} {entry.get('path')}{sent} -> {got}"


def received(entries: Sequence[Entry], channel: str) -> str:
    if not entries:
        return f"Received on channel {channel}: nothing."
    lines = [f"  {describe(e)}" for e in entries]
    return f"Received on channel {channel} ({_count(len(entries))}):\n" + "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Expected:
    """Which requests a test expects: an operation, a message, a thread (each optional)."""

    operation: str | None = None
    message: MessageMatch | None = None
    thread: str | None = None

    def __post_init__(self) -> None:
        if self.operation is not None and self.operation not in OPERATIONS:
            raise ValueError(
                f"vivi_emulator: unknown operation {self.operation!r}; "
                f"one of {', '.join(OPERATIONS)}"
            )

    def holds(self, entry: Entry) -> bool:
        if self.operation is not None and operation_of(entry) != self.operation:
            return False
        if self.thread is not None:
            threads = {str(i.get("thread", "")).lower() for i in items_of(entry)}
            if self.thread.lower() not in threads:
                return False
        if self.message is None:
            return True
        if isinstance(self.message, str):
            return self.message in messages_of(entry)
        return any(self.message.search(m) for m in messages_of(entry))

    def describe(self, plural: bool = False) -> str:
        what = "requests" if plural else "request"
        what = f"{self.operation} {what}" if self.operation else what
        if isinstance(self.message, str):
            what += f" with message {self.message!r}"
        elif self.message is not None:
            what += f" with a message matching {self.message.pattern!r}"
        if self.thread is not None:
            what += f" in thread {self.thread}"
        return what


def called_failure(
    expected: Expected, times: int | None, found: int, entries: Sequence[Entry], channel: str
) -> str | None:
    """The failure message when ``found`` requests do not meet ``times``; None when they do."""
    if (found >= 1) if times is None else (found == times):
        return None
    wanted = "at least 1" if times is None else f"exactly {times}"
    what = expected.describe(plural=times is not None and times != 1)
    failure = f"vivi_emulator.assert_called: expected {wanted} {what}, got {found}."
    return f"{failure}\n{received(entries, channel)}"


def unmatched_failure(
    entries: Sequence[Entry], channel: str, who: str = "vivi_emulator"
) -> str | None:
    """The failure message when requests fell through to the default scenario; else None."""
    unmatched = [e for e in entries if unmatched_items(e)]
    if not unmatched:
        return None
    lines = "\n".join(f"  {describe(e)}" for e in unmatched)
    return (
        f"{who}: {_count(len(unmatched))} matched no scenario and got the default "
        f"answer:\n{lines}\n"
        "Queue a reply (vivi_emulator.queue_reply), force a scenario, or add a fixture that "
        "matches.\n" + received(entries, channel)
    )


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def _count(n: int) -> str:
    return f"{n} request" if n == 1 else f"{n} requests"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
