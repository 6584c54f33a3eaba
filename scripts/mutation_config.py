"""Writes the scratch folder's pyproject.toml for scripts/mutate when MUTATE_TESTS names the tests
to run: the project's own, with its [tool.mutmut] table narrowed to the modules the mutant globs
name and to those tests.

mutmut reads its settings only from pyproject.toml in the folder it runs in, and mutates every
module of ``only_mutate`` (copied and compiled with all its mutants) even when the globs pick
one; pytest reads the same file for its own settings, so the rest of it is kept as it is. A
narrow run (a module and the tests that mirror it) keeps the first, traced run of the tests and
each mutant's run short.

    python scripts/mutation_config.py OUT GLOB...   # MUTATE_TESTS="tests/a.py tests/b.py"
                                                    # MUTATE_DESELECT="tests/a.py::test_x"
"""

from __future__ import annotations

import json
import os
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The table runs from its header to the next table's header (a line starting with "[").
_TABLE = re.compile(r"^\[tool\.mutmut\]\n(?:(?!\[).*\n|\n)*", re.MULTILINE)


def module_pattern(glob: str) -> str:
    """A mutant-name glob (``vivi_emulator.store.memory*``) as an ``only_mutate`` path pattern
    (``src/vivi_emulator/store/memory*``): mutmut names a module by its path under ``src``."""
    return "src/" + glob.replace(".", "/")


def narrowed(text: str, globs: list[str], tests: list[str]) -> str:
    """The pyproject text with its [tool.mutmut] table's modules and tests replaced."""
    table = dict(tomllib.loads(text)["tool"]["mutmut"])
    table["only_mutate"] = [module_pattern(g) for g in globs]
    table["pytest_add_cli_args_test_selection"] = tests
    # "forkserver" (MUTATE_ISOLATION): each mutant's child forked from a process that ran no
    # test. Forked from the one that did, a child can inherit a lock held by one of its threads
    # (a Redis client's, a thread pool's) and wait on it forever.
    isolation = os.environ.get("MUTATE_ISOLATION")
    if isolation:
        table["process_isolation"] = isolation
    # JSON's strings and arrays of strings are TOML's too (the values here are ASCII).
    lines = ["[tool.mutmut]", *(f"{key} = {json.dumps(value)}" for key, value in table.items())]
    replaced, count = _TABLE.subn("\n".join(lines) + "\n\n", text, count=1)
    if count != 1:
        raise SystemExit("pyproject.toml has no [tool.mutmut] table")
    return replaced


def main() -> None:
    out, globs = Path(sys.argv[1]), sys.argv[2:]
    tests = os.environ.get("MUTATE_TESTS", "").split()
    # MUTATE_DESELECT: test ids left out (tests that start servers in subprocesses, which see
    # no mutant, and whose threads a forked child could inherit mid-lock).
    for test in os.environ.get("MUTATE_DESELECT", "").split():
        tests += ["--deselect", test]
    if not globs or not tests:
        raise SystemExit("usage: MUTATE_TESTS='tests/x.py ...' mutation_config.py OUT GLOB...")
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    out.write_text(narrowed(text, globs, tests), encoding="utf-8")


if __name__ == "__main__":
    main()
