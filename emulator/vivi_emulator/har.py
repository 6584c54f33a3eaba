"""The journal as a HAR 1.2 log (``GET /_emulator/journal.har``, ``vivi-emulator journal --har``).

One HAR entry per request to the VIVI surface. What a HAR reader expects and how the journal
gives it:

- A stream's response content is the exact text of the events sent, so a HAR viewer shows the
  SSE body as the client read it: the journaled events in VIVI's framing (the bytes
  ``sse.frame`` wrote), or, for a stream with wire options, the text the journal kept of its
  writes (``JournalEntry.text``). ``wait`` is
  the time to the first event's bytes, ``receive`` the rest of the stream.
- An answer that is not a stream: the journal keeps its error's detail, not its body, so an
  error's content is ``{"detail": ...}`` (said in the content's comment) and a 200's content is
  empty (said too). ``wait`` is the whole time, ``receive`` 0.
- Keys are redacted as in the journal (the same entries); a cut body or stream says so in its
  comment and in ``_truncated``. What the emulator knows beyond HAR (thread, scenario, how it was
  chosen, fault, client left) is in ``_vivi``, HAR's place for custom fields.
- The journal keeps no response headers: the content type is given, nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from vivi_emulator import __version__
from vivi_emulator.errors import json_bytes
from vivi_emulator.journal import JournalEntry
from vivi_emulator.journaling import frames_text

STREAM_TYPE = "text/event-stream; charset=utf-8"
JSON_TYPE = "application/json"

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def har(entries: Iterable[JournalEntry], base_url: str) -> dict[str, Any]:
    """The HAR 1.2 log of ``entries``; URLs are ``base_url`` + each entry's path."""
    base = base_url.rstrip("/")
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "vivi-emulator", "version": __version__},
            "pages": [],
            "entries": [har_entry(e, base) for e in entries],
            "comment": "The journal of a vivi-emulator: one entry per request to the VIVI surface",
        }
    }


def har_bytes(entries: Iterable[JournalEntry], base_url: str) -> bytes:
    return json_bytes(har(entries, base_url))


def _headers(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs]


def _size(text: str | None) -> int:
    return len(text.encode("utf-8", "surrogatepass")) if text is not None else 0


def _request(entry: JournalEntry, base: str) -> dict[str, Any]:
    headers = dict(entry.headers)
    request: dict[str, Any] = {
        "method": entry.method,
        "url": base + entry.path,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _headers(entry.headers),
        "queryString": [],
        "headersSize": -1,
        "bodySize": -1 if entry.body_truncated else _size(entry.body),
    }
    if entry.body is not None:
        post: dict[str, Any] = {
            "mimeType": headers.get("content-type", JSON_TYPE),
            "text": entry.body,
        }
        if entry.operation == "files":
            # The text is the journal's JSON summary, not the multipart body sent.
            post["mimeType"] = JSON_TYPE
            post["comment"] = "a summary of the uploaded files (the journal keeps no file bytes)"
        elif entry.body_truncated:
            post["comment"] = "truncated: the journal keeps a bounded part of each body"
        request["postData"] = post
    return request


def _content(entry: JournalEntry) -> dict[str, Any]:
    if entry.events is not None:
        text = entry.text if entry.text is not None else frames_text(entry.events)
        content: dict[str, Any] = {"size": _size(text), "mimeType": STREAM_TYPE, "text": text}
        if entry.text_truncated or entry.events_left_out:
            content["comment"] = "truncated: the journal keeps a bounded part of each stream"
        return content
    if entry.error is not None:
        text = json.dumps({"detail": entry.error})
        return {
            "size": _size(text),
            "mimeType": JSON_TYPE,
            "text": text,
            "comment": "the error's detail as the journal keeps it, not the whole body",
        }
    return {
        "size": 0,
        "mimeType": JSON_TYPE,
        "comment": "the journal keeps no body of an answer that is not a stream",
    }


def _timings(entry: JournalEntry) -> dict[str, float]:
    total = max(entry.duration_ms, 0.0)
    wait = total if entry.first_byte_ms is None else min(max(entry.first_byte_ms, 0.0), total)
    return {
        "blocked": -1,
        "dns": -1,
        "connect": -1,
        "ssl": -1,
        "send": 0,
        "wait": round(wait, 3),
        "receive": round(total - wait, 3),
    }


def har_entry(entry: JournalEntry, base: str) -> dict[str, Any]:
    """One request as a HAR entry (see the module's notes)."""
    timings = _timings(entry)
    content = _content(entry)
    single = entry.items[0] if len(entry.items) == 1 else None
    return {
        "startedDateTime": datetime.fromtimestamp(entry.time, UTC).isoformat(
            timespec="milliseconds"
        ),
        "time": round(timings["send"] + timings["wait"] + timings["receive"], 3),
        "request": _request(entry, base),
        "response": {
            "status": entry.status,
            "statusText": _REASONS.get(entry.status, ""),
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _headers([("content-type", content["mimeType"])]),
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1 if entry.text_truncated or entry.events_left_out else content["size"],
        },
        "cache": {},
        "timings": timings,
        "_truncated": entry.body_truncated or entry.text_truncated or entry.events_left_out > 0,
        "_vivi": {
            "id": entry.id,
            "channel": entry.channel,
            "thread": single.thread if single else None,
            "scenario": single.scenario if single else None,
            "chosen_by": str(single.chosen_by) if single and single.chosen_by else None,
            "fault": single.fault if single else None,
            "client_left": entry.client_left,
            "items": len(entry.items),
        },
    }
