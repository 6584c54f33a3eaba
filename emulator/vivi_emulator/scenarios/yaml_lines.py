"""A fixture file's YAML: read with the safe (C when built) loader, its aliases bounded before
anything is built from them, and its nodes' lines found for the problems reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

# YAML aliases repeat a node by reference: nine levels of nine aliases are 387 million strings
# once a reply is rendered from them, from a file of 600 bytes. Aliases may add this many nodes
# to a file, in all.
MAX_ALIASED_NODES = 100_000

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class BoundExceeded(yaml.YAMLError):
    """A YAML text past a bound (its aliases' expansion); ``line`` is where, if known."""

    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.problem = reason


def load(text: str) -> Any:
    """A YAML text's data, read as a fixture file is: the safe loader (C: nesting past 1,000
    levels is a YAMLError, not a RecursionError), its aliases bounded first."""
    # Only a text with an anchor (&name) can have aliases: the others are read once.
    aliases = alias_problem(text) if "&" in text else None
    if aliases is not None:
        raise BoundExceeded(*aliases)
    return yaml.load(text, Loader=SafeLoader)  # noqa: S506 - a safe loader, C if built


class Lines:
    """The YAML node tree of a text, composed on first use."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._root: yaml.Node | None = None

    @property
    def root(self) -> yaml.Node | None:
        if self._root is None:
            self._root = yaml.compose(self._text, Loader=SafeLoader)
        return self._root


def alias_problem(text: str) -> tuple[int | None, str] | None:
    """(line, why) if the text's aliases expand it by more than MAX_ALIASED_NODES nodes, or
    refer to a node from inside itself; read from the parser's events, before anything is
    built from them."""
    sizes = _Sizes()
    added = 0
    for event in yaml.parse(text, Loader=SafeLoader):
        if not isinstance(event, yaml.AliasEvent):
            sizes.add(sizes.count(event))
            continue
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        size = sizes.anchored.get(event.anchor)
        if size is None:
            return line, f"alias *{event.anchor} refers to a node from inside it"
        added += size
        if added > MAX_ALIASED_NODES:
            return line, (
                f"aliases expand the file by more than {MAX_ALIASED_NODES} nodes; "
                "write the repeated parts out, or repeat less"
            )
        sizes.add(size)
    return None


class _Sizes:
    """The nodes in each anchored node, counted from the parser's events as they come."""

    def __init__(self) -> None:
        self.anchored: dict[str | None, int] = {}  # anchor -> nodes in the anchored node
        self._open: list[tuple[str | None, int]] = [(None, 0)]  # (anchor, nodes so far)

    def count(self, event: yaml.Event) -> int:
        """The nodes an event completes: a scalar, a whole collection at its end."""
        size = 0
        if isinstance(event, yaml.CollectionStartEvent):
            self._open.append((event.anchor, 1))
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size = self._open.pop()
            if anchor is not None:
                self.anchored[anchor] = size
        elif isinstance(event, yaml.ScalarEvent):
            size = 1
            if event.anchor is not None:
                self.anchored[event.anchor] = 1
        return size

    def add(self, size: int) -> None:
        """Count ``size`` nodes into the collection they are in."""
        if size:
            anchor, so_far = self._open[-1]
            self._open[-1] = (anchor, so_far + size)


def node_at(node: yaml.Node | None, loc: Sequence[int | str]) -> yaml.Node | None:
    """The YAML node at a pydantic error location, to tell its line."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), node)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if part < len(node.value) else node
        else:
            break
    return node


def line_of(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


# PyYAML's reasons, in the words of a file's author: what is wrong, and what to write instead.
_YAML_REASONS: tuple[tuple[str, str], ...] = (
    ("expected ',' or ']'", "a [ list is not closed with ]"),
    ("expected ',' or '}'", "a { mapping is not closed with }"),
    ("mapping values are not allowed", "a ': ' inside an unquoted text: quote the text"),
    ("could not find expected ':'", "a line that is not 'key: value' (a ':' missing?)"),
    ("expected '-' indicator", "a list item without '- ', or out of line with the others"),
    ("expected <block end>", "the indentation does not line up with the lines above"),
    ("did not find expected key", "the indentation does not line up with the lines above"),
    ("unexpected end of stream", "a quoted text is not closed"),
    ("found undefined alias", "an alias (*name) with no anchor (&name) before it"),
    ("found duplicate anchor", "an anchor (&name) defined twice"),
)


def yaml_reason(exc: yaml.YAMLError, text: str) -> tuple[int | None, str]:
    """(line, why) of a file YAML cannot read, in plain words (never the parser's own text)."""
    if isinstance(exc, BoundExceeded):  # our own bound: its reason is already plain
        return exc.line, exc.problem
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    column = f", column {mark.column + 1}" if mark is not None else ""
    problem = str(getattr(exc, "problem", None) or "")
    if "cannot start any token" in problem and mark is not None:
        found = text[mark.index : mark.index + 1]
        why = (
            "a tab: YAML indents with spaces only"
            if found == "\t"
            else f"a text cannot start with {found!r} unless it is quoted"
        )
        return line, f"not valid YAML{column}: {why}"
    for needle, why in _YAML_REASONS:
        if needle in problem:
            opened = getattr(exc, "context_mark", None)
            if "not closed" in why and opened is not None:
                # Where the list, mapping or quote was opened: the end of the file says nothing.
                line, column = opened.line + 1, f", column {opened.column + 1}"
            return line, f"not valid YAML{column}: {why}"
    return line, f"not valid YAML{column}: check the indentation and the quoting of this line"
