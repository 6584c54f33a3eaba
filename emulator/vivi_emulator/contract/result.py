"""The result of a contract check, live (``contract``) or from recordings (``--compare``).

Plain data: the runners fill it, the reports read it. Texts arrive with the API key removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from vivi_emulator.contract.document import Source


@dataclass(frozen=True)
class Finding:
    """One way the target disagrees with the contract."""

    operation: str
    check: str
    title: str
    message: str
    phase: str
    # Which part of the contract the disagreement touches, and how that part is marked:
    # `inferred` if any part on the way is our guess, `documented` if all are documented.
    source: Source = "unmarked"
    part: str = ""
    trail: tuple[tuple[str, str], ...] = ()
    status_code: int | None = None
    # schemathesis' stable failure code (ST108, ...), and a command that repeats the request
    # (or, for a recording, where it was recorded).
    code: str = ""
    reproduce: str = ""
    occurrences: int = 1

    @property
    def key(self) -> tuple[str, str, str, str, int | None]:
        """What makes two findings the same disagreement."""
        return (self.operation, self.check, self.title, self.part, self.status_code)


@dataclass
class Conformance:
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    operations: set[str] = field(default_factory=set)
    # Not failures, but worth reading: streams cut short by the limits, a run stopped by time.
    warnings: list[str] = field(default_factory=list)
    # (operation, check) -> [passed, failed], for JUnit.
    checks: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    requests: int = 0
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.findings and not self.errors

    def by_source(self, source: Source) -> list[Finding]:
        return [f for f in self.findings if f.source == source]

    def add(self, finding: Finding) -> None:
        """Note ``finding``; the same disagreement seen again (by another example, in another
        recorded answer) only counts once more."""
        for index, previous in enumerate(self.findings):
            if previous.key == finding.key:
                self.findings[index] = replace(previous, occurrences=previous.occurrences + 1)
                return
        self.findings.append(finding)

    def tally(self, operation: str, check: str, *, failed: bool) -> None:
        counts = self.checks.setdefault((operation, check), [0, 0])
        counts[1 if failed else 0] += 1
