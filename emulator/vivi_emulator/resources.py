"""Where the files the emulator reads at run time live.

In a wheel, the contract and the default fixtures are copied into ``vivi_emulator/_bundled`` (see
``[tool.hatch.build.targets.wheel.force-include]``); in a checkout or an editable install they are
read from the top of the repository, so there is one copy of each file to edit.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_BUNDLED = _PACKAGE / "_bundled"
_CHECKOUT = _PACKAGE.parent.parent  # emulator/vivi_emulator -> the repository


def _data_dir(name: str) -> Path:
    bundled = _BUNDLED / name
    return bundled if bundled.is_dir() else _CHECKOUT / name


def contract_path() -> Path:
    """The VIVI channelsApi contract (OpenAPI 3.1, YAML)."""
    return _data_dir("openapi") / "vivi-channels-api.yaml"


def default_fixtures_dir() -> Path:
    """The scenarios that ship with the package."""
    return _data_dir("fixtures")
