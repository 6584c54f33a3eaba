"""Writes docs/mutation.md from a mutmut 3 run (run by scripts/mutate in .mutation/): the
score per module, every survivor with its diff, and the explanations kept in
docs/mutation-notes.md (survivors no test can or should kill, and why)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = ROOT / ".mutation"
KILLED = ("killed", "timeout", "caught by type check", "segfault")


def _statuses() -> dict[str, dict[str, str]]:
    """Module: {mutant: status}."""
    found: dict[str, dict[str, str]] = defaultdict(dict)
    for meta in sorted((SCRATCH / "mutants").rglob("*.py.meta")):
        module = meta.relative_to(SCRATCH / "mutants" / "src").as_posix().removesuffix(".py.meta")
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        for name, code in codes.items():
            found[module.replace("/", ".")][name] = status_by_exit_code[code]
    return found


def _diff(name: str) -> str:
    shown = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "mutmut"), "show", name],
        cwd=SCRATCH, capture_output=True, text=True, check=False,
    )  # fmt: skip
    lines = [
        line
        for line in shown.stdout.splitlines()
        if line.startswith(("-", "+")) and not line.startswith(("---", "+++"))
    ]
    return "\n".join(lines[:6])


def main() -> None:
    statuses = _statuses()
    git = shutil.which("git") or "/usr/bin/git"
    commit = subprocess.run(
        [git, "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
        check=False,
    ).stdout.strip()  # fmt: skip
    out = [
        "# Mutation testing results",
        "",
        f"Written by `scripts/mutate` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}, "
        f"mutmut, arguments: {' '.join(sys.argv[1:]) or 'all'}). Score: mutants killed (a test "
        "failed, or it timed out) over mutants checked; a mutant no selected test runs counts "
        "as a survivor.",
        "",
        "| module | mutants | killed | survived | no tests | not checked | score |",
        "|---|---|---|---|---|---|---|",
    ]
    total: Counter[str] = Counter()
    survivors: list[str] = []
    for module, by_name in sorted(statuses.items()):
        counts = Counter("killed" if s in KILLED else s for s in by_name.values())
        total.update(counts)
        checked = counts["killed"] + counts["survived"] + counts["no tests"]
        score = f"{100 * counts['killed'] / checked:.1f} %" if checked else "-"
        out.append(
            f"| {module} | {len(by_name)} | {counts['killed']} | {counts['survived']} | "
            f"{counts['no tests']} | {counts['not checked']} | {score} |"
        )
        survivors += [n for n, s in by_name.items() if s in ("survived", "no tests")]
    checked = total["killed"] + total["survived"] + total["no tests"]
    if checked:
        out.append(
            f"| **all** | {sum(total.values())} | {total['killed']} | {total['survived']} | "
            f"{total['no tests']} | {total['not checked']} | "
            f"**{100 * total['killed'] / checked:.1f} %** |"
        )
    out += ["", "## Survivors", ""]
    for name in survivors:
        out += [f"- `{name}`", "", "  ```diff", *[f"  {d}" for d in _diff(name).splitlines()],
                "  ```", ""]  # fmt: skip
    notes = ROOT / "docs" / "mutation-notes.md"
    if notes.exists():
        out += ["", notes.read_text(encoding="utf-8")]
    print("\n".join(out))


if __name__ == "__main__":
    main()
