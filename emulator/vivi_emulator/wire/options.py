"""The wire options a scenario (``wire:``) or the settings may give, as pydantic models.

The fixture format's ``wire`` field and the ``wire`` setting are both ``WireOptions``; docs/wire.md
says what each option puts on the wire and what a correct client does with it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vivi_emulator.caps import (
    MAX_COUNT,
    MAX_WAIT_MS,
    MAX_WIRE_BYTES,
    PositiveWaitMs,
    PositiveWaitSeconds,
    WaitMs,
    WaitSeconds,
    WireBytes,
)
from vivi_emulator.sse import data_line

LineEnding = Literal["lf", "crlf", "cr"]
Preset = Literal["proxy-buffered", "idle-cut", "gateway-timeout", "chunked-cut"]
EventName = Annotated[str, Field(pattern=r"^on_[a-z_]+$")]

# One oversized line stays small enough for a laptop and a journal-less test client.
MAX_OVERSIZE_BYTES = 16 * 1024 * 1024


# A byte offset in a frame (negative: from its end), at most a frame's largest size.
_Offset = Annotated[int, Field(ge=-MAX_WIRE_BYTES, le=MAX_WIRE_BYTES)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Split(_Strict):
    """Each frame written in pieces, each piece a write of its own (one HTTP chunk)."""

    at: tuple[_Offset, ...] | _Offset | None = Field(
        default=None, description="Byte offsets in each frame; negative ones count from its end."
    )
    every: int | None = Field(
        default=None, ge=1, le=MAX_WIRE_BYTES, description="Pieces of this many bytes."
    )
    inside: Literal["utf8", "crlf"] | None = Field(
        default=None,
        description="After the first byte of every multi-byte UTF-8 character (utf8), or "
        "between the \\r and \\n of every CRLF (crlf).",
    )
    random: bool = Field(default=False, description="1 to 3 cut points per frame, seeded.")
    gap_ms: WaitMs = Field(default=0, description="A pause between the pieces of a frame.")

    @model_validator(mode="after")
    def _one_way(self) -> Split:
        given = [k for k in ("at", "every", "inside") if getattr(self, k) is not None]
        if len(given) + self.random != 1:
            raise ValueError("give exactly one of at, every, inside, random")
        if self.at is not None and 0 in self.offsets:
            raise ValueError("at: an offset of 0 cuts nothing")
        return self

    @property
    def offsets(self) -> tuple[int, ...]:
        return (self.at,) if isinstance(self.at, int) else self.at or ()


class Coalesce(_Strict):
    frames: int = Field(default=2, ge=2, le=MAX_COUNT, description="Frames per write.")


class Keepalive(_Strict):
    every_ms: PositiveWaitMs = Field(description="A comment after this long without a frame.")
    comment: str = Field(default="ping", pattern=r"^[^\r\n]*$")


class Oversize(_Strict):
    """One extra event whose ``data:`` line (without its line ending) is exactly ``bytes`` long."""

    bytes: int = Field(ge=1, le=MAX_OVERSIZE_BYTES)
    event: EventName = "on_tool_end"
    after_events: int = Field(default=1, ge=0, le=MAX_COUNT)

    @model_validator(mode="after")
    def _fits(self) -> Oversize:
        smallest = len(oversize_line("", self.event))
        if self.bytes < smallest:
            raise ValueError(f"bytes: an {self.event} data line takes at least {smallest} bytes")
        return self


# Which preset each preset parameter belongs to.
_PRESET_PARAMS: dict[str, str] = {
    "buffer_bytes": "proxy-buffered",
    "idle_seconds": "idle-cut",
    "timeout_seconds": "gateway-timeout",
    "status": "gateway-timeout",
    "cut_after_bytes": "chunked-cut",
}


class WireOptions(_Strict):
    """How a stream's bytes are framed and written, and which intermediary it passes through."""

    line_ending: LineEnding = Field(default="lf", description="lf is the docs' framing.")
    bom: bool = Field(default=False, description="A UTF-8 BOM before the first frame.")
    non_ascii: Literal["escaped", "utf8"] = Field(
        default="escaped", description="escaped (\\uXXXX, the docs' framing) or raw UTF-8 bytes."
    )
    split: Literal["random"] | Split | None = None
    coalesce: bool | Coalesce = Field(
        default=False, description="Several frames per write (true: 2), sent with the last."
    )
    keepalive: Keepalive | None = None
    event_ids: bool = Field(default=False, description="An `id:` line in every event, from 1.")
    retry_ms: int | None = Field(
        default=None, ge=0, le=int(MAX_WAIT_MS), description="A `retry:` line, first event."
    )
    oversize: Oversize | None = None
    preset: Preset | None = None
    buffer_bytes: int | None = Field(
        default=None,
        gt=0,
        le=MAX_WIRE_BYTES,
        description="proxy-buffered: flush when this much is held.",
    )
    idle_seconds: PositiveWaitSeconds | None = Field(
        default=None, description="idle-cut: close after this long without a byte (60)."
    )
    timeout_seconds: WaitSeconds | None = Field(
        default=None, description="gateway-timeout: seconds (524: 100, 504: 60)."
    )
    status: Literal[504, 524] | None = Field(default=None, description="gateway-timeout: 524.")
    cut_after_bytes: WireBytes | None = Field(
        default=None, description="chunked-cut: bytes of body before the cut (all)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> WireOptions:
        for name, preset in _PRESET_PARAMS.items():
            if getattr(self, name) is not None and self.preset != preset:
                raise ValueError(f"{name} belongs to preset {preset}")
        split = self.split_spec
        if split is not None and split.inside == "utf8" and self.non_ascii != "utf8":
            raise ValueError("split inside utf8 needs non_ascii: utf8 (escaped JSON is ASCII)")
        if split is not None and split.inside == "crlf" and self.line_ending != "crlf":
            raise ValueError("split inside crlf needs line_ending: crlf")
        return self

    @property
    def split_spec(self) -> Split | None:
        return Split(random=True) if self.split == "random" else self.split

    @property
    def coalesce_frames(self) -> int:
        if isinstance(self.coalesce, Coalesce):
            return self.coalesce.frames
        return 2 if self.coalesce else 0

    @property
    def gateway_status(self) -> int:
        return self.status or 524

    @property
    def gateway_seconds(self) -> float:
        if self.timeout_seconds is not None:
            return self.timeout_seconds
        return 100.0 if self.gateway_status == 524 else 60.0  # Cloudflare's; an AWS ALB's

    @property
    def idle_limit(self) -> float:
        return self.idle_seconds if self.idle_seconds is not None else 60.0  # an AWS ALB's


def oversize_line(filler: str, event: str) -> bytes:
    """The ``data:`` line of an oversized event (ASCII filler: the same bytes either way)."""
    return data_line(filler, event)
