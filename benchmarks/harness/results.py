"""What a run measured: per workload, per target, one dict per round; and the ratios taken of it."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from typing import Any

from .common import median
from .targets import Target


@dataclass
class Results:
    args: argparse.Namespace
    targets: dict[str, Target]
    notes: list[str]
    failures: list[str] = field(default_factory=list)
    # workload -> target -> list of per-round dicts
    runs: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)

    def add(self, workload: str, target: str, value: dict[str, Any]) -> None:
        self.runs.setdefault(workload, {}).setdefault(target, []).append(value)

    def have(self, workload: str, *targets: str) -> bool:
        """Whether every one of these targets has a measurement of the workload."""
        got = self.runs.get(workload, {})
        return all(t in got for t in targets)

    def series(self, workload: str, target: str, key: str) -> list[float]:
        return [r.get(key, math.nan) for r in self.runs.get(workload, {}).get(target, [])]

    def med(self, workload: str, target: str, key: str) -> float:
        return median(self.series(workload, target, key))

    def paired_ratio(self, workload: str, a: str, b: str, key: str) -> tuple[float, list[float]]:
        """Median of the per-round ratios a/b (each round's A and B ran back to back)."""
        xa, xb = self.series(workload, a, key), self.series(workload, b, key)
        ratios = [
            x / y
            for x, y in zip(xa, xb, strict=False)
            if y and not math.isnan(x) and not math.isnan(y)
        ]
        return median(ratios), ratios
