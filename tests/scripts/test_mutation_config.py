"""scripts/mutation_config.py, run as scripts/mutate runs it: the project's pyproject.toml with
its [tool.mutmut] table narrowed to the globs' modules and MUTATE_TESTS, the rest untouched."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "mutation_config.py"


def _run(
    out: Path, tests: str, *globs: str, deselect: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MUTATE_TESTS": tests, "MUTATE_DESELECT": deselect}
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(out), *globs],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_the_table_names_the_globs_modules_and_the_given_tests(tmp_path: Path) -> None:
    out = tmp_path / "pyproject.toml"
    done = _run(
        out, "tests/test_caps.py  tests/store/test_buckets.py",
        "vivi_emulator.caps*", "vivi_emulator.store.buckets*",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    original = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    written = tomllib.loads(out.read_text(encoding="utf-8"))
    table = written["tool"].pop("mutmut")
    assert table["only_mutate"] == ["src/vivi_emulator/caps*", "src/vivi_emulator/store/buckets*"]
    assert table["pytest_add_cli_args_test_selection"] == [
        "tests/test_caps.py",
        "tests/store/test_buckets.py",
    ]
    # mutmut's other settings, and every other table (pytest's, the import contracts), as given.
    kept = original["tool"].pop("mutmut")
    narrowed = {"only_mutate", "pytest_add_cli_args_test_selection"}
    assert {k: v for k, v in table.items() if k not in narrowed} == {
        k: v for k, v in kept.items() if k not in narrowed
    }
    assert written == original


def test_without_tests_or_globs_it_says_how_to_call_it(tmp_path: Path) -> None:
    out = tmp_path / "pyproject.toml"
    no_tests = _run(out, "", "vivi_emulator.caps*")
    no_globs = _run(out, "tests/test_caps.py")
    for done in (no_tests, no_globs):
        assert done.returncode != 0
        assert "usage: MUTATE_TESTS=" in done.stderr
    assert not out.exists()


def test_deselected_tests_are_left_out_of_the_selection(tmp_path: Path) -> None:
    out = tmp_path / "pyproject.toml"
    done = _run(
        out, "tests/test_ratelimits.py", "vivi_emulator.ratelimits*",
        deselect="tests/test_ratelimits.py::test_a tests/test_ratelimits.py::test_b",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = tomllib.loads(out.read_text(encoding="utf-8"))["tool"]["mutmut"]
    assert table["pytest_add_cli_args_test_selection"] == [
        "tests/test_ratelimits.py",
        "--deselect",
        "tests/test_ratelimits.py::test_a",
        "--deselect",
        "tests/test_ratelimits.py::test_b",
    ]
