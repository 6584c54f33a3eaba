"""``vivi-emulator record`` with secrets in query strings, headers and bodies: none of them in
the recording (issue 21, "also not covered yet").

The upstream here echoes back everything it received (the query string, every header, the
request body), as a leaky deployment or a debugging proxy would: the recording must still hold
no secret, in any form (``redaction.secret_forms``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from vivi_emulator.record.proxy import RecordingProxy
from vivi_emulator.redaction import secret_forms
from vivi_emulator.sse import encode_event

from tests.contract.standin import serve
from tests.support import THREAD

KEY = "rec-key-Q7w3"
SECRETS = {
    "the API key": KEY,
    "a token in the query string": "query-token-Z81k",
    "a bearer token": "bearer-token-P22m",
    "another API key header": "x-api-key-M55t",
    "a cookie": "cookie-value-C09v",
    "a password in the body": "body-password-B44x",
}


async def _echo(scope: Scope, receive: Receive, send: Send) -> None:
    """A deployment that repeats the request back, in an event and in its headers."""
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    seen = {
        "query": scope["query_string"].decode(),
        "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
        "body": body.decode(),
    }
    text = json.dumps(seen)
    if scope["path"].endswith("/invoke"):
        reply = json.dumps({"message": text, "threadId": THREAD}).encode()
        headers = [(b"content-type", b"application/json"), (b"x-echo", text[:200].encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": reply})
        return
    frames = encode_event("", "on_chat_model_start") + encode_event(text, "on_chat_model_stream")
    frames += encode_event("", "on_chat_model_end")
    headers = [(b"content-type", b"text/event-stream")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": frames})


@pytest.fixture
def recording(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with serve(_echo) as upstream:
        proxy = RecordingProxy(upstream, tmp_path, timeout=10)
        with serve(proxy) as base:
            yield base, proxy.recording.path


@pytest.mark.parametrize("operation", ["stream", "invoke"])
def test_no_secret_sent_to_record_is_in_the_recording(
    recording: tuple[str, Path], operation: str
) -> None:
    base, path = recording
    body = {
        "message": f"my key is {KEY} and my password {SECRETS['a password in the body']}",
        "threadId": THREAD,
        "password": SECRETS["a password in the body"],
    }
    response = httpx.post(
        f"{base}/channelsApi/ch/{operation}",
        params={"token": SECRETS["a token in the query string"]},
        json=body,
        headers={
            "vivi-api-key": KEY,
            "authorization": f"Bearer {SECRETS['a bearer token']}",
            "x-api-key": SECRETS["another API key header"],
            "cookie": f"session={SECRETS['a cookie']}",
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert SECRETS["a bearer token"] in response.text  # the upstream did echo them back
    text = path.read_text()
    leaked = [
        what
        for what, secret in SECRETS.items()
        if any(form in text for form in secret_forms(secret))
    ]
    assert leaked == []
