"""The package keeps no module-level cache: every cache is a ``caches.Cache`` owned by an object
(issue #26), except the few loaders of constants read from files shipped in the package."""

from __future__ import annotations

import ast
from pathlib import Path

import vivi_emulator

PACKAGE = Path(vivi_emulator.__file__).parent
# (module, function): memoised loaders of immutable data shipped in the package, not state.
CONSTANT_LOADERS = {
    ("spec", "contract_text"),
    ("spec", "contract"),
    ("spec", "contract_json"),
    ("spec", "contract_32"),
    ("spec", "contract_32_json"),
    ("scenarios.model_errors", "_known_fields"),
    ("scenarios.named_wire", "kit_scenarios"),
}
_MEMOISERS = {"cache", "lru_cache"}
_EMPTY_MAPS = {"dict", "OrderedDict", "defaultdict", "WeakValueDictionary", "Cache"}


def _name(node: ast.expr) -> str:
    node = node.func if isinstance(node, ast.Call) else node
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _is_cache(value: ast.expr | None) -> bool:
    """An empty mapping made at import time: a store some function fills later."""
    if isinstance(value, ast.Dict):
        return not value.keys
    return isinstance(value, ast.Call) and not value.args and _name(value) in _EMPTY_MAPS


def _module_caches(module: str, tree: ast.Module) -> list[str]:
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            memoised = any(_name(d) in _MEMOISERS for d in node.decorator_list)
            if memoised and (module, node.name) not in CONSTANT_LOADERS:
                found.append(f"{module}.{node.name} (memoised)")
        elif isinstance(node, ast.Assign | ast.AnnAssign) and _is_cache(node.value):
            found.append(f"{module}:{node.lineno} (a module-level mapping)")
    return found


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (".".join(path.relative_to(PACKAGE).with_suffix("").parts), ast.parse(path.read_text()))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def test_no_module_level_cache_in_the_package() -> None:
    found = [cache for module, tree in _modules() for cache in _module_caches(module, tree)]
    assert found == []


def test_the_walk_finds_each_kind_of_module_cache() -> None:
    source = (
        "from functools import cache, lru_cache\n"
        "@lru_cache(maxsize=8)\ndef a(x): return x\n"
        "@functools.cache\ndef b(): return 1\n"
        "_SEEN: dict[int, int] = {}\n"
        "_MORE = dict()\n"
        "_NAMES = {'a': 1}\n"  # a constant table, not a cache
    )
    found = _module_caches("m", ast.parse(source))
    assert found == [
        "m.a (memoised)",
        "m.b (memoised)",
        "m:6 (a module-level mapping)",
        "m:7 (a module-level mapping)",
    ]


def test_every_allowed_constant_loader_still_exists() -> None:
    """A loader renamed or removed leaves no stale exception behind."""
    defined = {
        (module, node.name)
        for module, tree in _modules()
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }
    assert defined >= CONSTANT_LOADERS
