"""The fixture format: what a scenario file may say, as pydantic models.

The JSON Schema shipped beside the fixtures (``fixtures/scenarios.schema.json``) is generated from
these models (``vivi-emulator fixtures schema``), so the format is written down once; a test keeps
the shipped file in step.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from vivi_emulator.caps import MAX_WAIT_MS, Count, PositiveWaitMs, WaitMs
from vivi_emulator.scenarios.latency import LatencyProfile, ProfileName, resolve
from vivi_emulator.scenarios.regex import Pattern, RegexError, compiled
from vivi_emulator.sse import encode_data
from vivi_emulator.wire.options import WireOptions


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextMatch(_Strict):
    """How a text is matched: exactly, by substring, or by regular expression."""

    equals: str | None = None
    contains: str | None = None
    regex: str | None = None
    ignore_case: bool = False
    # The regex compiled once, when the matcher is made (with its scenario); None without one.
    _pattern: Pattern | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_way(self) -> TextMatch:
        given = [k for k in ("equals", "contains", "regex") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of equals, contains, regex")
        if self.regex is not None:
            try:
                self._pattern = compiled(self.regex, self.ignore_case)
            except RegexError as exc:
                raise ValueError(str(exc)) from None
        return self

    @property
    def pattern(self) -> Pattern:
        """The compiled regex (only for a matcher with ``regex``)."""
        # Read from pydantic's store of private attributes directly: its __getattr__ for them
        # costs more than the match (measured).
        pattern: Pattern | None = (self.__pydantic_private__ or {}).get("_pattern")
        assert pattern is not None, "not a regex matcher"
        return pattern


TextMatcher = Annotated[
    str | TextMatch,
    Field(description="A plain string matches exactly; or an object: equals, contains or regex."),
]


# An HTTP header name (RFC 9110's token) and the headers a scenario may not set: the server
# frames the response with them, and a scripted one would corrupt the stream or empty the reply.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
FRAMING_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer"}
)


def _header_problem(name: str, value: str) -> str | None:
    if not _TOKEN.fullmatch(name):
        return f"header name {name!r} is not an HTTP header name (letters, digits, -_.!#$%&'*+^`|~)"
    if name.lower() in FRAMING_HEADERS:
        return f"header '{name}' frames the response: the server sets it, a scenario may not"
    if any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in value):
        return (
            f"header '{name}': the value holds a control character (such as CR or LF), "
            "which would split the response"
        )
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return f"header '{name}': the value must be Latin-1 text (HTTP headers are bytes)"
    return None


def _valid_headers(headers: dict[str, str]) -> dict[str, str]:
    problems = [p for n, v in headers.items() if (p := _header_problem(n, v)) is not None]
    if problems:
        raise ValueError("; ".join(problems))
    return headers


ResponseHeaders = Annotated[
    dict[str, str],
    AfterValidator(_valid_headers),
    Field(
        default_factory=dict,
        description="Response headers: HTTP names, Latin-1 values without control characters; "
        "not the framing ones (content-length, transfer-encoding, connection, ...).",
    ),
]


# One token per wait cap at the slowest: any slower would wait past the cap between tokens.
MIN_TOKENS_PER_SECOND = 1000 / MAX_WAIT_MS


class TurnRange(_Strict):
    min: int = Field(default=1, ge=1)
    max: int | None = Field(default=None, ge=1)


class Match(_Strict):
    """Every given condition must hold; an empty match matches every request."""

    message: TextMatcher | None = None
    channel: str | None = None
    turn: Annotated[int, Field(ge=1)] | TurnRange | None = None
    files: bool | None = Field(default=None, description="Whether files are attached.")
    headers: dict[str, TextMatcher] = Field(default_factory=dict)


class Chunking(_Strict):
    """How a reply text is cut into stream chunks: by LLM-like tokens (default: one per chunk),
    by words, or by characters."""

    tokens: int | None = Field(default=None, ge=1, description="Tokens per chunk (default 1).")
    words: int | None = Field(default=None, ge=1)
    chars: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_way(self) -> Chunking:
        if sum(v is not None for v in (self.tokens, self.words, self.chars)) > 1:
            raise ValueError("give one of tokens, words, chars")
        return self


class Timing(_Strict):
    """When events leave, in milliseconds; jitter adds a seeded random 0..jitter_ms. Any key
    given here replaces the latency profile for this reply."""

    first_event_ms: WaitMs = Field(default=0, description="Before the first event.")
    first_chunk_ms: WaitMs | None = Field(
        default=None, description="Before the first event after the start (default chunk_ms)."
    )
    chunk_ms: WaitMs | None = Field(default=None, description="Between later events.")
    tokens_per_second: float | None = Field(
        default=None,
        ge=MIN_TOKENS_PER_SECOND,
        le=1e9,
        allow_inf_nan=False,
        description="Instead of chunk_ms: 1000 / tokens_per_second ms per token of a chunk.",
    )
    jitter_ms: WaitMs = 0

    @model_validator(mode="after")
    def _one_rate(self) -> Timing:
        if self.chunk_ms is not None and self.tokens_per_second is not None:
            raise ValueError("give chunk_ms or tokens_per_second, not both")
        return self


class EventSpec(_Strict):
    """One explicit event (any LangChain event name), or a text to stream as chunks."""

    event: Annotated[str, Field(pattern=r"^on_[a-z_]+$")] | None = None
    message: str = ""
    text: str | None = Field(default=None, description="Streamed as on_chat_model_stream chunks.")

    @model_validator(mode="after")
    def _one_kind(self) -> EventSpec:
        if (self.event is None) == (self.text is None):
            raise ValueError("give either event (with message) or text")
        return self


class Stall(_Strict):
    after_events: Count
    ms: PositiveWaitMs


class Malformed(_Strict):
    after_events: int = Field(ge=0)
    frame: str = Field(default="data: {this is not json\n\n")


class ErrorEvent(_Strict):
    after_events: int = Field(ge=0)
    event: Annotated[str, Field(pattern=r"^on_[a-z_]+$")] = "on_chain_error"
    message: str = "the agent failed"


class Fault(_Strict):
    """Stream faults. On /invoke and /batch, a fault that breaks the stream is a 500."""

    close_after_events: int | None = Field(default=None, ge=0)
    stall: Stall | None = None
    malformed: Malformed | None = None
    error_event: ErrorEvent | None = None
    omit_end: bool = False


class Status(_Strict):
    """A non-200 answer, the same on every endpoint."""

    code: int = Field(ge=400, le=599)
    headers: ResponseHeaders
    body: dict[str, Any] | None = None


class Frame(_Strict):
    """One SSE frame of a recorded stream, replayed byte for byte at its recorded time."""

    after_ms: WaitMs = Field(
        default=0, description="After the previous frame (the first: after the request)."
    )
    data: str | None = Field(
        default=None, description="Written as `data: <data>` and a blank line."
    )
    raw: str | None = Field(
        default=None, description="Written verbatim (a frame of another shape)."
    )

    @model_validator(mode="after")
    def _one_way(self) -> Frame:
        if (self.data is None) == (self.raw is None):
            raise ValueError("give either data or raw")
        return self

    @property
    def encoded(self) -> bytes:
        """The frame's bytes on the wire."""
        if self.raw is not None:
            return self.raw.encode("utf-8")
        return encode_data(self.data or "")


class Chunk(_Strict):
    """One read of a recorded stream, as the recorder got it from the socket: the next ``size``
    bytes of the frames (joined, in order), ``after_ms`` after the previous read."""

    after_ms: float = Field(
        default=0, ge=0, description="After the previous chunk (the first: after the request)."
    )
    size: int = Field(ge=1, description="Bytes of the frames, in order, this chunk carries.")


class Recorded(_Strict):
    """What `vivi-emulator record` saw; replay ignores it, `contract --compare` checks it."""

    operation: str = Field(
        description="The contract's operation: `POST /channelsApi/{channelId}/stream`."
    )
    status: int = Field(ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict, description="Without credentials.")
    body: str | None = Field(default=None, description="A non-stream answer's body, as received.")
    elapsed_ms: float = Field(default=0, ge=0, description="From the request to the answer's end.")
    complete: bool = Field(default=True, description="False when the upstream cut the answer.")
    at: str | None = None
    upstream: str | None = None


class Reply(_Strict):
    """What a scenario answers: a text, explicit events, recorded frames, or a status."""

    text: str | None = None
    events: list[EventSpec] | None = None
    frames: list[Frame] | None = Field(
        default=None,
        description="Recorded SSE frames, replayed as they are (timing and chunking do not apply).",
    )
    status: Status | None = None
    replay: Literal["events", "wire"] = Field(
        default="events",
        description="With frames: `events` sends each frame at its time; `wire` sends the "
        "recorded `chunks`, each a write of its own, at their times (byte-exact replay).",
    )
    chunks: list[Chunk] | None = Field(
        default=None,
        description="With frames: the stream's reads as recorded (`replay: wire` plays them).",
    )
    chunking: Chunking = Chunking()
    timing: Timing = Timing()
    fault: Fault = Fault()
    headers: ResponseHeaders
    wire: WireOptions | None = Field(
        default=None,
        description="How the stream's bytes are written, or the intermediary it passes "
        "(docs/wire.md). On a scenario with turns: for the turns without their own.",
    )
    latency: LatencyProfile | ProfileName | None = Field(
        default=None,
        description="none, realistic, or a profile: how this reply is paced (unless `timing` "
        "says). Default: the channel's or the run's profile.",
    )

    structured: dict[str, Any] | None = Field(
        default=None,
        description='The JSON object a structured-output channel answers (README, "Structured '
        "output\"); checked against the channel's schema. Without text, events, frames or "
        "status, other channels answer it as JSON text.",
    )

    @model_validator(mode="before")
    @classmethod
    def _structured_as_text(cls, data: Any) -> Any:
        # A reply that is only a structured value answers it as JSON text elsewhere.
        if (
            isinstance(data, dict)
            and isinstance(data.get("structured"), dict)
            and not any(data.get(k) is not None for k in (*_KINDS, "turns"))
        ):
            return {**data, "text": json.dumps(data["structured"])}
        return data

    @field_validator("latency", mode="before")
    @classmethod
    def _named_profile(cls, value: ProfileName | LatencyProfile | None) -> object:
        return resolve(value, files=False)

    @model_validator(mode="after")
    def _one_kind(self) -> Reply:
        _require_one_kind(self)
        _check_chunks(self)
        return self


_KINDS = ("text", "events", "frames", "status")


def _check_chunks(reply: Reply) -> None:
    """``chunks`` cut the frames' bytes exactly; ``replay: wire`` plays them, and nothing else
    may reshape those writes."""
    if reply.chunks is not None:
        if reply.frames is None:
            raise ValueError("chunks belong to recorded frames")
        total = sum(len(frame.encoded) for frame in reply.frames)
        if sum(chunk.size for chunk in reply.chunks) != total:
            raise ValueError(f"chunks must add up to the frames' {total} bytes")
    if reply.replay == "wire":
        if reply.chunks is None:
            raise ValueError("replay: wire needs the recorded chunks")
        if reply.wire is not None:
            raise ValueError("replay: wire plays the recorded writes; give no wire options")
        if reply.fault.model_fields_set - {"close_after_events"}:
            raise ValueError("replay: wire allows one fault: close_after_events (a cut stream)")


def _require_one_kind(reply: Reply) -> None:
    given = [k for k in _KINDS if getattr(reply, k) is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of text, events, frames, status")


class Scenario(Reply):
    """A named answer. Without `match` it is chosen only by name (the x-vivi-scenario header)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    description: str = ""
    match: Match | None = None
    default: bool = Field(default=False, description="Answer when no other scenario matches.")
    turns: list[Reply] | None = Field(
        default=None,
        description="A conversation: item n answers the thread's n-th message since it entered "
        "the scenario, whatever the message says; after the last, the usual choice resumes.",
    )
    sticky: bool = Field(
        default=True,
        description="With turns: false answers item n to the thread's turn n (the last "
        "repeats), and each message is chosen anew.",
    )
    loop: bool = Field(default=False, description="With turns: after the last, start again.")
    recorded: Recorded | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Scenario:
        _check_chunks(self)
        # With `turns`, the scenario answers from them, and needs no text, events or status.
        if self.turns is not None:
            if not self.turns:
                raise ValueError("turns must not be empty")
            if any(getattr(self, k) is not None for k in _KINDS):
                raise ValueError("give turns, or one of text, events, frames, status; not both")
            return self
        if "sticky" in self.model_fields_set or self.loop:
            raise ValueError("sticky and loop are for a scenario with turns")
        _require_one_kind(self)
        return self

    def step(self, index: int) -> Reply:
        """The reply of the conversation's ``index``-th message (1-based)."""
        assert self.turns
        count = len(self.turns)
        if self.loop:
            return self.turns[(index - 1) % count]
        return self.turns[min(index, count) - 1]


class FixtureFile(_Strict):
    """One YAML fixture file."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="vivi-emulator scenarios")

    version: Literal[1] = 1
    scenarios: list[Scenario]


def scenario_schema_json() -> str:
    """The JSON Schema of a fixture file, as shipped in fixtures/scenarios.schema.json."""
    schema = FixtureFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
