"""``python -m tests.history [--seed N] [--long] [--backend redis|memory]``: one run, its
violations printed by property with the seed and the offending operations; exit status 1 when
any property is violated."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tests.history.check import LONG_ROUNDS, SHORT_ROUNDS, Options, run_and_check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.history", description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--long", action="store_true", help="30 rounds instead of 5")
    parser.add_argument("--backend", choices=("redis", "memory"), default="redis")
    parser.add_argument("--rounds", type=int, help="rounds (default: 5, or 30 with --long)")
    parser.add_argument("--focus", choices=("flush",), help="only messages and SCRIPT FLUSH")
    parser.add_argument("--keep", type=Path, help="keep the servers' logs and state here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vivi-history-") as scratch:
        workdir = args.keep or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        rounds = args.rounds or (LONG_ROUNDS if args.long else SHORT_ROUNDS)
        options = Options(rounds=rounds, focus=args.focus)
        outcome = run_and_check(args.seed, args.backend, workdir, options)
        if args.keep:
            (workdir / "history.json").write_text(outcome.history_json(), encoding="utf-8")
    print(outcome.report())
    return 1 if outcome.violations else 0


if __name__ == "__main__":
    sys.exit(main())
