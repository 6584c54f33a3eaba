"""``contract --compare``: recorded real answers checked against the contract, sending nothing.

``vivi-emulator record`` writes what a real VIVI deployment answered into fixture files; every
recorded scenario keeps the answer as received (``recorded``: operation, status, headers, body;
a stream's body is its frames). This module runs schemathesis' response checks on each of them,
the same checks a live run makes (status code, content type, headers, body schema, every SSE
event one by one with its index and raw bytes, server errors), and reports findings classified
like a live run's.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import requests
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.transport import Response

from vivi_emulator.contract.marks import ContractMarks, Seen
from vivi_emulator.contract.result import Conformance, Finding
from vivi_emulator.record.recording import MAX_RECORDING_BYTES
from vivi_emulator.scenarios.frames import frame_bytes
from vivi_emulator.scenarios.loader import Problem, fixture_files, parse_file
from vivi_emulator.scenarios.model import Recorded, Scenario
from vivi_emulator.spec import contract

PHASE = "recording"


def _checks() -> list[Any]:
    from schemathesis import checks as core_checks
    from schemathesis.specs.openapi import checks as openapi_checks

    from vivi_emulator.contract.stream_check import stream_event_conformance

    return [
        openapi_checks.status_code_conformance,
        openapi_checks.content_type_conformance,
        openapi_checks.response_headers_conformance,
        openapi_checks.response_schema_conformance,
        stream_event_conformance,
        core_checks.not_a_server_error,
    ]


def recording_files(paths: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_file():
            files.append(path)
        elif path.is_dir() and fixture_files(path):
            files += fixture_files(path)
        elif path.exists():
            problems.append(Problem(path, None, "not a regular file, nor a folder: not read"))
        else:
            problems.append(Problem(path, None, "no such file, or no .yaml files in this folder"))
    # A recording is read whole: one past the bound the recorder keeps its files under is not.
    large = [f for f in files if f.stat().st_size > MAX_RECORDING_BYTES]
    problems += [Problem(f, None, f"over {MAX_RECORDING_BYTES} bytes: not read") for f in large]
    return [f for f in files if f not in large], problems


def recorded_body(scenario: Scenario) -> bytes:
    """The answer's body as the recorder saw it."""
    assert scenario.recorded is not None
    if scenario.recorded.body is not None:
        return scenario.recorded.body.encode("utf-8")
    if scenario.frames is not None:
        return b"".join(frame_bytes(frame) for frame in scenario.frames)
    return b""


def _response(scenario: Scenario, url: str) -> Response:
    recorded = scenario.recorded
    assert recorded is not None
    # What the client sent is not kept (only its message and turn, as the match): the checks
    # read the answer alone.
    request = requests.Request(
        "POST" if recorded.operation.startswith("POST") else "GET", url
    ).prepare()
    return Response(
        status_code=recorded.status,
        headers={name.lower(): [value] for name, value in recorded.headers.items()},
        content=recorded_body(scenario),
        request=request,
        elapsed=recorded.elapsed_ms / 1000.0,
        verify=True,
        stream_cut_short=not recorded.complete,
    )


def compare_recordings(
    paths: Sequence[Path], *, document: dict[str, Any] | None = None
) -> Conformance:
    """Check every recorded answer under ``paths`` against the contract."""
    started = time.monotonic()
    raw = copy.deepcopy(document or contract())
    schema: Any = schemathesis.openapi.from_dict(
        copy.deepcopy(raw), config=SchemathesisConfig.from_dict({"color": False})
    )
    comparison = _Comparison(schema, ContractMarks(raw))
    files, problems = recording_files(paths)
    comparison.result.errors += [str(p) for p in problems]
    for path in files:
        scenarios, file_problems = parse_file(path)
        comparison.result.errors += [str(p) for p in file_problems]
        for scenario in scenarios:
            if scenario.recorded is not None:
                comparison.check(f"{path}: scenario {scenario.name}", scenario)
    comparison.result.duration = time.monotonic() - started
    return comparison.result


class _Comparison:
    """Runs the response checks on recorded answers, one at a time, into one result."""

    def __init__(self, schema: Any, marks: ContractMarks) -> None:
        self.schema = schema
        self.marks = marks
        self.checks = _checks()
        self.result = Conformance()

    def check(self, where: str, scenario: Scenario) -> None:
        recorded = scenario.recorded
        assert recorded is not None
        operation = self.schema.find_operation_by_label(recorded.operation)
        if operation is None or not self.marks.knows(recorded.operation):
            self.result.errors.append(f"{where}: {recorded.operation} is not in the contract")
            return
        self.result.operations.add(recorded.operation)
        self.result.requests += 1
        if not recorded.complete:
            self.result.warnings.append(f"{where}: the upstream cut this answer short")
        failed_checks = set()
        for failure in self._failures(operation, scenario):
            name = _check_name(failure)
            failed_checks.add(name)
            self._add(where, recorded, name, failure)
        for check in self.checks:
            name = check.__name__
            self.result.tally(recorded.operation, name, failed=name in failed_checks)

    def _failures(self, operation: Any, scenario: Scenario) -> list[Failure]:
        assert scenario.recorded is not None
        url = "http://recorded" + scenario.recorded.operation.partition(" ")[2].replace(
            "{channelId}", "recorded"
        )
        case = operation.Case(path_parameters={"channelId": "recorded"})
        try:
            case.validate_response(_response(scenario, url), checks=self.checks)
        except FailureGroup as group:
            return [f for f in group.exceptions if isinstance(f, Failure)]
        except Failure as single:
            return [single]
        return []

    def _add(self, where: str, recorded: Recorded, check: str, failure: Failure) -> None:
        seen = Seen(
            status_code=recorded.status,
            content_type=_header(recorded.headers, "content-type"),
            headers=recorded.headers,
        )
        touch = self.marks.classify(failure, recorded.operation, seen)
        self.result.add(
            Finding(
                operation=recorded.operation,
                check=check,
                title=str(failure.title),
                message=str(failure.message),
                phase=PHASE,
                source=touch.source,
                part=touch.part,
                trail=touch.trail,
                status_code=recorded.status,
                code=str(getattr(failure, "code", "")),
                reproduce=where,
            )
        )


def _check_name(failure: Failure) -> str:
    """The check that found ``failure``: a header's schema error is the headers check's."""
    name = next(iter(getattr(failure, "checks", ()) or ()), type(failure).__name__)
    if type(failure).__name__ == "JsonSchemaError" and str(failure.title).startswith(
        "Response header"
    ):
        return "response_headers_conformance"
    return str(name)


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)
