"""The reports of a contract run: a terminal summary, a Markdown file, a JUnit XML file.

Every report sorts the findings by the kind of contract part they touch:

- ``documented``: the public VIVI docs state it, and the target does otherwise: the API broke
  its docs (or the docs are wrong); report it to VIVI, and keep the contract as it is.
- ``inferred``: our guess where the docs are silent (docs/decisions.md); the real API decides,
  so the contract, the emulator and the decisions table must change together.
- ``unmarked``: server errors and the like, which no contract part explains.

No report ever holds the API key: the findings arrive redacted, and every text is redacted again
on the way out.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO
from xml.etree import ElementTree as ET  # only ever writes XML, never parses it

from vivi_emulator.contract.document import Source
from vivi_emulator.contract.result import Conformance, Finding

MEANING: dict[Source, str] = {
    "documented": "the API broke its docs: report it to VIVI; the contract stays",
    "inferred": "our guess was wrong: change the contract, the emulator and docs/decisions.md",
    "unmarked": "not explained by any contract part (server errors, time-outs)",
}
HEADINGS: dict[Source, str] = {
    "documented": "Touching documented parts: the API broke its docs",
    "inferred": "Touching inferred parts: our guess was wrong, the contract must change",
    "unmarked": "Other findings",
}
_COLORS: dict[Source, str] = {"documented": "red", "inferred": "yellow", "unmarked": "magenta"}
_ORDER: tuple[Source, ...] = ("documented", "inferred", "unmarked")


@dataclass
class RunInfo:
    """What was checked, for the reports' headers. Never holds the key."""

    target: str
    channel: str = ""
    mode: str = "live"  # "live" (requests sent) or "compare" (recordings read)
    options: dict[str, str] = field(default_factory=dict)
    started_at: str = ""
    redact: Callable[[str], str] = field(default=lambda text: text)


def verdict(result: Conformance) -> str:
    if result.ok and not result.operations:
        return "nothing was checked"
    if result.ok:
        return "the target conforms to the contract"
    return "the target does not conform to the contract"


def passed(result: Conformance) -> bool:
    """Exit status 0 only for this: no finding, no error, and something was checked."""
    return result.ok and bool(result.operations)


def _counts(result: Conformance) -> str:
    parts = [f"{len(result.by_source(s))} {s}" for s in _ORDER if result.by_source(s)]
    return ", ".join(parts) or "none"


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _sorted(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.operation, f.check, f.part))


# --- terminal ---------------------------------------------------------------------------------


def use_color(stream: TextIO, option: bool | None) -> bool:
    """Colours when asked, else when the stream is a terminal and NO_COLOR is not set."""
    if option is not None:
        return option
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


# Findings the short summary names, one line each; the rest are counted (all in -v and reports).
SHORT_FINDINGS = 10


def terminal_summary(
    result: Conformance, info: RunInfo, color: bool = False, verbose: bool = False
) -> str:
    """What the run found: by default the verdict and one line per finding (the first few);
    ``verbose``: every finding with its message and contract part, every warning."""
    paint = _painter(color)
    lines = [
        f"vivi-emulator contract ({info.mode}): {info.target}"
        + (f"  channel {info.channel}" if info.channel else ""),
        f"  {len(result.operations)} operations, {result.requests} "
        f"{'requests' if info.mode == 'live' else 'recorded answers'}, {result.duration:.1f} s",
        "",
    ]
    if passed(result):
        lines.append(paint(f"PASS  {verdict(result)}", "green", True))
    else:
        lines.append(paint(f"FAIL  {verdict(result)}", "red", True))
    if result.findings:
        lines.append(f"  {len(result.findings)} finding(s): {_counts(result)}")
        sources = [source for source in _ORDER if result.by_source(source)]
        lines += [f"    {paint(source, _COLORS[source])}: {MEANING[source]}" for source in sources]
    lines += _findings_lines(result, paint, verbose)
    for error in result.errors:
        lines += ["", paint("[error] ", "red", True) + _first_line(error)]
    if verbose:
        for warning in result.warnings:
            lines += ["", paint("[warning] ", "yellow") + warning]
    elif result.warnings:
        lines += ["", f"{len(result.warnings)} warning(s) (-v, or the report)"]
    return info.redact("\n".join(lines))


Paint = Callable[..., str]


def _painter(color: bool) -> Paint:
    def paint(text: str, fg: str, bold: bool = False) -> str:
        if not color:
            return text
        import click

        return click.style(text, fg=fg, bold=bold or None)

    return paint


def _findings_lines(result: Conformance, paint: Paint, verbose: bool) -> list[str]:
    """Every finding in full (verbose), or one line for each of the first few."""
    findings = [f for source in _ORDER for f in _sorted(result.by_source(source))]
    shown = findings if verbose else findings[:SHORT_FINDINGS]
    lines = [""] if shown and not verbose else []
    for finding in shown:
        tag = paint(f"[{finding.source}]", _COLORS[finding.source], True)
        entry = _terminal_finding(tag, finding)
        lines += ["", *entry] if verbose else [f"  {entry[0]}"]
    if len(shown) < len(findings):
        lines.append(f"  ... and {len(findings) - len(shown)} more (-v, or the report)")
    return lines


def _terminal_finding(tag: str, finding: Finding) -> list[str]:
    times = f" (x{finding.occurrences})" if finding.occurrences > 1 else ""
    status = f" -> {finding.status_code}" if finding.status_code is not None else ""
    return [
        f"{tag} {finding.operation}{status}: {finding.title}{times}",
        f"    {_first_line(finding.message)}",
        f"    check {finding.check}; contract part {finding.part or '(none)'}",
    ]


# --- Markdown ---------------------------------------------------------------------------------


def _fence(text: str, lang: str = "text") -> list[str]:
    fence = "```"
    while fence in text:
        fence += "`"
    return [f"{fence}{lang}", text.rstrip("\n"), fence]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(result: Conformance, info: RunInfo) -> str:
    out = [f"# Contract report: {info.target}", ""]
    status = "PASS" if passed(result) else "FAIL"
    out += [f"**{status}: {verdict(result)}.**", ""]
    if result.findings:
        out += [f"{len(result.findings)} finding(s): {_counts(result)}.", ""]
    out += _markdown_table(result, info)
    out += [
        "",
        "## What the findings mean",
        "",
        "Every part of the contract says where it comes from (`x-vivi-source`). A finding is",
        "**inferred** when any contract part on its way is our guess, else **documented**:",
        "",
    ]
    out += [f"- **{source}**: {MEANING[source]}." for source in _ORDER]
    for source in _ORDER:
        findings = _sorted(result.by_source(source))
        if findings:
            out += ["", f"## {HEADINGS[source]} ({len(findings)})"]
        for number, finding in enumerate(findings, 1):
            out += ["", *_markdown_finding(number, finding, info.mode)]
    if result.errors:
        out += ["", f"## Errors ({len(result.errors)})", ""]
        out += ["The run could not check everything; these are not findings, but fail the run.", ""]
        for error in result.errors:
            out += [*_fence(error), ""]
    if result.warnings:
        out += ["", "## Warnings", ""]
        out += [f"- {warning}" for warning in result.warnings]
    if result.checks:
        out += ["", "## Checks", "", "| operation | check | passed | failed |", "|---|---|---|---|"]
        for (operation, check), (ok, failed) in sorted(result.checks.items()):
            out.append(f"| `{_cell(operation)}` | {check} | {ok} | {failed} |")
    return info.redact("\n".join(out) + "\n")


def _markdown_table(result: Conformance, info: RunInfo) -> list[str]:
    """What was checked, how, and with which options."""
    out = ["| | |", "|---|---|", f"| target | {_cell(info.target)} |"]
    if info.channel:
        out.append(f"| channel | `{_cell(info.channel)}` |")
    out += [
        f"| mode | {'requests sent by schemathesis' if info.mode == 'live' else 'recordings'} |",
        f"| operations | {len(result.operations)} |",
        f"| {'requests' if info.mode == 'live' else 'recorded answers'} | {result.requests} |",
        f"| duration | {result.duration:.1f} s |",
    ]
    if info.started_at:
        out.append(f"| started | {info.started_at} |")
    out += [f"| {_cell(name)} | {_cell(value)} |" for name, value in info.options.items()]
    return out


def _markdown_finding(number: int, finding: Finding, mode: str) -> list[str]:
    status = f", answered {finding.status_code}" if finding.status_code is not None else ""
    out = [
        f"### {number}. `{finding.operation}`: {finding.title}",
        "",
        f"- check `{finding.check}` ({finding.code or 'no code'}), phase {finding.phase}"
        f"{status}, seen {finding.occurrences} time(s)",
        f"- contract part: `{finding.part or '(none)'}` ({finding.source})",
    ]
    if len(finding.trail) > 1:
        trail = ", ".join(f"`{pointer}` ({mark})" for pointer, mark in finding.trail)
        out.append(f"- on the way: {trail}")
    out += ["", *_fence(finding.message)]
    if finding.reproduce:
        lang = "sh" if finding.reproduce.startswith("curl") else "text"
        label = "Recorded in:" if mode == "compare" else "Reproduce:"
        out += ["", label, "", *_fence(finding.reproduce, lang)]
    return out


# --- JUnit XML --------------------------------------------------------------------------------


def junit_xml(result: Conformance, info: RunInfo) -> str:
    """One test case per operation and check; a failure per finding, typed by its source."""
    redact = info.redact
    suites = ET.Element("testsuites", name="vivi-emulator contract")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=redact(f"contract {info.mode}: {info.target}"),
        time=f"{result.duration:.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in {"target": info.target, "channel": info.channel, **info.options}.items():
        ET.SubElement(properties, "property", name=name, value=redact(value))
    cases: dict[tuple[str, str], list[Finding]] = {key: [] for key in result.checks}
    for finding in result.findings:
        cases.setdefault((finding.operation, finding.check), []).append(finding)
    failures = 0
    for (operation, check), findings in sorted(cases.items()):
        case = ET.SubElement(suite, "testcase", classname=operation, name=check, time="0")
        for finding in _sorted(findings):
            failures += 1
            element = ET.SubElement(
                case,
                "failure",
                type=finding.source,
                message=redact(
                    f"[{finding.source}] {finding.title}: {_first_line(finding.message)} "
                    f"(contract part {finding.part or 'none'})"
                ),
            )
            element.text = redact(
                f"{MEANING[finding.source]}\n\n{finding.message}"
                + (f"\n\nReproduce:\n{finding.reproduce}" if finding.reproduce else "")
            )
    if result.errors or not result.operations:
        case = ET.SubElement(suite, "testcase", classname="run", name="errors", time="0")
        for error in result.errors or ["nothing was checked: no operation ran"]:
            element = ET.SubElement(case, "error", message=redact(_first_line(error)))
            element.text = redact(error)
    if result.warnings:
        ET.SubElement(suite, "system-out").text = redact("\n".join(result.warnings))
    total = len(suite.findall("testcase"))
    errors = len(suite.findall("testcase/error"))
    for element in (suite, suites):
        element.set("tests", str(total))
        element.set("failures", str(failures))
        element.set("errors", str(errors))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def stdout_color(option: bool | None) -> bool:
    return use_color(sys.stdout, option)
