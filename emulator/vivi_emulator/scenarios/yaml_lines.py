"""A fixture file's YAML: read with the safe (C when built) loader, its aliases bounded before
anything is built from them, and its nodes' lines found for the problems reported.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml

# YAML aliases repeat a node by reference: nine levels of nine aliases are 387 million strings
# once a reply is rendered from them, from a file of 600 bytes. Aliases may add this many nodes
# to a file, in all.
MAX_ALIASED_NODES = 100_000

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
    sizes: dict[str, int] = {}  # anchor -> nodes in the anchored node
    open_nodes: list[tuple[str | None, int]] = [(None, 0)]  # (anchor, nodes so far)
    added = 0
    for event in yaml.parse(text, Loader=SafeLoader):
        size = 0
        if isinstance(event, yaml.CollectionStartEvent):
            open_nodes.append((event.anchor, 1))
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size = open_nodes.pop()
            if anchor is not None:
                sizes[anchor] = size
        elif isinstance(event, yaml.ScalarEvent):
            size = 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 1 if event.start_mark is not None else None
            if event.anchor not in sizes:
                return line, f"alias *{event.anchor} refers to a node from inside it"
            size = sizes[event.anchor]
            added += size
            if added > MAX_ALIASED_NODES:
                return line, (
                    f"aliases expand the file by more than {MAX_ALIASED_NODES} nodes; "
                    "write the repeated parts out, or repeat less"
                )
        if size:
            anchor, so_far = open_nodes[-1]
            open_nodes[-1] = (anchor, so_far + size)
    return None


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
