"""The client conformance kit: each wire scenario, what a correct client does, and a verdict.

``vivi-emulator wire-test`` plays the kit (fixtures/wire.yaml, in order) against a client: the
emulator forces each scenario in turn, the client makes its usual request, and ``judge`` reads
what it printed and how it exited. A client in the kit prints the reply's text (or, like the
docs' ``requests`` sample, the ``data:`` lines) and exits non-zero when the reply failed.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from vivi_emulator.scenarios.context import RequestContext
from vivi_emulator.scenarios.engine import build_script
from vivi_emulator.scenarios.model import Scenario
from vivi_emulator.scenarios.named_wire import kit_scenarios

Expect = Literal["reply", "reply-kept", "error"]

_EXPECTATIONS: dict[Expect, str] = {
    "reply": "prints the whole reply and exits 0",
    "reply-kept": "keeps the whole reply (on_chat_model_end arrived); may report the cut",
    "error": "reports a failure (exits non-zero); never presents it as a reply",
}
_THREAD = "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"


@dataclass(frozen=True)
class Case:
    number: int
    name: str
    description: str
    expect: Expect
    reply: str

    @property
    def correct(self) -> str:
        return _EXPECTATIONS[self.expect]


def expectation(scenario: Scenario) -> Expect:
    options = scenario.wire
    if options is None or options.preset in (None, "proxy-buffered"):
        return "reply"
    if options.preset == "chunked-cut" and options.cut_after_bytes is None:
        return "reply-kept"
    return "error"  # idle-cut, gateway-timeout, a chunked cut mid-stream


def cases(only: Sequence[str] = ()) -> list[Case]:
    """The kit, numbered in order; ``only`` keeps the named scenarios (an unknown one: error)."""
    scenarios = kit_scenarios()
    unknown = set(only) - {s.name for s in scenarios}
    if unknown:
        known = ", ".join(s.name for s in scenarios)
        raise ValueError(f"not in the kit: {', '.join(sorted(unknown))}; the kit: {known}")
    ctx = RequestContext("demo-channel", "hello", _THREAD, None, (), 1, {})
    return [
        Case(n, s.name, s.description, expectation(s), build_script(s, ctx).reply)
        for n, s in enumerate(scenarios, 1)
        if not only or s.name in only
    ]


def listing(kit: Sequence[Case]) -> str:
    lines = []
    for case in kit:
        lines.append(f"{case.number:>2}. {case.name}: {case.description}")
        lines.append(f"    a correct client {case.correct}")
    return "\n".join(lines)


def printed_reply(stdout: str) -> str:
    """The reply a client printed: the chunks of its ``data:`` lines, else its whole output."""
    chunks = []
    for line in stdout.splitlines():
        if line.startswith("data:"):
            try:
                event = json.loads(line[5:])
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("event") == "on_chat_model_stream":
                chunks.append(str(event.get("message", "")))
    return "".join(chunks) if chunks else stdout


@dataclass(frozen=True)
class Verdict:
    ok: bool
    why: str


def judge(case: Case, exit_code: int | None, stdout: str) -> Verdict:
    """``exit_code`` None: the client did not exit in time."""
    if exit_code is None:
        return Verdict(False, "hung: did not exit in time")
    has_reply = case.reply in printed_reply(stdout)
    if case.expect == "error":
        if exit_code != 0:
            return Verdict(True, f"exit {exit_code}")
        return Verdict(False, "exit 0: a failed reply presented as a success")
    if not has_reply:
        return Verdict(False, f"exit {exit_code}, wrong or missing reply")
    if case.expect == "reply" and exit_code != 0:
        return Verdict(False, f"exit {exit_code} after the whole reply")
    return Verdict(True, f"exit {exit_code}, whole reply")


@dataclass(frozen=True)
class Result:
    case: Case
    verdict: Verdict
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Client:
    """The client under test: its command (run without a shell), what it gets in its
    environment (where the emulator is), and how long one run may take."""

    command: str
    env: dict[str, str]
    timeout: float = 60.0


def run_client(case: Case, client: Client) -> Result:
    """Run the client once (the emulator already answers ``case``) and judge it."""
    try:
        done = subprocess.run(  # noqa: S603 - the user's own client command, no shell
            shlex.split(client.command),
            env={**os.environ, **client.env},
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=client.timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode("utf-8", "replace") if isinstance(exc.stdout, bytes) else ""
        return Result(case, judge(case, None, out), out, "")
    return Result(case, judge(case, done.returncode, done.stdout), done.stdout, done.stderr)


def run_kit(
    kit: Sequence[Case],
    client: Client,
    force: Callable[[str | None], None],
    report: Callable[[Result], None] = lambda _: None,
) -> list[Result]:
    """Each case in turn: force its scenario, run the client, judge; ``force(None)`` at the end."""
    results = []
    try:
        for case in kit:
            force(case.name)
            result = run_client(case, client)
            report(result)
            results.append(result)
    finally:
        force(None)
    return results
