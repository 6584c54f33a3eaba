"""Writing a report keeps what was written by hand outside its markers, and marks missed targets."""

from __future__ import annotations

from pathlib import Path

from harness.report_file import BEGIN, END, KEPT, STUB, merged, write_report

WAY = "What stands in the way"


def test_a_new_file_gets_the_report_between_markers_and_a_section_per_missed_target() -> None:
    text = merged(None, "# report\n\nfigures", ["invoke"], WAY)
    assert text.startswith(f"{BEGIN}\n\n# report\n\nfigures\n\n{END}\n")
    assert f"### {WAY}: invoke\n\n{STUB}" in text.split(END, 1)[1]


def test_a_rerun_replaces_the_report_and_keeps_the_text_around_it() -> None:
    old = merged(None, "old figures", ["invoke"], WAY)
    old = "a note on top\n" + old.replace(STUB, "the profile, written by hand")
    text = merged(old, "new figures", ["invoke"], WAY)
    assert "old figures" not in text
    assert text.startswith("a note on top\n" + BEGIN)
    assert "new figures" in text.split(BEGIN, 1)[1].split(END, 1)[0]
    after = text.split(END, 1)[1]
    assert "the profile, written by hand" in after
    assert STUB not in after  # the target's section was there: not added twice
    assert after.count(f"### {WAY}: invoke") == 1


def test_a_newly_missed_target_gets_its_section_below_the_kept_ones() -> None:
    old = merged(None, "r", ["invoke"], WAY)
    text = merged(old, "r2", ["invoke", "stream"], WAY)
    after = text.split(END, 1)[1]
    assert after.count(f"### {WAY}: invoke") == 1
    assert after.index(f"### {WAY}: invoke") < after.index(f"### {WAY}: stream")


def test_a_file_without_markers_is_kept_below_the_report(tmp_path: Path) -> None:
    path = tmp_path / "results.md"
    path.write_text("# by hand\n\nthe lead's analysis\n", encoding="utf-8")
    write_report(path, "figures", [], WAY)
    text = path.read_text(encoding="utf-8")
    assert text.index(END) < text.index(KEPT) < text.index("the lead's analysis")
    assert "figures" in text.split(BEGIN, 1)[1].split(END, 1)[0]
