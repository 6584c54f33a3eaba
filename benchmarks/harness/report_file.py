"""Writing a report into its file without losing what was written there by hand.

The run's report goes between two markers; what lies outside them (the "What stands in the
way" sections of missed targets, notes of a run made by hand) is kept on every rerun. A file
without the markers (written by hand, or by a harness older than them) is not overwritten
either: the report goes on top, and the old text is kept below it under a heading that says so.
Each missed target gets a section heading of its own below the markers, once, for the profile
that shows what stands in the way; the text under it is written by hand.
"""

from __future__ import annotations

from pathlib import Path

BEGIN = "<!-- benchmarks/run writes from here to the end marker; the rest of this file is kept -->"
END = "<!-- end of what benchmarks/run writes -->"
KEPT = (
    "## Kept from this file before the run above\n\n"
    "The file had no markers of a written report (`benchmarks/run` keeps what lies outside "
    "them): its whole earlier text follows, as it was."
)
WAY_HEADING = "## What stands in the way (written by hand; `benchmarks/run` keeps this part)"
STUB = (
    "Not written yet: the profile that shows what stands in the way of this target (issue 22 "
    "asks for one per missed target)."
)


def _stubs(after: str, missed: list[str], way: str) -> str:
    """The sections of the missed targets the kept text has no heading for yet."""
    new = [f"### {way}: {name}\n\n{STUB}\n" for name in missed if f"### {way}: {name}" not in after]
    if not new:
        return ""
    head = "" if WAY_HEADING in after else f"\n{WAY_HEADING}\n"
    return head + "\n" + "\n".join(new)


def merged(old: str | None, report: str, missed: list[str], way: str) -> str:
    """The file's new text: the report between the markers, the rest of the old text kept."""
    written = f"{BEGIN}\n\n{report.strip()}\n\n{END}\n"
    if old is None or not old.strip():
        before, after = "", ""
    elif BEGIN in old and END in old.split(BEGIN, 1)[1]:
        before, rest = old.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
    else:
        before, after = "", f"\n{KEPT}\n\n{old.strip()}\n"
    return before + written + after + _stubs(after, missed, way)


def write_report(path: Path, report: str, missed: list[str], way: str) -> None:
    old = path.read_text(encoding="utf-8") if path.exists() else None
    path.write_text(merged(old, report, missed, way), encoding="utf-8")
