"""The two most used mock servers, as the harness runs them: Prism 5 and WireMock 3.

`benchmarks/run` installs both into the git-ignored benchmarks/.peers (npm); a peer that is
missing is skipped with a note.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from .common import BENCH, CONTRACT, PEERS, WORK

Argv = Callable[[int], list[str]]


def prism_spec() -> tuple[Path, str]:
    """The contract as Prism mocks it, plus a note of what was changed for Prism.

    Prism answers from examples (without one for text/event-stream it answers 500, "Cannot
    serialise complex objects as text"). So that Prism sends the same bytes as the others, the copy
    it gets carries the emulator's default 18-frame SSE body as the stream's example.
    """
    import yaml

    sys.path.insert(0, str(BENCH))
    import reply_bytes

    sse = b"".join(reply_bytes.FRAMES).decode()
    WORK.mkdir(parents=True, exist_ok=True)
    out = WORK / "prism-spec.yaml"
    spec = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    note = "the project's contract"
    try:
        stream = spec["paths"]["/channelsApi/{channelId}/stream"]["post"]
        media = stream["responses"]["200"]["content"]["text/event-stream"]
        media.pop("examples", None)
        media["example"] = sse
        note += ", its stream example set to the emulator's default 18-frame body"
    except (KeyError, TypeError):
        note += " (stream response not found where expected)"
    out.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return out, note


def prism_command(notes: list[str]) -> tuple[Argv, str] | None:
    prism = PEERS / ".bin" / "prism"
    if not (prism.exists() and shutil.which("node")):
        notes.append("Prism skipped: benchmarks/.peers has no @stoplight/prism-cli, or no node")
        return None
    spec, note = prism_spec()

    def argv(port: int) -> list[str]:
        return [str(prism), "mock", "-h", "127.0.0.1", "-p", str(port), str(spec)]

    return argv, note


def wiremock_command(notes: list[str]) -> tuple[Argv, str] | None:
    jars = sorted((PEERS / "wiremock").glob("**/wiremock-standalone-*.jar"))
    if not (jars and shutil.which("java")):
        notes.append("WireMock skipped: benchmarks/.peers has no wiremock jar, or no java")
        return None
    jar = jars[-1]

    def argv(port: int) -> list[str]:
        return [
            *("java", "-jar", str(jar), "--port", str(port), "--bind-address", "127.0.0.1"),
            *("--root-dir", str(BENCH / "wiremock"), "--disable-banner"),
            *("--no-request-journal", "--disable-request-logging"),
        ]

    return argv, jar.name
