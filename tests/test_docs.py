"""Every command the docs mark as runnable prints what the docs say it prints.

The marker is an HTML comment (invisible on GitHub) on the line before a ```sh block; the next
fenced block after it is the output, compared line by line, where a line `...` stands for any
number of lines:

    <!-- doc-test -->              run from the clone, as after scripts/setup (nothing activated)
    <!-- doc-test: serve -->       the same, with an emulator serving (latency none); the
                                   commands' http://127.0.0.1:8000 and http://localhost:8000
                                   are its address

Commands run in bash from the repository's root, with no virtualenv on the PATH and no
VIVI_EMULATOR_* variable: the state the README's two commands leave.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.server import Running, start

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"^<!-- doc-test(?::\s*(?P<mode>serve))? -->$")
FENCE = re.compile(r"^(```+)(\w*)")
DEFAULT_BASES = ("http://127.0.0.1:8000", "http://localhost:8000")


@dataclass(frozen=True)
class Example:
    doc: Path
    line: int
    serve: bool
    commands: str
    expected: list[str]

    @property
    def name(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def _blocks(lines: list[str], start: int) -> Iterator[tuple[int, str, list[str]]]:
    """The fenced blocks from line ``start`` on: (line of the fence, language, body)."""
    index = start
    while index < len(lines):
        opened = FENCE.match(lines[index])
        if opened is None:
            index += 1
            continue
        fence, language = opened.groups()
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith(fence))
        yield index + 1, language, lines[index + 1 : end]
        index = end + 1


def examples() -> list[Example]:
    found = []
    for doc in DOCS:
        lines = doc.read_text(encoding="utf-8").splitlines()
        for number, text in enumerate(lines):
            marked = MARKER.match(text)
            if marked is None:
                continue
            blocks = _blocks(lines, number + 1)
            at, language, commands = next(blocks)
            assert language == "sh", f"{doc}:{at}: a doc-test marks a ```sh block"
            _, _, expected = next(blocks)
            serve = marked.group("mode") == "serve"
            found.append(Example(doc, at, serve, "\n".join(commands), expected))
    return found


EXAMPLES = examples()


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line; a line "..." stands for any number of lines (none included)."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and actual[0] == expected[0] and matches(expected[1:], actual[1:])


def fresh_shell() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("VIVI_EMULATOR_") and k not in {"VIRTUAL_ENV", "COLUMNS"}
    }
    folders = env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join(
        f for f in folders if f and not (Path(f) / "vivi-emulator").exists()
    )
    return env


def run(example: Example, running: Running | None) -> list[str]:
    commands = example.commands
    if running is not None:
        for base in DEFAULT_BASES:
            commands = commands.replace(base, running.base_url)
    done = subprocess.run(
        ["bash", "-c", commands],
        cwd=ROOT,
        env=fresh_shell(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{example.name}: exit {done.returncode}\n{done.stderr}"
    lines = [line.rstrip() for line in done.stdout.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def test_the_docs_mark_runnable_examples() -> None:
    # The ones this test was written for: the README's stream, the container doc's sample
    # output, the fixtures check, the wire kit's listing.
    names = {e.doc.name for e in EXAMPLES}
    assert {"README.md", "container.md", "wire.md"} <= names
    assert sum(e.serve for e in EXAMPLES) >= 2


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_a_runnable_example_prints_what_the_doc_says(example: Example) -> None:
    expected = [line.rstrip() for line in example.expected]
    while expected and not expected[-1]:  # a stream's last blank line, as the doc shows it
        expected.pop()
    running = start("--no-access-log") if example.serve else None
    try:
        actual = run(example, running)
    finally:
        if running is not None:
            running.stop()
    assert matches(expected, actual), "\n".join(
        [f"{example.name}: the doc says", *expected, "but the command printed", *actual]
    )


@pytest.mark.parametrize(
    ("expected", "actual", "result"),
    [
        (["a", "...", "z"], ["a", "b", "c", "z"], True),
        (["a", "...", "z"], ["a", "z"], True),
        (["a", "...", "z"], ["a", "b"], False),
        (["a", "b"], ["a", "b", "c"], False),
        (["...", "c"], ["a", "b", "c"], True),
    ],
)
def test_the_comparison(expected: list[str], actual: list[str], result: bool) -> None:
    assert matches(expected, actual) is result
