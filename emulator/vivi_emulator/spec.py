"""The VIVI channelsApi contract file, loaded once; and its OpenAPI 3.2 variant."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import yaml

from vivi_emulator.resources import contract_path

# The ``@cache`` loaders below are constants, not state: each reads (or derives from) the
# contract file shipped inside the package, which never changes while the process runs; cached
# once, lazily, so importing the package reads no file. Named in tests/test_layers.py's list of
# the constant loaders allowed a module-level cache. Their values are shared: never mutate them.


@cache
def contract_text() -> bytes:
    return contract_path().read_bytes()


@cache
def contract() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(contract_text())
    return loaded


@cache
def contract_json() -> bytes:
    return json.dumps(contract(), ensure_ascii=False, indent=2).encode("utf-8")


def as_openapi_32(document: dict[str, Any]) -> dict[str, Any]:
    """The contract as OpenAPI 3.2: the same document, each ``text/event-stream`` answer's
    per-event ``schema`` given as ``itemSchema`` (3.2's word for it; in 3.2 ``schema`` would
    describe the whole stream). Derived, never edited: the 3.1 file stays the one source, for
    the tools that do not read 3.2 yet."""
    upgraded = copy.deepcopy(document)
    if not str(document.get("openapi", "")).startswith(("3.0", "3.1")):
        return upgraded  # 3.2 already (its `schema` covers a whole stream): as it is
    upgraded["openapi"] = "3.2.0"
    for item in (upgraded.get("paths") or {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for response in (operation.get("responses") or {}).values():
                media = (response.get("content") or {}).get("text/event-stream")
                if isinstance(media, dict) and "schema" in media:
                    media["itemSchema"] = media.pop("schema")
    return upgraded


@cache
def contract_32() -> dict[str, Any]:
    return as_openapi_32(contract())


@cache
def contract_32_json() -> bytes:
    return json.dumps(contract_32(), ensure_ascii=False, indent=2).encode("utf-8")
