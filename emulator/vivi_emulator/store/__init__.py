"""Choosing a state store from the ``state`` setting: ``memory`` or ``redis://HOST:PORT/DB``.

A backend registers its URL scheme in ``BACKENDS``; adding one is one new module and one line
here. A backend's module is imported only when chosen, so the default never loads redis-py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from urllib.parse import urlsplit

from vivi_emulator.store.base import Bounds, StateStore, StoreUnavailable

__all__ = ["BACKENDS", "Bounds", "StateStore", "StoreUnavailable", "open_store", "scheme_of"]

# scheme -> (module, class); the class takes (url, channels, bounds).
BACKENDS: dict[str, tuple[str, str]] = {
    "memory": ("vivi_emulator.store.memory", "MemoryStore"),
    "redis": ("vivi_emulator.store.redis.store", "RedisStore"),
}


def scheme_of(state: str) -> str:
    return "memory" if state == "memory" else urlsplit(state).scheme


def open_store(state: str, channels: Mapping[str, str], bounds: Bounds) -> StateStore:
    """The store the ``state`` setting names (validated by the settings)."""
    module, name = BACKENDS[scheme_of(state)]
    factory: Callable[..., StateStore] = getattr(import_module(module), name)
    if state == "memory":
        return factory(channels, bounds)
    return factory(state, channels, bounds)
