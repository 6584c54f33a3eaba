"""One run and its verdict: the plan from the seed, the history, the properties checked."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.history.plan import make_plan
from tests.history.properties import Violation, check
from tests.history.record import History
from tests.history.run import run

SHORT_ROUNDS, LONG_ROUNDS, ROUND_SECONDS = 5, 30, 6.0


@dataclass
class Outcome:
    seed: int
    backend: str
    history: History
    violations: list[Violation]

    @property
    def violated(self) -> set[str]:
        return {v.property for v in self.violations}

    def history_json(self) -> str:
        """The whole history, for a closer look at a failure."""
        return json.dumps(dataclasses.asdict(self.history), indent=1, default=str)

    def report(self) -> str:
        ops = Counter(op.kind.split()[0] for op in self.history.ops)
        faults = Counter(b.kind for b in self.history.boundaries)
        head = (
            f"history check, backend {self.backend}, seed {self.seed}: {len(self.history.ops)} "
            f"operations ({dict(ops)}), boundaries {dict(faults)}, "
            f"{len(self.history.reads)} quiet points"
        )
        if not self.violations:
            return f"{head}\nall properties hold"
        return "\n".join([head] + [v.render(self.seed) for v in self.violations])


@dataclass(frozen=True)
class Options:
    rounds: int = SHORT_ROUNDS
    focus: str | None = None  # "flush": messages and SCRIPT FLUSH only (plan.py)
    env: dict[str, str] | None = None  # the servers' environment (PYTHONPATH, ...)


def run_and_check(
    seed: int, backend: str, workdir: Path, options: Options | None = None
) -> Outcome:
    """Run the seed's plan on a fresh cluster in ``workdir`` and check its history."""
    options = options or Options()
    plan = make_plan(seed, backend, options.rounds, ROUND_SECONDS, focus=options.focus)
    history, logs = run(plan, workdir, options.env)
    return Outcome(seed, backend, history, check(history, logs))
