"""Schemathesis, as a library, run with the project's contract against a target.

The target is the emulator in-process (no socket) or any base URL, the real VIVI API included.
Every phase and every check runs; findings come back as plain data, with the API key removed from
every message, so callers (the test suite, ``vivi-emulator contract``) can report them as they like.

Each finding says which part of the contract it touches, and whether that part is
``documented`` (stated by the public VIVI docs: the API broke its docs) or ``inferred`` (our
guess: the contract must change), read from the contract's ``x-vivi-source`` marks on the
operation, the response and every schema property on the way to the failing value
(:class:`ContractMarks`).
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import quote

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from vivi_emulator.paths import API_KEY_HEADER
from vivi_emulator.spec import contract

REDACTED = "[redacted]"
PHASES = ("examples", "coverage", "fuzzing", "stateful")

Source = Literal["documented", "inferred", "unmarked"]
SOURCE_MARK = "x-vivi-source"


@dataclass(frozen=True)
class Finding:
    """One way the target disagrees with the contract."""

    operation: str
    check: str
    title: str
    message: str
    phase: str
    # Which part of the contract the disagreement touches, and how that part is marked:
    # `inferred` if any part on the way is our guess, `documented` if all are documented.
    source: Source = "unmarked"
    part: str = ""
    trail: tuple[tuple[str, str], ...] = ()
    status_code: int | None = None
    # schemathesis' stable failure code (ST108, ...), and a command that repeats the request.
    code: str = ""
    reproduce: str = ""
    occurrences: int = 1


@dataclass
class Conformance:
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    operations: set[str] = field(default_factory=set)
    # Not failures, but worth reading: streams cut short by the limits, a run stopped by time.
    warnings: list[str] = field(default_factory=list)
    # (operation, check) -> [passed, failed], for JUnit.
    checks: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    requests: int = 0
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.findings and not self.errors

    def by_source(self, source: Source) -> list[Finding]:
        return [f for f in self.findings if f.source == source]


def redactor(secret: str) -> Callable[[str], str]:
    """A function removing ``secret`` from a text, as sent, URL-encoded or JSON-escaped."""
    forms = {secret, quote(secret, safe=""), secret.replace("\\", "\\\\").replace('"', '\\"')}
    forms = {f for f in forms if f}

    def redact(text: str) -> str:
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, REDACTED)
        return text

    return redact


# --- the contract's marks ---------------------------------------------------------------------


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


_REQUIRED = re.compile(r'^["\']([^"\']+)["\'] is a required property')
_SCHEMA_AT = re.compile(r"\bat (/[^\s(]*)")


@dataclass
class _Trail:
    """The marked parts of the contract a finding passes through, outermost first."""

    parts: list[tuple[str, str]] = field(default_factory=list)

    def add(self, node: Any, pointer: str) -> None:
        marked = isinstance(node, Mapping) and node.get(SOURCE_MARK) in ("documented", "inferred")
        if marked and (not self.parts or self.parts[-1][0] != pointer):
            self.parts.append((pointer, str(node[SOURCE_MARK])))

    def verdict(self, part: str | None = None) -> Touch:
        """``inferred`` if any part on the way is inferred, else ``documented``."""
        marks = {mark for _, mark in self.parts}
        source: Source = (
            "inferred" if "inferred" in marks else "documented" if marks else "unmarked"
        )
        deepest = part if part is not None else self.parts[-1][0] if self.parts else ""
        return Touch(source, deepest, tuple(self.parts))


@dataclass(frozen=True)
class Touch:
    """The contract part a finding touches: the deepest one, and every marked part on the way."""

    source: Source
    part: str
    trail: tuple[tuple[str, str], ...] = ()


class ContractMarks:
    """Reads ``x-vivi-source`` marks from the contract along the path a finding takes."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def resolve(self, pointer: str) -> Any:
        node: Any = self.document
        for segment in pointer.removeprefix("#/").split("/") if pointer != "#" else []:
            key = _unescape(segment)
            if isinstance(node, Mapping):
                node = node.get(key)
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                return None
        return node

    def _deref(self, node: Any, pointer: str, trail: _Trail) -> tuple[Any, str]:
        for _ in range(32):  # a cycle of $refs stops here
            trail.add(node, pointer)
            if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
                break
            pointer = node["$ref"]
            node = self.resolve(pointer)
        return node, pointer

    def operation(self, label: str, trail: _Trail) -> tuple[Any, str] | None:
        """The operation of a label such as ``POST /channelsApi/{channelId}/stream``."""
        method, _, path = label.partition(" ")
        paths = self.document.get("paths") or {}
        item = paths.get(path)
        if not isinstance(item, Mapping) or method.lower() not in item:
            return None
        pointer = f"#/paths/{_escape(path)}"
        trail.add(item, pointer)
        return self._deref(item[method.lower()], f"{pointer}/{method.lower()}", trail)

    def knows(self, label: str) -> bool:
        return self.operation(label, _Trail()) is not None

    def response(
        self, operation: tuple[Any, str], status: int | None, trail: _Trail
    ) -> tuple[Any, str] | None:
        node, pointer = operation
        responses = node.get("responses") or {}
        if status is None:
            return None
        for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
            if key in responses:
                return self._deref(responses[key], f"{pointer}/responses/{key}", trail)
        return None

    @staticmethod
    def _media(response: Any, content_type: str | None) -> str | None:
        content = response.get("content") or {}
        if not content:
            return None
        if content_type:
            wanted = content_type.split(";")[0].strip().lower()
            for media in content:
                if media.lower() == wanted:
                    return str(media)
        return str(next(iter(content)))

    def walk_instance(
        self, schema: Any, pointer: str, path: Sequence[str | int], trail: _Trail
    ) -> tuple[Any, str]:
        """Follow a value's path (``["responses", 0, "threadId"]``) through a schema."""
        node, pointer = self._deref(schema, pointer, trail)
        for segment in path:
            step = self._step(node, pointer, segment, trail)
            if step is None:
                break
            node, pointer = step
        return node, pointer

    def _step(
        self, node: Any, pointer: str, segment: str | int, trail: _Trail
    ) -> tuple[Any, str] | None:
        if not isinstance(node, Mapping):
            return None
        properties = node.get("properties") or {}
        if isinstance(segment, str) and segment in properties:
            return self._deref(
                properties[segment], f"{pointer}/properties/{_escape(segment)}", trail
            )
        if isinstance(segment, int) and isinstance(node.get("items"), Mapping):
            return self._deref(node["items"], f"{pointer}/items", trail)
        for keyword in ("allOf", "oneOf", "anyOf"):
            for index, branch in enumerate(node.get(keyword) or ()):
                probe = _Trail()
                resolved, at = self._deref(branch, f"{pointer}/{keyword}/{index}", probe)
                found = self._step(resolved, at, segment, probe)
                if found is not None:
                    trail.parts += [p for p in probe.parts if p not in trail.parts]
                    return found
        return None

    def walk_schema_path(
        self, schema: Any, pointer: str, path: Sequence[str], trail: _Trail
    ) -> tuple[Any, str]:
        """Follow keywords (``/properties/userId/oneOf/0``) through a schema, noting marks."""
        node, pointer = self._deref(schema, pointer, trail)
        for segment in path:
            if isinstance(node, Mapping) and segment in node:
                node, pointer = self._deref(node[segment], f"{pointer}/{_escape(segment)}", trail)
            elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
                node, pointer = self._deref(node[int(segment)], f"{pointer}/{segment}", trail)
            else:
                break
        return node, pointer

    def request_schema(self, operation: tuple[Any, str], trail: _Trail) -> tuple[Any, str] | None:
        node, pointer = operation
        body = node.get("requestBody")
        if not isinstance(body, Mapping):
            return None
        body, pointer = self._deref(body, f"{pointer}/requestBody", trail)
        content = body.get("content") or {}
        for media, definition in content.items():
            if isinstance(definition, Mapping) and "schema" in definition:
                at = f"{pointer}/content/{_escape(media)}/schema"
                return self._deref(definition["schema"], at, trail)
        return None

    def security(self, operation: tuple[Any, str], trail: _Trail) -> None:
        node, _ = operation
        requirements = node.get("security", self.document.get("security")) or []
        schemes = (self.document.get("components") or {}).get("securitySchemes") or {}
        for requirement in requirements:
            for name in requirement:
                if name in schemes:
                    trail.add(schemes[name], f"#/components/securitySchemes/{_escape(name)}")

    def classify(
        self,
        failure: Any,
        label: str,
        *,
        status_code: int | None = None,
        content_type: str | None = None,
        response_headers: Mapping[str, str] | None = None,
        request_body: Any = None,
    ) -> Touch:
        """Which contract part ``failure`` touches, and how it is marked."""
        kind = type(failure).__name__
        trail = _Trail()
        operation = self.operation(label, trail)
        if operation is None:
            return Touch("unmarked", "")
        if kind in ("UnsupportedMethodResponse", "AllowHeaderMismatch"):
            # Not in the contract: the answer to a wrong method is our decision (row 26).
            row = "docs/decisions.md row 26 (405 with Allow)"
            return Touch("inferred", row, (*trail.parts, (row, "inferred")))
        if kind in ("ServerError", "ContentTypeServerError", "ResponseTimeExceeded"):
            return Touch("unmarked", trail.verdict().part)
        if kind == "UndefinedStatusCode":
            return self._undeclared_status(operation, status_code, trail)
        if kind == "IgnoredAuth":
            if status_code is not None and 200 <= status_code < 300:
                self.security(operation, trail)  # a key is required: documented
            else:
                self.response(operation, 401, trail)  # the status of a refused key: our guess
            return trail.verdict()
        if kind in ("RejectedPositiveData", "AcceptedNegativeData", "MissingHeaderNotRejected"):
            return self._request(failure, operation, request_body, trail)
        response = self.response(operation, status_code, trail)
        if response is None:
            return trail.verdict()
        if kind == "MissingHeaders":
            for name in getattr(failure, "missing_headers", []):
                self._header(response, name, trail)
            return trail.verdict()
        if kind == "JsonSchemaError":
            title = str(getattr(failure, "title", ""))
            if title.startswith("Response header"):
                self._failed_header(failure, response, response_headers or {}, trail)
                return trail.verdict()
            self._body(failure, response, content_type, title, trail)
        return trail.verdict()

    def _undeclared_status(
        self, operation: tuple[Any, str], status: int | None, trail: _Trail
    ) -> Touch:
        node, pointer = operation
        success = status is not None and 200 <= status < 300
        same_class = [
            code for code in (node.get("responses") or {}) if code.startswith("2") == success
        ]
        sub = _Trail(list(trail.parts))
        for code in same_class:
            self._deref(node["responses"][code], f"{pointer}/responses/{code}", sub)
        # A success status the docs did not state is their break; an error status nobody
        # documented means our list of error answers (all inferred) is incomplete.
        return sub.verdict(part=f"{pointer}/responses")

    def _request(self, failure: Any, operation: tuple[Any, str], body: Any, trail: _Trail) -> Touch:
        schema = self.request_schema(operation, trail)
        if schema is None:
            return trail.verdict()
        node, pointer = schema
        message = str(getattr(failure, "message", ""))
        at = _SCHEMA_AT.search(message)
        if at:
            segments = [_unescape(s) for s in at.group(1).strip("/").split("/") if s]
            self.walk_schema_path(node, pointer, segments, trail)
        elif isinstance(body, Mapping):
            # Any field sent may be the one refused.
            for name in body:
                self.walk_instance(node, pointer, [str(name)], trail)
        return trail.verdict()

    def _header(self, response: tuple[Any, str], name: str, trail: _Trail) -> None:
        node, pointer = response
        for declared, header in (node.get("headers") or {}).items():
            if declared.lower() == name.lower():
                self._deref(header, f"{pointer}/headers/{_escape(declared)}", trail)

    def _failed_header(
        self,
        failure: Any,
        response: tuple[Any, str],
        headers: Mapping[str, str],
        trail: _Trail,
    ) -> None:
        node, _ = response
        received = {k.lower(): v for k, v in headers.items()}
        instance = getattr(failure, "instance", None)
        declared = list((node.get("headers") or {}).keys())
        matching = [n for n in declared if received.get(n.lower()) == instance] or [
            n for n in declared if n.lower() in received
        ]
        for name in matching or declared:
            self._header(response, name, trail)

    def _body(
        self,
        failure: Any,
        response: tuple[Any, str],
        content_type: str | None,
        title: str,
        trail: _Trail,
    ) -> None:
        node, pointer = response
        media = self._media(node, content_type)
        if media is None:
            return
        definition = node["content"][media]
        if not isinstance(definition, Mapping) or "schema" not in definition:
            return
        schema, at = self._deref(
            definition["schema"], f"{pointer}/content/{_escape(media)}/schema", trail
        )
        path: list[str | int] = list(getattr(failure, "instance_path", []) or [])
        if "content schema" in title:
            # The failure is inside an SSE event's data: start at its contentSchema.
            data = (
                (schema.get("properties") or {}).get("data")
                if isinstance(schema, Mapping)
                else None
            )
            if isinstance(data, Mapping) and "contentSchema" in data:
                trail.add(data, f"{at}/properties/data")
                schema, at = data["contentSchema"], f"{at}/properties/data/contentSchema"
        target, target_at = self.walk_instance(schema, at, path, trail)
        missing = _REQUIRED.match(str(getattr(failure, "validation_message", "") or ""))
        missing = missing or _REQUIRED.match(str(getattr(failure, "message", "")))
        if missing and isinstance(target, Mapping):
            self._step(target, target_at, missing.group(1), trail)


# --- running schemathesis ---------------------------------------------------------------------


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
    max_time: int | None,
) -> SchemathesisConfig:
    project: dict[str, Any] = {
        "headers": {API_KEY_HEADER: api_key},
        "parameters": {"channelId": channel_id},
        "generation": {"max-examples": max_examples},
        "checks": {"enabled": True},
        "max-stream-events": max_stream_events,
        "request-timeout": request_timeout,
        "workers": 1,
        "continue-on-failure": True,
    }
    if base_url is not None:
        project["base-url"] = base_url
    if rate_limit is not None:
        project["rate-limit"] = rate_limit
    if phases is not None:
        unknown = sorted(set(phases) - set(PHASES))
        if unknown:
            raise ValueError(f"unknown phase(s) {', '.join(unknown)}; known: {', '.join(PHASES)}")
        project["phases"] = {name: {"enabled": name in phases} for name in PHASES}
    data: dict[str, Any] = {**project, "color": False}
    if seed is not None:
        data["seed"] = seed
    if max_time is not None:
        data["max-time"] = max_time
    return SchemathesisConfig.from_dict(data)


def _cap_uploads(limit: int) -> Callable[[Any, Any], Any]:
    """A ``map_case`` hook: every generated file is cut to ``limit`` bytes before it is sent.

    Files are cut in place: assigning a new body would make schemathesis take the case for one
    its caller rewrote, and judge it again.
    """
    from schemathesis.transport.serialization import Binary

    def cut(value: Any) -> Any:
        if isinstance(value, Binary) and len(value.data) > limit:
            return Binary(value.data[:limit])
        if isinstance(value, bytes) and len(value) > limit:
            return value[:limit]
        return value

    def map_case(_: Any, case: Any) -> Any:
        body = case.body
        if not isinstance(body, dict):
            return case
        for key, value in body.items():
            if isinstance(value, list):
                for index, item in enumerate(value):
                    if cut(item) is not item:
                        value[index] = cut(item)
            elif cut(value) is not value:
                body[key] = cut(value)
        return case

    return map_case


def _iter_checks(recorder: Any) -> Iterator[tuple[str, Any]]:
    for case_id, checks in recorder.checks.items():
        for check in checks:
            yield case_id, check


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
    exclude_operations: Sequence[str] | None = None,
    max_upload_bytes: int | None = None,
    max_time: int | None = None,
    document: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Conformance:
    """Run every phase and check of the contract against ``app`` or ``base_url``.

    ``rate_limit`` (``"5/s"``) spaces the requests; ``max_stream_events`` and ``request_timeout``
    (seconds, reading a stream included) bound every response, so an endless stream cannot
    hang the run; ``max_time`` (seconds) bounds the whole run; ``operations`` and
    ``exclude_operations`` take operation ids; ``max_upload_bytes`` cuts every generated file.
    """
    if (app is None) == (base_url is None):
        raise ValueError("give exactly one target: app or base_url")
    redact = redactor(api_key) if api_key else (lambda text: text)
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
        max_time=max_time,
    )
    raw = copy.deepcopy(document or contract())
    marks = ContractMarks(raw)
    schema: Any = schemathesis.openapi.from_dict(copy.deepcopy(raw), config=config)
    known = {
        str(op.get("operationId"))
        for item in (raw.get("paths") or {}).values()
        for op in item.values()
        if isinstance(op, Mapping) and "operationId" in op
    }
    for chosen in (*(operations or ()), *(exclude_operations or ())):
        if chosen not in known:
            raise ValueError(f"unknown operation id {chosen!r}; known: {', '.join(sorted(known))}")
    if operations:
        schema = schema.include(operation_id=list(operations))
    if exclude_operations:
        schema = schema.exclude(operation_id=list(exclude_operations))
    if app is not None:
        schema.app = app
    if max_upload_bytes is not None:
        schema.hooks.register_hook_with_name(_cap_uploads(max_upload_bytes), "map_case")

    result = Conformance()
    found: dict[tuple[str, str, str, str, int | None], Finding] = {}
    started = time.monotonic()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            recorder = event.recorder
            phase = event.phase.value if isinstance(event, events.ScenarioFinished) else "fuzz"
            ran = getattr(event, "skip_reason", None) is None or recorder.interactions
            if ran and marks.knows(recorder.label):  # not "Stateful tests"
                result.operations.add(recorder.label)
            result.requests += len(recorder.interactions)
            for exchange in recorder.interactions.values():
                if exchange.response is not None and exchange.response.stream_cut_short:
                    warning = (
                        f"{recorder.label}: a stream was cut short by the limits "
                        f"(max events {max_stream_events}, {request_timeout:g} s per request); "
                        "only its first events were checked"
                    )
                    if warning not in result.warnings:
                        result.warnings.append(warning)
            if progress is not None:
                progress(f"{phase:<9} {recorder.label}: {event.status.value}")
            for case_id, check in _iter_checks(recorder):
                failure_info = check.failure_info
                failure = failure_info.failure if failure_info is not None else None
                label = str(getattr(failure, "operation", None) or recorder.label)
                if not marks.knows(label):
                    label = recorder.label
                tally = result.checks.setdefault((label, check.name), [0, 0])
                if check.status != Status.FAILURE or failure is None:
                    tally[0] += 1
                    continue
                tally[1] += 1
                interaction: Any = recorder.interactions.get(case_id)
                response = interaction.response if interaction is not None else None
                status = response.status_code if response is not None else None
                headers = {k: v[0] for k, v in (response.headers if response else {}).items() if v}
                node = recorder.cases.get(case_id)
                body = getattr(node.value, "body", None) if node is not None else None
                touch = marks.classify(
                    failure,
                    label,
                    status_code=status,
                    content_type=headers.get("content-type") or headers.get("Content-Type"),
                    response_headers=headers,
                    request_body=body,
                )
                title = redact(str(failure.title))
                key = (label, check.name, title, touch.part, status)
                if key in found:  # the same disagreement found by several examples
                    previous = found[key]
                    found[key] = replace(previous, occurrences=previous.occurrences + 1)
                    continue
                found[key] = Finding(
                    operation=label,
                    check=check.name,
                    title=title,
                    message=redact(str(failure.message)),
                    phase=str(phase),
                    source=touch.source,
                    part=touch.part,
                    trail=touch.trail,
                    status_code=status,
                    code=str(getattr(failure, "code", "")),
                    reproduce=redact(failure_info.code_sample or "") if failure_info else "",
                )
        elif isinstance(event, events.NonFatalError):
            result.errors.append(redact(f"{event.label}: {event.info.message}"))
        elif isinstance(event, events.FatalError):
            result.errors.append(redact(f"fatal: {event.exception}"))
        elif isinstance(event, events.EngineFinished):
            reason = getattr(event.stop_reason, "value", str(event.stop_reason))
            if reason == "max_time":
                result.warnings.append(
                    f"the run stopped at its time limit ({max_time} s): not every case ran"
                )
    result.findings = list(found.values())
    result.duration = time.monotonic() - started
    return result
