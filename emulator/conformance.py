"""Schemathesis, as a library, run with the project's contract against a target.

The target is the emulator in-process (no socket) or any base URL, the real VIVI API included.
Every phase and every check runs; findings come back as plain data, with the API key removed from
every message, so callers (the test suite, ``vivi-emulator contract``) can report them as they like.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from emulator.channels import API_KEY_HEADER
from emulator.spec import contract

REDACTED = "[redacted]"


@dataclass(frozen=True)
class Finding:
    """One way the target disagrees with the contract."""

    operation: str
    check: str
    title: str
    message: str
    phase: str


@dataclass
class Conformance:
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    operations: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.findings and not self.errors


def _config(
    *,
    channel_id: str,
    api_key: str,
    max_examples: int,
    seed: int | None,
    base_url: str | None,
    phases: Sequence[str] | None,
    rate_limit: str | None,
    max_stream_events: int,
    request_timeout: float,
    operations: Sequence[str] | None,
) -> SchemathesisConfig:
    project: dict[str, Any] = {
        "headers": {API_KEY_HEADER: api_key},
        "parameters": {"channelId": channel_id},
        "generation": {"max-examples": max_examples},
        "checks": {"enabled": True},
        "max-stream-events": max_stream_events,
        "request-timeout": request_timeout,
    }
    if base_url is not None:
        project["base-url"] = base_url
    if rate_limit is not None:
        project["rate-limit"] = rate_limit
    if phases is not None:
        all_phases = ("examples", "coverage", "fuzzing", "stateful")
        project["phases"] = {name: {"enabled": name in phases} for name in all_phases}
    if operations:
        project["operations"] = [
            {"include-operation-id": op_id, "enabled": True} for op_id in operations
        ]
    data: dict[str, Any] = {**project, "color": False}
    if seed is not None:
        data["seed"] = seed
    return SchemathesisConfig.from_dict(data)


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, REDACTED) if secret else text


def check_conformance(
    *,
    channel_id: str,
    api_key: str,
    app: Any = None,
    base_url: str | None = None,
    max_examples: int = 20,
    seed: int | None = None,
    phases: Sequence[str] | None = None,
    rate_limit: str | None = None,
    max_stream_events: int = 1000,
    request_timeout: float = 30.0,
    operations: Sequence[str] | None = None,
    document: dict[str, Any] | None = None,
) -> Conformance:
    """Run every phase and check of the contract against ``app`` or ``base_url``."""
    if (app is None) == (base_url is None):
        raise ValueError("give exactly one target: app or base_url")
    config = _config(
        channel_id=channel_id,
        api_key=api_key,
        max_examples=max_examples,
        seed=seed,
        base_url=base_url,
        phases=phases,
        rate_limit=rate_limit,
        max_stream_events=max_stream_events,
        request_timeout=request_timeout,
        operations=operations,
    )
    schema = schemathesis.openapi.from_dict(copy.deepcopy(document or contract()), config=config)
    if app is not None:
        schema.app = app
    result = Conformance()
    seen: set[tuple[str, str, str]] = set()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            result.operations.add(event.recorder.label)
            if event.status not in (Status.FAILURE, Status.ERROR):
                continue
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.status != Status.FAILURE or check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    key = (event.recorder.label, check.name, failure.title)
                    if key in seen:  # the same disagreement found by several examples
                        continue
                    seen.add(key)
                    result.findings.append(
                        Finding(
                            operation=event.recorder.label,
                            check=check.name,
                            title=_redact(failure.title, api_key),
                            message=_redact(failure.message, api_key),
                            phase=str(event.phase.value),
                        )
                    )
        elif isinstance(event, events.NonFatalError):
            result.errors.append(_redact(f"{event.label}: {event.info.message}", api_key))
        elif isinstance(event, events.FatalError):
            result.errors.append(_redact(f"fatal: {event.exception}", api_key))
    return result
