"""A summary row, (figure, measured, target, met?), and how "met?" is written."""

from __future__ import annotations

import math

Row = list[str]


def met(good: bool | None) -> str:
    return "n/a" if good is None else ("met" if good else "NOT MET")


def ok(x: float, good: bool) -> str:
    """met / NOT MET, or n/a when x was not measured (NaN)."""
    return met(None if math.isnan(x) else good)
