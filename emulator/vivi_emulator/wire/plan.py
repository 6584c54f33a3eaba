"""The pure part of the wire: a Script and its options in, the exact timed writes out.

Frames are built (line endings, ``id:``/``retry:`` fields, raw UTF-8, the oversized event),
keep-alive comments fill the silences, a BOM goes first, then the byte stream is cut into
pieces (split) and the pieces grouped into writes (frames due together share one, as in the
docs' framing; ``coalesce`` groups N frames), and a preset reshapes the writes as a proxy would.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from vivi_emulator import sse
from vivi_emulator.caps import capped_seconds
from vivi_emulator.script import Script, ScriptEvent
from vivi_emulator.wire.options import Keepalive, Oversize, Split, WireOptions, oversize_line

BOM = sse.BOM
_EOL = sse.LINE_ENDS
_FILLER = b"lorem ipsum dolor sit amet "


@dataclass(frozen=True, slots=True)
class Wire:
    """Options as a Script carries them: with the run's time scale and seed."""

    options: WireOptions
    time_scale: float = 1.0
    seed: int = 0
    # Exact writes made elsewhere (a recording's reads, `replay: wire`): played as they are.
    writes: tuple[Write, ...] | None = None


def with_wire(
    script: Script, options: WireOptions | None, *, time_scale: float = 1.0, seed: int = 0
) -> Script:
    """``script`` with wire options (None: the docs' framing); for scenarios and chaos alike."""
    wire = Wire(options, time_scale, seed) if options is not None else None
    return replace(script, wire=wire)


# (delay since the previous write, bytes, the events completed by this write, as journaled)
Write = tuple[float, bytes, list[dict[str, str]]]


@dataclass(frozen=True, slots=True)
class Plan:
    writes: list[Write]
    abort: bool  # close the connection instead of ending the chunked body
    linger: float = 0.0  # seconds of silence before that close (idle-cut)


@dataclass(slots=True)
class _Piece:
    at: float  # seconds from the start of the response
    data: bytes
    events: list[dict[str, str]]
    cut_after: bool  # a write ends after this piece


@dataclass(slots=True)
class _Frame:
    at: float
    data: bytes
    events: list[dict[str, str]]


def _event_frames(script: Script, options: WireOptions) -> list[_Frame]:
    eol = _EOL[options.line_ending]
    frames: list[_Frame] = []
    due = 0.0
    numbered = 0
    oversize = options.oversize
    events: list[ScriptEvent | Oversize] = list(script.events)
    if oversize is not None:
        events.insert(min(oversize.after_events, len(events)), oversize)
    for event in events:
        fields: list[bytes] = []
        if options.retry_ms is not None and numbered == 0:
            fields.append(sse.field_line("retry", options.retry_ms))
        numbered += 1
        if options.event_ids:
            fields.append(sse.field_line("id", numbered))
        if isinstance(event, Oversize):
            journal = {"wire": "oversize", "event": event.event, "bytes": str(event.bytes)}
            frames.append(_Frame(due, _oversize_frame(event, fields, options), [journal]))
            continue
        due += event.delay
        if event.raw is not None:
            data = sse.lines(fields, eol) + sse.with_line_ends(event.raw, eol)
        else:
            ascii_only = options.non_ascii == "escaped"
            fields.append(sse.data_line(event.message, event.event, ascii_only=ascii_only))
            data = sse.frame_of(fields, eol)
        frames.append(_Frame(due, data, [event.journaled()]))
    return frames


def _oversize_frame(spec: Oversize, fields: list[bytes], options: WireOptions) -> bytes:
    eol = _EOL[options.line_ending]
    filler_size = spec.bytes - len(oversize_line("", spec.event))
    filler = (_FILLER * (filler_size // len(_FILLER) + 1))[:filler_size].decode("ascii")
    line = oversize_line(filler, spec.event)
    return sse.frame_of([*fields, line], eol)


def _with_keepalives(
    frames: list[_Frame], keepalive: Keepalive, scale: float, eol: bytes
) -> list[_Frame]:
    """A comment each time ``every_ms`` (scaled, like the events' delays) pass without a frame."""
    comment = sse.comment_frame(keepalive.comment, eol)
    every = keepalive.every_ms / 1000.0 * scale
    out: list[_Frame] = []
    last = 0.0
    for frame in frames:
        tick = last + every
        while tick < frame.at - 1e-9:
            out.append(_Frame(tick, comment, []))
            tick += every
        out.append(frame)
        last = frame.at
    return out


def _cuts(data: bytes, split: Split, rng: random.Random) -> list[int]:
    size = len(data)
    if split.random:
        if size < 2:
            return []
        return sorted(rng.sample(range(1, size), rng.randint(1, min(3, size - 1))))
    if split.every is not None:
        return list(range(split.every, size, split.every))
    if split.inside == "utf8":
        return [i + 1 for i, byte in enumerate(data) if byte >= 0xC0 and i + 1 < size]
    if split.inside == "crlf":
        return [m.start() + 1 for m in re.finditer(rb"\r\n", data)]
    offsets = {o if o > 0 else size + o for o in split.offsets}
    return sorted(o for o in offsets if 0 < o < size)


def _pieces(frames: list[_Frame], options: WireOptions, scale: float, seed: str) -> list[_Piece]:
    split = options.split_spec
    per_write = options.coalesce_frames
    rng = random.Random(seed)  # noqa: S311 - cut points, not secrets
    gap = (split.gap_ms / 1000.0 * scale) if split is not None else 0.0
    pieces: list[_Piece] = []
    behind = 0.0  # a frame's pieces start once the previous frame's gaps have passed
    for index, frame in enumerate(frames):
        cuts = _cuts(frame.data, split, rng) if split is not None else []
        bounds = [0, *cuts, len(frame.data)]
        start = max(frame.at, behind)
        behind = start + (len(bounds) - 2) * gap
        for j in range(len(bounds) - 1):
            last = j == len(bounds) - 2
            pieces.append(
                _Piece(
                    start + j * gap,
                    frame.data[bounds[j] : bounds[j + 1]],
                    frame.events if last else [],
                    cut_after=not last,
                )
            )
        nxt = frames[index + 1] if index + 1 < len(frames) else None
        if per_write:
            pieces[-1].cut_after = (index + 1) % per_write == 0
        else:
            # The docs' rule: frames due at the same instant share a write; split frames never do.
            pieces[-1].cut_after = split is not None or nxt is None or nxt.at > frame.at
    return pieces


def _truncated(pieces: list[_Piece], limit: int) -> list[_Piece]:
    kept: list[_Piece] = []
    total = 0
    for piece in pieces:
        if total + len(piece.data) > limit:
            if limit > total:
                kept.append(_Piece(piece.at, piece.data[: limit - total], [], True))
            break
        kept.append(piece)
        total += len(piece.data)
    return kept


def _grouped(pieces: Iterable[_Piece]) -> list[tuple[float, bytes, list[dict[str, str]]]]:
    """Absolute-time writes: runs of pieces up to each cut, sent when the last piece is due."""
    writes: list[tuple[float, bytes, list[dict[str, str]]]] = []
    data: list[bytes] = []
    events: list[dict[str, str]] = []
    for piece in pieces:
        data.append(piece.data)
        events += piece.events
        if piece.cut_after:
            writes.append((piece.at, b"".join(data), events))
            data, events = [], []
    if data:
        writes.append((piece.at, b"".join(data), events))
    return [w for w in writes if w[1]]


def _buffered(
    writes: list[tuple[float, bytes, list[dict[str, str]]]], limit: int | None
) -> list[tuple[float, bytes, list[dict[str, str]]]]:
    """What a buffering proxy passes on: everything at the end, or each time ``limit`` fills."""
    out = []
    held: list[bytes] = []
    events: list[dict[str, str]] = []
    for at, data, done in writes:
        held.append(data)
        events += done
        if limit is not None and sum(map(len, held)) >= limit:
            out.append((at, b"".join(held), events))
            held, events = [], []
    if held:
        out.append((writes[-1][0], b"".join(held), events))
    return out


def plan(script: Script) -> Plan:
    """The writes of ``script`` under its wire options (``script.wire`` must be set)."""
    assert script.wire is not None
    if script.wire.writes is not None:
        return Plan(list(script.wire.writes), script.abort, 0.0)
    return _planned(script, script.wire)


def _planned(script: Script, wire: Wire) -> Plan:
    options, scale = wire.options, wire.time_scale
    eol = _EOL[options.line_ending]
    frames = _event_frames(script, options)
    if options.keepalive is not None:
        frames = _with_keepalives(frames, options.keepalive, scale, eol)
    if options.bom:
        if frames:
            frames[0].data = BOM + frames[0].data
        else:
            frames.append(_Frame(0.0, BOM, []))
    pieces = _pieces(frames, options, scale, f"{wire.seed}\0{script.scenario}")
    abort = script.abort
    if options.preset == "chunked-cut":
        abort = True
        if options.cut_after_bytes is not None:
            pieces = _truncated(pieces, options.cut_after_bytes)
    writes = _grouped(pieces)
    if options.preset == "proxy-buffered" and writes:
        writes = _buffered(writes, options.buffer_bytes)
    linger = 0.0
    if options.preset == "idle-cut":
        limit = options.idle_limit * scale
        last = 0.0
        for index, (at, _, _) in enumerate(writes):
            if at - last >= limit:
                writes, abort, linger = writes[:index], True, capped_seconds(limit)
                break
            last = at
    return Plan(_relative(writes), abort, linger)


def _relative(writes: list[tuple[float, bytes, list[dict[str, str]]]]) -> list[Write]:
    out: list[Write] = []
    last = 0.0
    for at, data, events in writes:
        # Pauses between pieces and keep-alives, scaled, stay within the wait cap (caps.py).
        out.append((capped_seconds(at - last), data, events))
        last = max(last, at)
    return out
