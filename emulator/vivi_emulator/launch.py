"""The ``vivi-emulator`` command's entry point (pyproject's ``[project.scripts]``): the CLI's
imports, made without the cyclic garbage collector, then the CLI.

Importing the command builds tens of thousands of objects that live as long as the process
(modules, classes, pydantic's validators) and almost no garbage; the collector, run every few
hundred allocations, walked them over and over: a tenth of start-up's CPU (benchmarks/
results.md, "Start-up"). So it waits until the imports are done, and they are then frozen
(``gc.freeze``): no later collection walks them again, and a server worker forked from this
process does not touch, and so copy, the memory they live in.

This module is outside ``vivi_emulator.cli`` because importing anything in that package runs
its ``__init__``, which imports every command.
"""

from __future__ import annotations

import gc


def main() -> None:
    """The ``vivi-emulator`` command."""
    gc.disable()
    try:
        from vivi_emulator.cli import main as cli
    finally:
        gc.freeze()
        gc.enable()
    cli()
