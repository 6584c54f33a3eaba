"""What a live contract run may do: one frozen object, read by the runner and the command.

Light on purpose: the command line imports it (for the phases in its help) without importing
schemathesis, which loads only when a run starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PHASES = ("examples", "coverage", "fuzzing", "stateful")


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """A live run's channel, key and bounds.

    ``rate_limit`` (``"5/s"``) spaces the requests; ``max_stream_events``, ``max_stream_bytes``
    and ``request_timeout`` (seconds, reading a stream included) bound every response, so an
    endless stream cannot hang the run (a stream past a bound is a finding); ``max_time``
    (seconds) bounds the whole run; ``operations`` and
    ``exclude_operations`` take operation ids; ``max_upload_bytes`` cuts every generated file.
    """

    channel_id: str
    api_key: str = field(repr=False)  # never in a repr, a log line or a traceback
    max_examples: int = 20
    seed: int | None = None
    phases: tuple[str, ...] = PHASES
    rate_limit: str | None = None
    max_stream_events: int = 1000
    max_stream_bytes: int = 16 * 1024 * 1024
    request_timeout: float = 30.0
    operations: tuple[str, ...] = ()
    exclude_operations: tuple[str, ...] = ()
    max_upload_bytes: int | None = None
    max_time: int | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.phases) - set(PHASES))
        if unknown:
            raise ValueError(f"unknown phase(s) {', '.join(unknown)}; known: {', '.join(PHASES)}")
