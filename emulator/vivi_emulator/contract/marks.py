"""Which part of the contract a finding touches, and how that part is marked.

Every part of the contract says where it comes from: ``x-vivi-source: documented`` (the public
VIVI docs state it: the API broke its docs) or ``inferred`` (our guess: the contract must change).
:class:`ContractMarks` follows the path a failure takes through the contract (the operation, the
response for the status answered, and every schema and property on the way to the failing value)
and reads the marks on it. A live run (:mod:`vivi_emulator.contract.run`) and ``--compare``
(:mod:`vivi_emulator.contract.compare`) classify their findings with it.

Pure data walking: schemathesis' failure objects are read by their class name and attributes, so
this module (and the reports) need no schemathesis.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vivi_emulator.contract.document import (
    ContractDocument,
    Node,
    Touch,
    Trail,
    escape,
    unescape,
)

_REQUIRED = re.compile(r'^["\']([^"\']+)["\'] is a required property')
_SCHEMA_AT = re.compile(r"\bat (/[^\s(]*)")


@dataclass(frozen=True)
class Seen:
    """What a check saw of the exchange, as far as classifying its failure needs it."""

    status_code: int | None = None
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    request_body: Any = None


class ContractMarks(ContractDocument):
    """Reads ``x-vivi-source`` marks from the contract along the path a finding takes."""

    def classify(self, failure: Any, label: str, seen: Seen | None = None) -> Touch:
        """Which contract part ``failure`` (on operation ``label``) touches, and its mark."""
        trail = Trail()
        operation = self.operation(label, trail)
        if operation is None:
            return Touch("unmarked", "")
        handler = _BY_KIND.get(type(failure).__name__, ContractMarks._response)
        return handler(self, failure, operation, seen or Seen(), trail)

    def _wrong_method(self, failure: Any, operation: Node, seen: Seen, trail: Trail) -> Touch:
        # Not in the contract: the answer to a wrong method is our decision (row 26).
        row = "docs/decisions.md row 26 (405 with Allow)"
        return Touch("inferred", row, (*trail.parts, (row, "inferred")))

    def _server_error(self, failure: Any, operation: Node, seen: Seen, trail: Trail) -> Touch:
        return Touch("unmarked", trail.verdict().part)

    def _undeclared_status(self, failure: Any, operation: Node, seen: Seen, trail: Trail) -> Touch:
        node, pointer = operation
        status = seen.status_code
        success = status is not None and 200 <= status < 300
        same_class = [
            code for code in (node.get("responses") or {}) if code.startswith("2") == success
        ]
        sub = Trail(list(trail.parts))
        for code in same_class:
            self.deref(node["responses"][code], f"{pointer}/responses/{code}", sub)
        # A success status the docs did not state is their break; an error status nobody
        # documented means our list of error answers (all inferred) is incomplete.
        return sub.verdict(part=f"{pointer}/responses")

    def _ignored_auth(self, failure: Any, operation: Node, seen: Seen, trail: Trail) -> Touch:
        if seen.status_code is not None and 200 <= seen.status_code < 300:
            self.security(operation, trail)  # a key is required: documented
        else:
            self.response(operation, 401, trail)  # the status of a refused key: our guess
        return trail.verdict()

    def _request(self, failure: Any, operation: Node, seen: Seen, trail: Trail) -> Touch:
        schema = self.request_schema(operation, trail)
        if schema is None:
            return trail.verdict()
        node, pointer = schema
        at = _SCHEMA_AT.search(str(getattr(failure, "message", "")))
        if at:
            segments = [unescape(s) for s in at.group(1).strip("/").split("/") if s]
            self.walk_schema_path(node, pointer, segments, trail)
        elif isinstance(seen.request_body, Mapping):
            # Any field sent may be the one refused.
            for name in seen.request_body:
                self.walk_instance(node, pointer, [str(name)], trail)
        return trail.verdict()

    def _response(self, failure: Any, operation: Node, seen: Seen, trail: Trail) -> Touch:
        response = self.response(operation, seen.status_code, trail)
        if response is None:
            return trail.verdict()
        kind = type(failure).__name__
        if kind == "MissingHeaders":
            for name in getattr(failure, "missing_headers", []):
                self.header(response, name, trail)
        elif kind == "JsonSchemaError":
            title = str(getattr(failure, "title", ""))
            if title.startswith("Response header"):
                self._failed_header(failure, response, seen.headers, trail)
            else:
                self._body(failure, response, seen.content_type, title, trail)
        return trail.verdict()

    def _failed_header(
        self,
        failure: Any,
        response: Node,
        headers: Mapping[str, str],
        trail: Trail,
    ) -> None:
        node, _ = response
        received = {k.lower(): v for k, v in headers.items()}
        instance = getattr(failure, "instance", None)
        declared = list((node.get("headers") or {}).keys())
        matching = [n for n in declared if received.get(n.lower()) == instance] or [
            n for n in declared if n.lower() in received
        ]
        for name in matching or declared:
            self.header(response, name, trail)

    def _body(
        self,
        failure: Any,
        response: Node,
        content_type: str | None,
        title: str,
        trail: Trail,
    ) -> None:
        node, pointer = response
        media = self.media(node, content_type)
        if media is None:
            return
        definition = node["content"][media]
        if not isinstance(definition, Mapping) or "schema" not in definition:
            return
        schema, at = self.deref(
            definition["schema"], f"{pointer}/content/{escape(media)}/schema", trail
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
            self.step(target, target_at, missing.group(1), trail)

    def _stream_event(self, failure: Any, operation: Node, seen: Seen, trail: Trail) -> Touch:
        # The stream check names the keyword broken by its JSON pointer into the contract.
        self.response(operation, seen.status_code, trail)
        pointer = str(getattr(failure, "schema_path", ""))
        if not pointer:
            # A stream past the run's bound: like a time-out, no contract part explains it.
            return Touch("unmarked", trail.verdict().part)
        if pointer.startswith("#/"):
            at = "#"
            for segment in pointer[2:].split("/"):
                at += "/" + segment
                trail.add(self.resolve(at), at)
        return trail.verdict()


_Handler = Callable[[ContractMarks, Any, Node, Seen, Trail], Touch]
# schemathesis' failure classes, by name, and where each looks in the contract; any other
# failure is about the response (its status, headers or body).
_BY_KIND: dict[str, _Handler] = {
    "UnsupportedMethodResponse": ContractMarks._wrong_method,
    "AllowHeaderMismatch": ContractMarks._wrong_method,
    "ServerError": ContractMarks._server_error,
    "ContentTypeServerError": ContractMarks._server_error,
    "ResponseTimeExceeded": ContractMarks._server_error,
    "UndefinedStatusCode": ContractMarks._undeclared_status,
    "IgnoredAuth": ContractMarks._ignored_auth,
    "RejectedPositiveData": ContractMarks._request,
    "AcceptedNegativeData": ContractMarks._request,
    "MissingHeaderNotRejected": ContractMarks._request,
    "StreamEventFailure": ContractMarks._stream_event,
}
