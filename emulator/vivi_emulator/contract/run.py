"""Schemathesis, as a library, run with the project's contract against a target.

The target is the emulator in-process (an ASGI app, no socket) or any base URL, the real VIVI API
included. Every phase and every check runs; findings come back as plain data
(:class:`~vivi_emulator.contract.result.Conformance`), each classified by the contract part it
touches (:mod:`vivi_emulator.contract.marks`) and with the API key removed from every text, so
callers (the test suite, ``vivi-emulator contract``) can report them as they like.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from schemathesis.transport.serialization import Binary

from vivi_emulator.contract.marks import ContractMarks, Seen
from vivi_emulator.contract.options import PHASES, RunOptions
from vivi_emulator.contract.result import Conformance, Finding
from vivi_emulator.contract.stream import Bounds
from vivi_emulator.contract.stream_check import IN_PROCESS, watched, watching
from vivi_emulator.paths import API_KEY_HEADER
from vivi_emulator.redaction import Redactor
from vivi_emulator.spec import as_openapi_32, contract

# Seconds schemathesis waits beyond the stream check's time bound, so the check reports first.
_TIMEOUT_MARGIN = 5.0
# A base URL, or an ASGI application run in-process.
Target = str | Callable[..., Any]


def check_conformance(
    target: Target,
    options: RunOptions,
    *,
    document: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Conformance:
    """Run every phase and check of the contract (``document``, default the project's) against
    ``target``; ``progress`` gets one line per operation and phase as the run goes.

    The run reads the document as OpenAPI 3.2 (each stream event an ``itemSchema``), and every
    stream event by event as it arrives (``stream_check``), within the options' bounds.
    """
    raw = copy.deepcopy(document or contract())
    bounds = Bounds(options.max_stream_bytes, options.max_stream_events, options.request_timeout)
    app = None if isinstance(target, str) else target
    collector = _Collector(ContractMarks(raw), options, progress)
    started = time.monotonic()
    with watching(raw, bounds, app) as transport:
        schema = watched(_schema(as_openapi_32(raw), target, options), transport)
        for event in from_schema(schema).execute():
            collector.on(event)
    collector.result.duration = time.monotonic() - started
    return collector.result


def _config(options: RunOptions, base_url: str) -> SchemathesisConfig:
    project: dict[str, Any] = {
        "headers": {API_KEY_HEADER: options.api_key},
        "parameters": {"channelId": options.channel_id},
        "generation": {"max-examples": options.max_examples},
        "checks": {"enabled": True},
        # schemathesis' own stream limits a step behind the stream check's, which reports first.
        "max-stream-events": options.max_stream_events + 1,
        "request-timeout": options.request_timeout + _TIMEOUT_MARGIN,
        "workers": 1,
        "continue-on-failure": True,
    }
    project["base-url"] = base_url
    if options.rate_limit is not None:
        project["rate-limit"] = options.rate_limit
    if set(options.phases) != set(PHASES):  # all of them is schemathesis' default
        project["phases"] = {name: {"enabled": name in options.phases} for name in PHASES}
    data: dict[str, Any] = {**project, "color": False}
    if options.seed is not None:
        data["seed"] = options.seed
    if options.max_time is not None:
        data["max-time"] = options.max_time
    return SchemathesisConfig.from_dict(data)


def _schema(raw: dict[str, Any], target: Target, options: RunOptions) -> Any:
    """The schemathesis schema of the contract, aimed at ``target``, with the options' bounds."""
    base_url = target if isinstance(target, str) else IN_PROCESS
    schema: Any = schemathesis.openapi.from_dict(
        copy.deepcopy(raw), config=_config(options, base_url)
    )
    known = {
        str(op.get("operationId"))
        for item in (raw.get("paths") or {}).values()
        for op in item.values()
        if isinstance(op, Mapping) and "operationId" in op
    }
    for chosen in (*options.operations, *options.exclude_operations):
        if chosen not in known:
            raise ValueError(f"unknown operation id {chosen!r}; known: {', '.join(sorted(known))}")
    if options.operations:
        schema = schema.include(operation_id=list(options.operations))
    if options.exclude_operations:
        schema = schema.exclude(operation_id=list(options.exclude_operations))
    if options.max_upload_bytes is not None:
        schema.hooks.register_hook_with_name(_UploadCap(options.max_upload_bytes), "map_case")
    return schema


class _UploadCap:
    """A ``map_case`` hook: every generated file is cut to ``limit`` bytes before it is sent.

    Files are cut in place: assigning a new body would make schemathesis take the case for one
    its caller rewrote, and judge it again.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def cut(self, value: Any) -> Any:
        if isinstance(value, Binary) and len(value.data) > self.limit:
            return Binary(value.data[: self.limit])
        if isinstance(value, bytes) and len(value) > self.limit:
            return value[: self.limit]
        return value

    def __call__(self, _: Any, case: Any) -> Any:
        body = case.body
        if not isinstance(body, dict):
            return case
        for key, value in body.items():
            if isinstance(value, list):
                value[:] = [self.cut(item) for item in value]
            else:
                body[key] = self.cut(value)
        return case


class _Collector:
    """Turns the engine's events into a :class:`Conformance`, redacted as it goes."""

    def __init__(
        self,
        marks: ContractMarks,
        options: RunOptions,
        progress: Callable[[str], None] | None,
    ) -> None:
        self.marks = marks
        self.options = options
        self.redact = Redactor([options.api_key])
        self.progress = progress
        self.result = Conformance()

    def on(self, event: Any) -> None:
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            self._scenario(event)
        elif isinstance(event, events.NonFatalError):
            self.result.errors.append(self.redact(f"{event.label}: {event.info.message}"))
        elif isinstance(event, events.FatalError):
            self.result.errors.append(self.redact(f"fatal: {event.exception}"))
        elif isinstance(event, events.EngineFinished):
            reason = getattr(event.stop_reason, "value", str(event.stop_reason))
            if reason == "max_time":
                self.result.warnings.append(
                    f"the run stopped at its time limit ({self.options.max_time} s): "
                    "not every case ran"
                )

    def _scenario(self, event: Any) -> None:
        recorder = event.recorder
        phase = event.phase.value if isinstance(event, events.ScenarioFinished) else "fuzz"
        ran = getattr(event, "skip_reason", None) is None or recorder.interactions
        if ran and self.marks.knows(recorder.label):  # not "Stateful tests"
            self.result.operations.add(recorder.label)
        self.result.requests += len(recorder.interactions)
        if any(
            exchange.response is not None and exchange.response.stream_cut_short
            for exchange in recorder.interactions.values()
        ):
            warning = (
                f"{recorder.label}: a stream was cut short by the limits "
                f"(max events {self.options.max_stream_events}, "
                f"{self.options.request_timeout:g} s per request); "
                "only its first events were checked"
            )
            if warning not in self.result.warnings:
                self.result.warnings.append(warning)
        if self.progress is not None:
            self.progress(f"{phase:<9} {recorder.label}: {event.status.value}")
        for case_id, checks in recorder.checks.items():
            for check in checks:
                self._check(recorder, case_id, check, str(phase))

    def _check(self, recorder: Any, case_id: str, check: Any, phase: str) -> None:
        info = check.failure_info
        failure = info.failure if info is not None else None
        label = str(getattr(failure, "operation", None) or recorder.label)
        if not self.marks.knows(label):
            label = recorder.label
        failed = check.status == Status.FAILURE and failure is not None
        self.result.tally(label, check.name, failed=failed)
        if not failed or failure is None:
            return
        interaction: Any = recorder.interactions.get(case_id)
        response = interaction.response if interaction is not None else None
        headers = {k: v[0] for k, v in (response.headers if response else {}).items() if v}
        node = recorder.cases.get(case_id)
        seen = Seen(
            status_code=response.status_code if response is not None else None,
            content_type=headers.get("content-type") or headers.get("Content-Type"),
            headers=headers,
            request_body=getattr(node.value, "body", None) if node is not None else None,
        )
        touch = self.marks.classify(failure, label, seen)
        self.result.add(
            Finding(
                operation=label,
                check=check.name,
                title=self.redact(str(failure.title)),
                message=self.redact(str(failure.message)),
                phase=phase,
                source=touch.source,
                part=touch.part,
                trail=touch.trail,
                status_code=seen.status_code,
                code=str(getattr(failure, "code", "")),
                reproduce=self.redact(info.code_sample or ""),
            )
        )
