"""The drift report: recorded real answers checked against the contract, without any request.

``vivi-emulator record`` writes what a real VIVI deployment answered into fixture files; every
recorded scenario keeps the answer as received (``recorded``: operation, status, headers, body;
a stream's body is its frames). This module runs schemathesis' response checks on each of them,
the same checks a live run makes (status code, content type, headers, body schema with every
SSE event one by one, server errors), and reports findings classified like a live run's.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.transport import Response

from vivi_emulator.conformance import Conformance, ContractMarks, Finding
from vivi_emulator.scenarios.frames import frame_bytes
from vivi_emulator.scenarios.loader import Problem, fixture_files, parse_file
from vivi_emulator.scenarios.model import Scenario
from vivi_emulator.spec import contract

PHASE = "recording"


def _checks() -> list[Any]:
    from schemathesis import checks as core_checks
    from schemathesis.specs.openapi import checks as openapi_checks

    return [
        openapi_checks.status_code_conformance,
        openapi_checks.content_type_conformance,
        openapi_checks.response_headers_conformance,
        openapi_checks.response_schema_conformance,
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
        else:
            problems.append(Problem(path, None, "no such file, or no .yaml files in this folder"))
    return files, problems


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
    marks = ContractMarks(raw)
    schema: Any = schemathesis.openapi.from_dict(
        copy.deepcopy(raw), config=SchemathesisConfig.from_dict({"color": False})
    )
    checks = _checks()
    result = Conformance()
    files, problems = recording_files(paths)
    result.errors += [str(p) for p in problems]
    found: dict[tuple[str, str, str, str, int | None], Finding] = {}
    for path in files:
        scenarios, file_problems = parse_file(path)
        result.errors += [str(p) for p in file_problems]
        for scenario in scenarios:
            recorded = scenario.recorded
            if recorded is None:
                continue
            where = f"{path}: scenario {scenario.name}"
            operation = schema.find_operation_by_label(recorded.operation)
            if operation is None or not marks.knows(recorded.operation):
                result.errors.append(f"{where}: {recorded.operation} is not in the contract")
                continue
            result.operations.add(recorded.operation)
            result.requests += 1
            if not recorded.complete:
                result.warnings.append(f"{where}: the upstream cut this answer short")
            url = "http://recorded" + recorded.operation.partition(" ")[2].replace(
                "{channelId}", "recorded"
            )
            case = operation.Case(path_parameters={"channelId": "recorded"})
            response = _response(scenario, url)
            failures: list[Failure] = []
            try:
                case.validate_response(response, checks=checks)
            except FailureGroup as group:
                failures = [f for f in group.exceptions if isinstance(f, Failure)]
            except Failure as single:
                failures = [single]
            failed_checks = set()
            for failure in failures:
                name = next(iter(getattr(failure, "checks", ()) or ()), type(failure).__name__)
                if type(failure).__name__ == "JsonSchemaError":
                    title = str(failure.title)
                    header = title.startswith("Response header")
                    name = "response_headers_conformance" if header else name
                failed_checks.add(name)
                touch = marks.classify(
                    failure,
                    recorded.operation,
                    status_code=recorded.status,
                    content_type=_header(recorded.headers, "content-type"),
                    response_headers=recorded.headers,
                )
                key = (recorded.operation, name, str(failure.title), touch.part, recorded.status)
                if key in found:
                    found[key] = replace(found[key], occurrences=found[key].occurrences + 1)
                    continue
                found[key] = Finding(
                    operation=recorded.operation,
                    check=name,
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
            for check in checks:
                tally = result.checks.setdefault((recorded.operation, check.__name__), [0, 0])
                tally[1 if check.__name__ in failed_checks else 0] += 1
    result.findings = list(found.values())
    result.duration = time.monotonic() - started
    return result


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)
