"""Where each setting came from, so that an invalid one is named with its source: the settings
file and its line, the environment variable, or the command-line flag.

``load_settings`` merges its layers (a command's defaults, the file, the environment, the flags)
before validating them; an error's location is looked up in the layers, latest first, and the
one that gave the value is named: ``latency.first_event (settings.yaml:3): Input should be
greater than or equal to 0``. Never the value itself: it may be a key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from vivi_emulator.errors import echoed
from vivi_emulator.scenarios.model_errors import deepest_errors
from vivi_emulator.scenarios.yaml_lines import Lines, line_of, node_at

Loc = tuple[int | str, ...]
MAX_PROBLEMS = 5
ENV_PREFIX = "VIVI_EMULATOR_"
# Settings given as they are, by the environment variable's suffix.
SIMPLE_ENV = {
    "HOST": "host",
    "PORT": "port",
    "SERVER": "server",
    "PUBLIC_URL": "public_url",
    "SEED": "seed",
    "TIME_SCALE": "time_scale",
    "JOURNAL_SIZE": "journal_size",
    "ADMIN_TOKEN": "admin_token",
    "STATE": "state",
    "WORKERS": "workers",
    "MAX_CONNECTIONS": "max_connections",
    "LATENCY": "latency",
    "RATE_LIMIT_HEADERS": "rate_limit_headers",
    "STRUCTURED_STREAM_STATUS": "structured_stream_status",
}
_FLAGS = {"access_log": "--no-access-log", "reload_fixtures": "--no-reload"}


def env_name(loc: Loc) -> str:
    """The environment variable that sets the setting at ``loc``."""
    top = str(loc[0])
    if top == "limits" and len(loc) > 1:
        return ENV_PREFIX + str(loc[1]).upper()
    by_name = {name: suffix for suffix, name in SIMPLE_ENV.items()}
    return ENV_PREFIX + by_name.get(top, top.upper())


def flag_name(loc: Loc) -> str:
    top = str(loc[0])
    return _FLAGS.get(top, "--" + top.replace("_", "-"))


def file_place(path: Path, text: str) -> Callable[[Loc], str]:
    """``file:line`` of a setting in a YAML settings file; the file alone for TOML."""
    if path.suffix == ".toml":
        return lambda _: str(path)
    lines = Lines(text)

    def place(loc: Loc) -> str:
        line = line_of(node_at(lines.root, loc))
        return f"{path}:{line}" if line else str(path)

    return place


@dataclass(frozen=True)
class _Layer:
    data: Mapping[str, Any]
    place: Callable[[Loc], str]


class Sources:
    """The layers of the settings, in the order they were merged (later ones win)."""

    def __init__(self) -> None:
        self._layers: list[_Layer] = []

    def add(self, data: Mapping[str, Any], place: Callable[[Loc], str]) -> None:
        if data:
            self._layers.append(_Layer(data, place))

    def of(self, loc: Loc) -> str | None:
        """Where the value at ``loc`` came from: the latest layer that holds it deepest."""
        best: tuple[int, _Layer] | None = None
        for layer in self._layers:
            depth = _depth(layer.data, loc)
            if depth and (best is None or depth >= best[0]):
                best = (depth, layer)
        return best[1].place(loc) if best is not None else None

    def problems(self, exc: ValidationError) -> list[str]:
        """One line per invalid setting: its name, its source, and what is allowed; at most
        ``MAX_PROBLEMS`` lines (a file that is no settings file at all has one per line)."""
        lines = []
        for loc, reason in deepest_errors(exc.errors(include_url=False, include_input=False)):
            if not loc:  # a rule across settings: its reason names them
                lines.append(reason)
                continue
            # A name is the file's own text (an unknown key): cut like any echoed input.
            name, source = echoed(".".join(map(str, loc)), 100), self.of(loc)
            lines.append(f"{name} ({source}): {reason}" if source else f"{name}: {reason}")
        if len(lines) > MAX_PROBLEMS:
            lines[MAX_PROBLEMS:] = [f"and {len(lines) - MAX_PROBLEMS} more"]
        return lines


def _depth(data: Any, loc: Sequence[int | str]) -> int:
    depth = 0
    for part in loc:
        found = (isinstance(data, Mapping) and part in data) or (
            isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        )
        if not found:
            break
        data = data[part]
        depth += 1
    return depth
