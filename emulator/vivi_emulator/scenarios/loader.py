"""Reading fixture folders into a ScenarioSet, with every problem reported by file and line.

A broken file never half-loads: loading either returns a complete, valid set or raises
``FixtureError`` listing every problem found, in one pass (each scenario is checked on its own,
placeholders too, so one mistake never hides the next), so a server can keep its last good set.
A problem names its scenario by its ``name``.

Later folders override earlier ones by name (the first is the shipped defaults), and the latest
folder's ``default: true`` scenario replaces the earlier ones' default; within one folder, a
name twice or two defaults are problems. A name of one of the user's folders that a later one
overrides is not an error, but it is said (``ScenarioSet.notes``): it is easily a mistake.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from vivi_emulator.reading import MAX_FIXTURE_FILE_BYTES, read_text
from vivi_emulator.scenarios.checks import scenario_problems
from vivi_emulator.scenarios.model import FixtureFile, Scenario
from vivi_emulator.scenarios.model_errors import model_errors
from vivi_emulator.scenarios.template import placeholder_problems
from vivi_emulator.scenarios.yaml_lines import BoundExceeded, Lines, line_of, node_at, yaml_reason
from vivi_emulator.scenarios.yaml_lines import load as load_yaml


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.reason}"


class FixtureError(Exception):
    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class ScenarioSet:
    """Scenarios in matching order (first match wins), by name, and the default one."""

    scenarios: tuple[Scenario, ...]
    sources: dict[str, Path] = field(default_factory=dict)
    # What the load noticed without refusing it (a user's scenario overridden by a later folder).
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {s.name: s for s in self.scenarios})

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.scenarios]

    def get(self, name: str) -> Scenario | None:
        by_name: dict[str, Scenario] = self.by_name  # type: ignore[attr-defined]
        return by_name.get(name)

    @property
    def default(self) -> Scenario | None:
        """The first ``default: true`` scenario in matching order: the latest folder's."""
        return next((s for s in self.scenarios if s.default), None)


def parse_file(path: Path) -> tuple[list[Scenario], list[Problem]]:
    """The scenarios of one file, or the problems that stop it from loading."""
    loaded = _load(path)
    if isinstance(loaded, Problem):
        return [], [loaded]
    text, data = loaded
    # The node tree, for line numbers, is composed only when there is a problem to place.
    lines = Lines(text)
    items = data.get("scenarios") if isinstance(data, dict) else None
    if not isinstance(items, list):
        try:
            FixtureFile.model_validate(data)
        except ValidationError as exc:
            return [], _problems_of(exc, path, lines, (), "")
        items = []
    problems: list[Problem] = []
    try:  # the file's own fields; each scenario apart, so that every problem is found
        FixtureFile.model_validate({**data, "scenarios": []})
    except ValidationError as exc:
        problems += _problems_of(exc, path, lines, (), "")
    scenarios, found = _scenarios(items, path, lines)
    problems += found
    return ([], problems) if problems else (scenarios, [])


def _load(path: Path) -> tuple[str, Any] | Problem:
    """The file's text and its YAML data, or the problem that stops it from being read."""
    try:
        text = read_text(path, MAX_FIXTURE_FILE_BYTES)
    except (OSError, UnicodeDecodeError) as exc:
        return Problem(path, None, f"cannot read: {exc}")
    try:
        data: Any = load_yaml(text)
    except BoundExceeded as exc:
        return Problem(path, exc.line, exc.problem)
    except yaml.YAMLError as exc:
        line, reason = yaml_reason(exc, text)
        return Problem(path, line, reason)
    if data is None:
        return Problem(path, None, "the file is empty; expected 'scenarios:'")
    return text, data


def _scenarios(items: list[Any], path: Path, lines: Lines) -> tuple[list[Scenario], list[Problem]]:
    """The file's scenarios, each checked on its own, and every problem found in them."""
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        label, at = _label(item, index), ("scenarios", index)
        try:
            scenario = Scenario.model_validate(item)
        except ValidationError as exc:
            problems += _problems_of(exc, path, lines, at, label)
            # The model's errors stop before the placeholders: look for those in the text.
            for reason in placeholder_problems(item):
                problems.append(
                    Problem(path, line_of(node_at(lines.root, at)), f"{label}: {reason}")
                )
            continue
        if scenario.name in seen:
            line = line_of(node_at(lines.root, at))
            problems.append(Problem(path, line, f"scenario '{scenario.name}' is defined twice"))
        seen.add(scenario.name)
        for reason in scenario_problems(scenario):
            problems.append(Problem(path, line_of(node_at(lines.root, at)), f"{label}: {reason}"))
        scenarios.append(scenario)
    return scenarios, problems


def _label(item: Any, index: int) -> str:
    """A scenario as its author knows it: by its name (else by its place in the file)."""
    name = item.get("name") if isinstance(item, dict) else None
    return f"scenario '{name}'" if isinstance(name, str) and name else f"scenario #{index + 1}"


def _problems_of(
    exc: ValidationError, path: Path, lines: Lines, prefix: Sequence[int | str], label: str
) -> list[Problem]:
    problems = []
    for loc, where, message in model_errors(exc):
        reason = f"{where}: {message}" if where else message
        line = line_of(node_at(lines.root, [*prefix, *loc]))
        problems.append(Problem(path, line, f"{label}: {reason}" if label else reason))
    return problems


def fixture_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())


def read_folder(folder: Path) -> tuple[list[tuple[Scenario, Path]], list[Problem]]:
    """The scenarios of a folder's files, each with its file, and every problem found."""
    layer: list[tuple[Scenario, Path]] = []
    problems: list[Problem] = []
    for path in fixture_files(folder):
        scenarios, found = parse_file(path)
        problems += found
        layer += [(s, path) for s in scenarios]
    return layer, problems + _defined_twice(layer) + _defaults(layer)


def _defined_twice(layer: Sequence[tuple[Scenario, Path]]) -> list[Problem]:
    """One name in two files of one folder: which one wins would be an accident of file names
    (a later folder overriding an earlier one is the way to replace a scenario)."""
    first: dict[str, Path] = {}
    problems = []
    for scenario, path in layer:
        if scenario.name not in first:
            first[scenario.name] = path
            continue
        line = line_of(node_at(_scenario_node(path, scenario.name), []))
        problems.append(
            Problem(
                path,
                line,
                f"scenario '{scenario.name}' is also defined in {first[scenario.name].name} "
                "(one name per folder; a later folder may override it)",
            )
        )
    return problems


def _defaults(layer: Sequence[tuple[Scenario, Path]]) -> list[Problem]:
    """Two ``default: true`` scenarios in one folder: which one answers would be an accident."""
    defaults = [(s, p) for s, p in layer if s.default]
    if len(defaults) < 2:
        return []
    (first, first_path), *others = defaults
    return [
        Problem(
            path,
            line_of(node_at(_scenario_node(path, scenario.name), [])),
            f"scenario '{scenario.name}' is a second default (the first: '{first.name}' in "
            f"{first_path.name}); give one default: true per folder",
        )
        for scenario, path in others
    ]


def _scenario_node(path: Path, name: str) -> yaml.Node | None:
    """The YAML node of the scenario named ``name`` in a file already read once (for its line)."""
    root = Lines(read_text(path, MAX_FIXTURE_FILE_BYTES)).root
    for item in getattr(node_at(root, ["scenarios"]), "value", []):
        if isinstance(item, yaml.MappingNode) and any(
            k.value == "name" and v.value == name for k, v in item.value
        ):
            return item
    return None


def load_scenarios(folders: Iterable[Path]) -> ScenarioSet:
    """Scenarios from folders, later folders overriding earlier ones by name.

    Order: the later folders' scenarios first (a user's matchers win over the defaults), then the
    earlier ones' that were not overridden; the default scenario is used only when none matches,
    and it is the latest folder's (a user's ``default: true`` replaces the shipped one).
    """
    layers: list[list[tuple[Scenario, Path]]] = []
    problems: list[Problem] = []
    for folder in folders:
        if not folder.is_dir():
            problems.append(Problem(folder, None, "not a folder"))
            continue
        layer, found = read_folder(folder)
        problems += found
        layers.append(layer)
    if problems:
        raise FixtureError(problems)
    ordered: list[tuple[Scenario, Path]] = []
    taken: dict[str, Path] = {}
    notes: list[str] = []
    has_default = False
    for depth, layer in enumerate(reversed(layers)):
        for scenario, path in layer:
            if scenario.name in taken:
                if depth < len(layers) - 1:  # one user folder overriding another: say so
                    notes.append(
                        f"scenario '{scenario.name}' of {path} is overridden by the one of "
                        f"{taken[scenario.name]} (a later folder)"
                    )
                continue
            if scenario.default and has_default:
                # Still there by name; the later folder's default answers what nothing matched.
                scenario = scenario.model_copy(update={"default": False})
            has_default = has_default or scenario.default
            taken[scenario.name] = path
            ordered.append((scenario, path))
    return ScenarioSet(
        tuple(s for s, _ in ordered), {s.name: path for s, path in ordered}, tuple(notes)
    )
