"""The VIVI channelsApi contract file, loaded once."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import yaml

from vivi_emulator.resources import contract_path


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
