"""The reports: terminal (colours only where asked), Markdown and JUnit, never with the key."""

from __future__ import annotations

import io
from xml.etree import ElementTree as ET

import pytest

from vivi_emulator.contract.report import (
    SHORT_FINDINGS,
    RunInfo,
    junit_xml,
    markdown,
    passed,
    terminal_summary,
    use_color,
)
from vivi_emulator.contract.result import Conformance, Finding
from vivi_emulator.redaction import Redactor

KEY = "report-key-42aa"
STREAM = "POST /channelsApi/{channelId}/stream"


def findings() -> Conformance:
    result = Conformance(operations={STREAM}, requests=12, duration=1.5)
    result.findings = [
        Finding(
            operation=STREAM,
            check="response_schema_conformance",
            title="SSE event payload violates content schema",
            message=f'"message" is a required property (sent with {KEY})',
            phase="coverage",
            source="documented",
            part="#/components/schemas/StreamEvent/properties/message",
            status_code=200,
            reproduce=f"curl -H 'vivi-api-key: {KEY}' http://x/channelsApi/c/stream",
            occurrences=3,
        ),
        Finding(
            operation=STREAM,
            check="status_code_conformance",
            title="Undocumented status code",
            message="Received: 400",
            phase="coverage",
            source="inferred",
            part="#/paths/~1channelsApi~1{channelId}~1stream/post/responses",
            status_code=400,
        ),
    ]
    result.checks = {
        (STREAM, "response_schema_conformance"): [4, 3],
        (STREAM, "status_code_conformance"): [6, 1],
        (STREAM, "not_a_server_error"): [7, 0],
    }
    result.warnings = ["a stream was cut short"]
    return result


def info() -> RunInfo:
    options = {"rate limit": "5/s"}
    return RunInfo(target="http://x", channel="c", options=options, redact=Redactor([KEY]))


def test_the_terminal_summary_sorts_by_source_and_colours_only_when_asked() -> None:
    plain = terminal_summary(findings(), info(), color=False)
    assert "FAIL  the target does not conform" in plain
    assert "2 finding(s): 1 documented, 1 inferred" in plain
    assert plain.index("[documented]") < plain.index("[inferred]")
    assert f"{STREAM} -> 200: SSE event payload violates content schema (x3)" in plain
    assert "\x1b[" not in plain
    assert "\x1b[31m" in terminal_summary(findings(), info(), color=True)
    assert KEY not in plain


def test_the_summary_is_short_by_default_and_whole_with_verbose() -> None:
    short = terminal_summary(findings(), info())
    whole = terminal_summary(findings(), info(), verbose=True)
    # One line per finding by default; its message, contract part and the warnings with -v.
    assert "is a required property" not in short
    assert "contract part #/components/schemas/StreamEvent" not in short
    assert "1 warning(s) (-v, or the report)" in short
    assert "is a required property" in whole
    assert "contract part #/components/schemas/StreamEvent/properties/message" in whole
    assert "[warning] a stream was cut short" in whole
    assert len(short.splitlines()) < len(whole.splitlines())
    assert KEY not in whole


def test_the_short_summary_counts_the_findings_it_does_not_name() -> None:
    many = findings()
    template = many.findings[1]
    many.findings = [
        Finding(**{**template.__dict__, "title": f"finding {n}"}) for n in range(SHORT_FINDINGS + 3)
    ]
    short = terminal_summary(many, info())
    assert f"{template.operation} -> 400: finding 0" in short
    assert "finding 12" not in short
    assert "... and 3 more (-v, or the report)" in short
    assert "finding 12" in terminal_summary(many, info(), verbose=True)


def test_colours_follow_the_terminal_and_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert use_color(Tty(), None)
    assert not use_color(io.StringIO(), None)
    assert use_color(io.StringIO(), True)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Tty(), None)


def test_markdown_explains_each_finding_without_the_key() -> None:
    text = markdown(findings(), info())
    assert text.startswith("# Contract report: http://x\n\n**FAIL")
    assert "## Touching documented parts: the API broke its docs (1)" in text
    assert "## Touching inferred parts: our guess was wrong, the contract must change (1)" in text
    part = "`#/components/schemas/StreamEvent/properties/message` (documented)"
    assert f"- contract part: {part}" in text
    assert "| `POST /channelsApi/{channelId}/stream` | status_code_conformance | 6 | 1 |" in text
    assert "- a stream was cut short" in text
    assert "| rate limit | 5/s |" in text
    assert KEY not in text
    assert "[redacted]" in text


def test_junit_has_a_case_per_check_and_a_typed_failure_per_finding() -> None:
    root = ET.fromstring(junit_xml(findings(), info()))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "2", "0")
    failures = {f.get("type"): f for f in suite.iter("failure")}
    assert set(failures) == {"documented", "inferred"}
    assert failures["documented"].get("message", "").startswith("[documented] SSE event")
    assert KEY not in ET.tostring(root, "unicode")


def test_a_run_that_checked_nothing_does_not_pass() -> None:
    empty = Conformance()
    assert not passed(empty)
    assert "nothing was checked" in terminal_summary(empty, info())
    root = ET.fromstring(junit_xml(empty, info()))
    assert root.get("errors") == "1"
    broken = Conformance(operations={STREAM}, errors=["fatal: connection refused"])
    assert not passed(broken)
    assert passed(Conformance(operations={STREAM}))
