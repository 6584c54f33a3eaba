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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Source = Literal["documented", "inferred", "unmarked"]
SOURCE_MARK = "x-vivi-source"

# A node of the contract, and its JSON pointer.
_Node = tuple[Any, str]


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
class Seen:
    """What a check saw of the exchange, as far as classifying its failure needs it."""

    status_code: int | None = None
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    request_body: Any = None


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

    def _deref(self, node: Any, pointer: str, trail: _Trail) -> _Node:
        for _ in range(32):  # a cycle of $refs stops here
            trail.add(node, pointer)
            if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
                break
            pointer = node["$ref"]
            node = self.resolve(pointer)
        return node, pointer

    def operation(self, label: str, trail: _Trail) -> _Node | None:
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

    def response(self, operation: _Node, status: int | None, trail: _Trail) -> _Node | None:
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
    ) -> _Node:
        """Follow a value's path (``["responses", 0, "threadId"]``) through a schema."""
        node, pointer = self._deref(schema, pointer, trail)
        for segment in path:
            step = self._step(node, pointer, segment, trail)
            if step is None:
                break
            node, pointer = step
        return node, pointer

    def _step(self, node: Any, pointer: str, segment: str | int, trail: _Trail) -> _Node | None:
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
    ) -> _Node:
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

    def request_schema(self, operation: _Node, trail: _Trail) -> _Node | None:
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

    def security(self, operation: _Node, trail: _Trail) -> None:
        node, _ = operation
        requirements = node.get("security", self.document.get("security")) or []
        schemes = (self.document.get("components") or {}).get("securitySchemes") or {}
        for requirement in requirements:
            for name in requirement:
                if name in schemes:
                    trail.add(schemes[name], f"#/components/securitySchemes/{_escape(name)}")

    def classify(self, failure: Any, label: str, seen: Seen | None = None) -> Touch:
        """Which contract part ``failure`` (on operation ``label``) touches, and its mark."""
        trail = _Trail()
        operation = self.operation(label, trail)
        if operation is None:
            return Touch("unmarked", "")
        handler = _BY_KIND.get(type(failure).__name__, ContractMarks._response)
        return handler(self, failure, operation, seen or Seen(), trail)

    def _wrong_method(self, failure: Any, operation: _Node, seen: Seen, trail: _Trail) -> Touch:
        # Not in the contract: the answer to a wrong method is our decision (row 26).
        row = "docs/decisions.md row 26 (405 with Allow)"
        return Touch("inferred", row, (*trail.parts, (row, "inferred")))

    def _server_error(self, failure: Any, operation: _Node, seen: Seen, trail: _Trail) -> Touch:
        return Touch("unmarked", trail.verdict().part)

    def _undeclared_status(
        self, failure: Any, operation: _Node, seen: Seen, trail: _Trail
    ) -> Touch:
        node, pointer = operation
        status = seen.status_code
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

    def _ignored_auth(self, failure: Any, operation: _Node, seen: Seen, trail: _Trail) -> Touch:
        if seen.status_code is not None and 200 <= seen.status_code < 300:
            self.security(operation, trail)  # a key is required: documented
        else:
            self.response(operation, 401, trail)  # the status of a refused key: our guess
        return trail.verdict()

    def _request(self, failure: Any, operation: _Node, seen: Seen, trail: _Trail) -> Touch:
        schema = self.request_schema(operation, trail)
        if schema is None:
            return trail.verdict()
        node, pointer = schema
        at = _SCHEMA_AT.search(str(getattr(failure, "message", "")))
        if at:
            segments = [_unescape(s) for s in at.group(1).strip("/").split("/") if s]
            self.walk_schema_path(node, pointer, segments, trail)
        elif isinstance(seen.request_body, Mapping):
            # Any field sent may be the one refused.
            for name in seen.request_body:
                self.walk_instance(node, pointer, [str(name)], trail)
        return trail.verdict()

    def _response(self, failure: Any, operation: _Node, seen: Seen, trail: _Trail) -> Touch:
        response = self.response(operation, seen.status_code, trail)
        if response is None:
            return trail.verdict()
        kind = type(failure).__name__
        if kind == "MissingHeaders":
            for name in getattr(failure, "missing_headers", []):
                self._header(response, name, trail)
        elif kind == "JsonSchemaError":
            title = str(getattr(failure, "title", ""))
            if title.startswith("Response header"):
                self._failed_header(failure, response, seen.headers, trail)
            else:
                self._body(failure, response, seen.content_type, title, trail)
        return trail.verdict()

    def _header(self, response: _Node, name: str, trail: _Trail) -> None:
        node, pointer = response
        for declared, header in (node.get("headers") or {}).items():
            if declared.lower() == name.lower():
                self._deref(header, f"{pointer}/headers/{_escape(declared)}", trail)

    def _failed_header(
        self,
        failure: Any,
        response: _Node,
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
        response: _Node,
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


_Handler = Callable[[ContractMarks, Any, _Node, Seen, _Trail], Touch]
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
}
