"""Running targets: start one, wait for its first answer, check it answers right, stop it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from .common import Scenario, log
from .probes import functional_check, scenario_probe, wait_ready
from .processes import Proc, free_port
from .results import Results
from .targets import Target


@dataclass
class Instance:
    target: Target
    proc: Proc
    port: int
    events: int = 0  # data lines per stream of the scenario it was started for, as probed

    @property
    def name(self) -> str:
        return self.target.name


def launch(t: Target, scenario: Scenario | None = None, extra: list[str] | None = None) -> Instance:
    """Start t on a free port (with its delayed arguments if for a scenario), without waiting."""
    port = free_port()
    suffix = f"-{scenario.name}" if scenario else ""
    proc = t.start(port, (t.delayed_args if scenario else []) + (extra or []), suffix)
    log(f"  starting {t.name}{f' ({scenario.name})' if scenario else ''} on :{port}")
    return Instance(t, proc, port)


def check(inst: Instance, scenario: Scenario | None = None) -> list[str]:
    """Wait for the first answer, then check the answers (that it plays the scenario, if one)."""
    t, proc, port = inst.target, inst.proc, inst.port
    if wait_ready(proc, port, t.ready_timeout) is None:
        return [not_ready(proc, t.ready_timeout)]
    if scenario:
        why, inst.events = scenario_probe(port, scenario)
        return [why] if why else []
    return functional_check(t, port)


def start_checked(
    t: Target, scenario: Scenario | None = None, extra: list[str] | None = None
) -> tuple[Instance, list[str]]:
    """Start t and check it; the problems (the instance is returned anyway: the caller stops it)."""
    inst = launch(t, scenario, extra)
    return inst, check(inst, scenario)


def not_ready(proc: Proc, timeout: float) -> str:
    """Why a process gave no first answer: it exited (with its last words), or it took too long."""
    if proc.alive():
        return f"no 2xx within {timeout:.0f} s (log: {proc.log_path})"
    last = proc.log_text().strip().splitlines()[-1:] or [""]
    return f"exited with status {proc.popen.returncode}: {last[0][:200]} (log: {proc.log_path})"


@contextlib.contextmanager
def running(
    res: Results, names: list[str], scenario: Scenario | None = None
) -> Iterator[list[Instance]]:
    """The targets that started and answered right; a failure is recorded for every other one."""
    live: list[Instance] = []
    try:
        launched = []
        for name in names:  # all at once: their start-ups overlap
            try:
                launched.append(launch(res.targets[name], scenario))
            except RuntimeError as exc:  # a service the target needs did not start
                res.failures.append(f"{name}: {exc}")
        live += launched
        for inst in launched:
            if problems := check(inst, scenario):
                inst.proc.stop()
                live.remove(inst)
                res.failures.append(f"{inst.name}: " + "; ".join(problems))
        yield live
    finally:
        for inst in live:
            inst.proc.stop()
