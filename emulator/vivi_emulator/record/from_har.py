"""``vivi-emulator record --from-har FILE``: a HAR captured against the real VIVI (a browser's
network panel, "Save all as HAR") turned into fixtures, as the recording proxy writes them.

Each HAR entry on a message operation becomes an ``Exchange`` for the same ``Recording`` the
proxy fills, so the scenarios, their matches and turns, and what is never written are the
proxy's. What a HAR cannot say is filled in plainly:

- A HAR keeps a stream's body whole, not when each frame came: the first frame is placed at
  the entry's ``wait`` (time to first byte) and the others spread evenly over its ``receive``.
- Keys: every value the HAR's requests sent in a credential header (``vivi-api-key``, ...) is
  removed from everything written, in every form, as the proxy removes the key it forwards.
- Entries that are not POSTs to ``/channelsApi/{channelId}/{stream|invoke|batch}`` are skipped.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vivi_emulator import sse
from vivi_emulator.reading import MAX_HAR_FILE_BYTES, read_bounded
from vivi_emulator.record.recording import Exchange, Recording, TimedFrames
from vivi_emulator.redaction import Redactor, is_credential_header


class HarError(ValueError):
    """The file is not a HAR this command can read; the message says why."""


def _entries(har: Any) -> list[Mapping[str, Any]]:
    log = har.get("log") if isinstance(har, Mapping) else None
    entries = log.get("entries") if isinstance(log, Mapping) else None
    if not isinstance(entries, list):
        raise HarError("not a HAR file: no log.entries list")
    return [e for e in entries if isinstance(e, Mapping)]


def _headers(message: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        (str(h.get("name", "")).lower(), str(h.get("value", "")))
        for h in message.get("headers") or []
        if isinstance(h, Mapping)
    ]


def _secrets(entries: list[Mapping[str, Any]]) -> Iterator[str]:
    for entry in entries:
        for name, value in _headers(entry.get("request") or {}):
            if is_credential_header(name) and value:
                yield value


def _body(content: Mapping[str, Any]) -> bytes:
    text = content.get("text")
    if not isinstance(text, str):
        return b""
    if content.get("encoding") == "base64":
        return base64.b64decode(text)
    return text.encode("utf-8")


def _timed_frames(body: bytes, wait_ms: float, receive_ms: float) -> TimedFrames:
    splitter = sse.FrameSplitter()
    frames = [*splitter.feed(body), *([rest] if (rest := splitter.finish()) else [])]
    timed = TimedFrames(0.0)
    step = receive_ms / (len(frames) - 1) if len(frames) > 1 else 0.0
    for index, frame in enumerate(frames):
        after = wait_ms if index == 0 else step
        timed.frames.append((round(max(after, 0.0), 1), frame))
    return timed


def exchange_of(entry: Mapping[str, Any]) -> Exchange | None:
    """A HAR entry as the proxy would have seen it; None when it is not a POST with a URL."""
    request, response = entry.get("request") or {}, entry.get("response") or {}
    url = request.get("url")
    if request.get("method") != "POST" or not isinstance(url, str):
        return None
    timings = entry.get("timings") or {}
    wait = float(timings.get("wait") or 0.0)
    receive = float(timings.get("receive") or 0.0)
    exchange = Exchange(
        method="POST",
        path=urlsplit(url).path,
        request_body=_body(request.get("postData") or {}),
        started=0.0,
        at=str(entry.get("startedDateTime", "")),
        status=int(response.get("status") or 0),
        headers=_headers(response),
        body=bytearray(_body(response.get("content") or {})),
        elapsed_ms=max(wait + receive, float(entry.get("time") or 0.0)),
    )
    mime = str((response.get("content") or {}).get("mimeType", ""))
    if not exchange.is_stream and mime.startswith("text/event-stream"):
        exchange.headers = [*exchange.headers, ("content-type", mime)]
    if exchange.is_stream:
        exchange.frames = _timed_frames(bytes(exchange.body), wait, receive)
    return exchange


def record_from_har(har_file: Path, out: Path) -> tuple[Path, int]:
    """Write the HAR's message exchanges as fixture files in ``out`` (the recorder's: a long
    session rolls over to a new file); the last file's path and how many scenarios were written
    (HarError when the file is not a HAR)."""
    try:
        har = json.loads(read_bounded(har_file, MAX_HAR_FILE_BYTES).decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise HarError(f"cannot read {har_file} as JSON: {exc}") from None
    entries = _entries(har)
    redact = Redactor(_secrets(entries))
    recording = Recording(out, f"HAR {har_file.name}", redact)
    for entry in entries:
        exchange = exchange_of(entry)
        if exchange is not None and recording.add(exchange) is not None:
            # After each scenario, as the proxy saves: a file that rolls over is complete.
            recording.write()
    if not recording.recorded:
        raise HarError(f"{har_file} holds no POST to a VIVI message operation (stream, invoke)")
    return recording.path, recording.recorded
