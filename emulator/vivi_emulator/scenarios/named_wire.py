"""The shipped wire scenarios (fixtures/wire.yaml) by name: for the kit, and for chaos.

``named_wire("crlf")`` is the options of the ``wire-crlf`` scenario, ``named_wire("idle-cut")``
the preset's; ``apply_named`` puts them on any Script. Faults at a rate (chaos) reuse these, so a
chaos kind and a kit scenario of the same name put the same bytes on the wire.
"""

from __future__ import annotations

from functools import lru_cache

from vivi_emulator.resources import default_fixtures_dir
from vivi_emulator.scenarios.loader import FixtureError, parse_file
from vivi_emulator.scenarios.model import Scenario
from vivi_emulator.script import Script
from vivi_emulator.wire.options import WireOptions
from vivi_emulator.wire.plan import with_wire

_PREFIX = "wire-"


# A constant, not state: the wire presets read from the fixtures shipped in the package (never
# the user's), the same for the whole process; loaded once, lazily (allowed by name in
# tests/test_layers.py's constant loaders).
@lru_cache(maxsize=1)
def kit_scenarios() -> tuple[Scenario, ...]:
    """The scenarios of fixtures/wire.yaml, in the file's (the kit's) order."""
    scenarios, problems = parse_file(default_fixtures_dir() / "wire.yaml")
    if problems:
        raise FixtureError(problems)
    return tuple(scenarios)


def wire_names() -> list[str]:
    """The names ``named_wire`` knows: kit scenarios with wire options, without ``wire-``."""
    return [s.name.removeprefix(_PREFIX) for s in kit_scenarios() if s.wire is not None]


def named_wire(name: str) -> WireOptions:
    """The wire options of a kit scenario, by its name with or without ``wire-``."""
    for scenario in kit_scenarios():
        if scenario.wire is not None and name in (scenario.name, scenario.name[len(_PREFIX) :]):
            return scenario.wire
    raise ValueError(f"unknown wire option or preset '{name}'; known: {', '.join(wire_names())}")


def apply_named(script: Script, name: str, *, time_scale: float = 1.0, seed: int = 0) -> Script:
    """``script`` with the named wire option or preset (a chaos kind)."""
    return with_wire(script, named_wire(name), time_scale=time_scale, seed=seed)
