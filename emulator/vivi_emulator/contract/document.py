"""Walking the contract along the path a finding takes, noting the ``x-vivi-source`` marks on
the way (a ``Trail``): the operation, the response for a status, the request body's schema,
and every schema and property down to a value. ``marks.ContractMarks`` decides, from a failure,
which path to walk. Pure data walking over the contract document (a mapping).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Source = Literal["documented", "inferred", "unmarked"]
SOURCE_MARK = "x-vivi-source"

# A node of the contract, and its JSON pointer.
Node = tuple[Any, str]


def escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


@dataclass
class Trail:
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


class ContractDocument:
    """The contract document, walked by JSON pointer with ``$ref``s followed."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def resolve(self, pointer: str) -> Any:
        node: Any = self.document
        for segment in pointer.removeprefix("#/").split("/") if pointer != "#" else []:
            key = unescape(segment)
            if isinstance(node, Mapping):
                node = node.get(key)
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                return None
        return node

    def deref(self, node: Any, pointer: str, trail: Trail) -> Node:
        for _ in range(32):  # a cycle of $refs stops here
            trail.add(node, pointer)
            if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
                break
            pointer = node["$ref"]
            node = self.resolve(pointer)
        return node, pointer

    def operation(self, label: str, trail: Trail) -> Node | None:
        """The operation of a label such as ``POST /channelsApi/{channelId}/stream``."""
        method, _, path = label.partition(" ")
        paths = self.document.get("paths") or {}
        item = paths.get(path)
        if not isinstance(item, Mapping) or method.lower() not in item:
            return None
        pointer = f"#/paths/{escape(path)}"
        trail.add(item, pointer)
        return self.deref(item[method.lower()], f"{pointer}/{method.lower()}", trail)

    def knows(self, label: str) -> bool:
        return self.operation(label, Trail()) is not None

    def response(self, operation: Node, status: int | None, trail: Trail) -> Node | None:
        node, pointer = operation
        responses = node.get("responses") or {}
        if status is None:
            return None
        for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
            if key in responses:
                return self.deref(responses[key], f"{pointer}/responses/{key}", trail)
        return None

    @staticmethod
    def media(response: Any, content_type: str | None) -> str | None:
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
        self, schema: Any, pointer: str, path: Sequence[str | int], trail: Trail
    ) -> Node:
        """Follow a value's path (``["responses", 0, "threadId"]``) through a schema."""
        node, pointer = self.deref(schema, pointer, trail)
        for segment in path:
            step = self.step(node, pointer, segment, trail)
            if step is None:
                break
            node, pointer = step
        return node, pointer

    def step(self, node: Any, pointer: str, segment: str | int, trail: Trail) -> Node | None:
        if not isinstance(node, Mapping):
            return None
        properties = node.get("properties") or {}
        if isinstance(segment, str) and segment in properties:
            return self.deref(properties[segment], f"{pointer}/properties/{escape(segment)}", trail)
        if isinstance(segment, int) and isinstance(node.get("items"), Mapping):
            return self.deref(node["items"], f"{pointer}/items", trail)
        for keyword in ("allOf", "oneOf", "anyOf"):
            for index, branch in enumerate(node.get(keyword) or ()):
                probe = Trail()
                resolved, at = self.deref(branch, f"{pointer}/{keyword}/{index}", probe)
                found = self.step(resolved, at, segment, probe)
                if found is not None:
                    trail.parts += [p for p in probe.parts if p not in trail.parts]
                    return found
        return None

    def walk_schema_path(
        self, schema: Any, pointer: str, path: Sequence[str], trail: Trail
    ) -> Node:
        """Follow keywords (``/properties/userId/oneOf/0``) through a schema, noting marks."""
        node, pointer = self.deref(schema, pointer, trail)
        for segment in path:
            if isinstance(node, Mapping) and segment in node:
                node, pointer = self.deref(node[segment], f"{pointer}/{escape(segment)}", trail)
            elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
                node, pointer = self.deref(node[int(segment)], f"{pointer}/{segment}", trail)
            else:
                break
        return node, pointer

    def request_schema(self, operation: Node, trail: Trail) -> Node | None:
        node, pointer = operation
        body = node.get("requestBody")
        if not isinstance(body, Mapping):
            return None
        body, pointer = self.deref(body, f"{pointer}/requestBody", trail)
        content = body.get("content") or {}
        for media, definition in content.items():
            if isinstance(definition, Mapping) and "schema" in definition:
                at = f"{pointer}/content/{escape(media)}/schema"
                return self.deref(definition["schema"], at, trail)
        return None

    def security(self, operation: Node, trail: Trail) -> None:
        node, _ = operation
        requirements = node.get("security", self.document.get("security")) or []
        schemes = (self.document.get("components") or {}).get("securitySchemes") or {}
        for requirement in requirements:
            for name in requirement:
                if name in schemes:
                    trail.add(schemes[name], f"#/components/securitySchemes/{escape(name)}")

    def header(self, response: Node, name: str, trail: Trail) -> None:
        node, pointer = response
        for declared, header in (node.get("headers") or {}).items():
            if declared.lower() == name.lower():
                self.deref(header, f"{pointer}/headers/{escape(declared)}", trail)
