"""The recorder's bounds and secrets: request bodies within the VIVI surface's limits, answers
recorded up to a bound, files rolled over, turns bounded, the file written off the event loop,
and nothing a client sent under a credential's name in any recording."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import anyio
import httpx
import pytest
import yaml
from starlette.types import Receive, Scope, Send

from vivi_emulator.record import recording as recording_module
from vivi_emulator.record.proxy import RecordingProxy
from vivi_emulator.record.recording import Exchange, Recording
from vivi_emulator.record.secrets import client_secrets
from vivi_emulator.redaction import Redactor, secret_forms
from vivi_emulator.scenarios.loader import parse_file
from vivi_emulator.settings import Limits
from vivi_emulator.sse import encode_event

from tests.contract.standin import serve
from tests.support import THREAD

KEY = "bounds-key-3c1d9e"
SECRETS = {
    "bearer": "bearer-t0ken-41f2",
    "cookie": "c00kie-v4lue-77",
    "query_token": "q-t0ken-9a8b7c",
    "query_key": "q-k3y-1a2b3c",
    "password": "b0dy-p4ss-5d6e",
    "nested": "n3sted-4pi-k3y",
}


class Echo:
    """An upstream that answers with everything it was sent, in the stream and in headers."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.calls += 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen = {
            "query": scope["query_string"].decode(),
            "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
            "body": body.decode(),
        }
        headers = [
            (b"content-type", b"text/event-stream"),
            (b"x-echo-auth", dict(scope["headers"]).get(b"authorization", b"")),
        ]
        events = encode_event("", "on_chat_model_start") + encode_event(
            json.dumps(seen), "on_chat_model_stream"
        )
        events += encode_event("", "on_chat_model_end")
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": events})


def test_secrets_in_the_query_headers_and_body_never_reach_the_recording(tmp_path: Path) -> None:
    echo = Echo()
    with serve(echo) as upstream:
        proxy = RecordingProxy(upstream, tmp_path, timeout=10)
        with serve(proxy) as base:
            response = httpx.post(
                f"{base}/channelsApi/ch/stream",
                params={"token": SECRETS["query_token"], "api_key": SECRETS["query_key"]},
                json={
                    "message": "hello",
                    "threadId": THREAD,
                    "password": SECRETS["password"],
                    "meta": {"clientApiKey": SECRETS["nested"]},
                },
                headers={
                    "vivi-api-key": KEY,
                    "authorization": f"Bearer {SECRETS['bearer']}",
                    "cookie": f"theme=dark; sid={SECRETS['cookie']}",
                },
                timeout=10,
            )
    assert response.status_code == 200
    for secret in [KEY, *SECRETS.values()]:
        assert secret in response.text  # the upstream echoed each one back
    text = proxy.recording.path.read_text()
    for secret in [KEY, *SECRETS.values()]:
        for form in secret_forms(secret):
            assert form not in text, secret
    scenarios, problems = parse_file(proxy.recording.path)
    assert problems == []
    assert [s.match.message for s in scenarios if s.match] == ["hello"]


def test_short_values_are_not_learned_but_the_names_still_hide_them() -> None:
    learned = client_secrets(
        [(b"authorization", b"Basic abc"), (b"x-request-id", b"req-123456")],
        b"token=abc&page=2",
        b'{"session": {"id": "s3ss10n-id"}, "message": "hi"}',
    )
    assert learned == {"Basic abc", "s3ss10n-id"}
    assert client_secrets([], b"", b"[" * 100_000) == set()  # too deep for json: no secret


def test_a_body_over_the_limit_is_refused_and_not_forwarded(tmp_path: Path) -> None:
    echo = Echo()
    with serve(echo) as upstream:
        proxy = RecordingProxy(upstream, tmp_path, limits=Limits(max_body_bytes=1024))
        with serve(proxy) as base:
            big = {"message": "x" * 2000, "threadId": THREAD}
            refused = httpx.post(f"{base}/channelsApi/ch/stream", json=big, timeout=10)
            small = {"message": "x" * 500, "threadId": THREAD}
            answered = httpx.post(f"{base}/channelsApi/ch/stream", json=small, timeout=10)
    assert refused.status_code == 413
    assert refused.json() == {"detail": "the request body is over 1024 bytes"}
    assert answered.status_code == 200
    assert echo.calls == 1


def test_an_answer_over_the_bound_is_forwarded_whole_and_not_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recording_module, "MAX_ANSWER_BYTES", 200)
    echo = Echo()
    with serve(echo) as upstream:
        proxy = RecordingProxy(upstream, tmp_path, timeout=10)
        with serve(proxy) as base:
            body = {"message": "m" * 300, "threadId": THREAD}
            response = httpx.post(f"{base}/channelsApi/ch/stream", json=body, timeout=10)
            short = httpx.post(f"{base}/channelsApi/ch/stream", json={"message": "s"}, timeout=10)
    assert response.status_code == 200
    assert "m" * 300 in response.text
    assert short.status_code == 200
    assert not proxy.recording.path.exists()  # the short answer quotes a 200-byte body too


def _exchange(message: str, thread: str = THREAD, body: bytes | None = None) -> Exchange:
    answer = json.dumps({"message": "hi", "threadId": thread}).encode()
    request = body if body is not None else json.dumps({"message": message, "threadId": thread})
    return Exchange(
        method="POST",
        path="/channelsApi/c/invoke",
        request_body=request if isinstance(request, bytes) else request.encode(),
        started=0.0,
        at="2026-01-01T00:00:00+00:00",
        status=200,
        headers=[("content-type", "application/json")],
        body=bytearray(answer),
    )


async def test_files_roll_over_turns_are_bounded_and_writes_leave_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recording_module, "MAX_FILE_SCENARIOS", 2)
    recording = Recording(tmp_path, "https://vivi.test", Redactor(), max_threads=2)
    writers: list[threading.Thread] = []
    write = recording._write

    def noted(path: Path, scenarios: list[dict[str, object]]) -> int:
        writers.append(threading.current_thread())
        return write(path, scenarios)

    monkeypatch.setattr(recording, "_write", noted)
    paths = []
    for index in range(3):
        assert recording.add(_exchange(f"m{index}", thread=f"t{index}")) is not None
        await recording.save()
        paths.append(recording.path)
    assert paths[0] == paths[1] != paths[2]  # the third scenario opened a second file
    assert [len(yaml.safe_load(p.read_text())["scenarios"]) for p in paths[1:]] == [2, 1]
    assert threading.main_thread() not in writers
    assert len(writers) == 3
    assert list(recording.turns) == [("c", "t1"), ("c", "t2")]  # the oldest thread went first
    deep = recording.add(_exchange("", body=b"[" * 100_000))
    assert deep is not None
    assert "match" not in deep  # not a message: chosen only by name


async def test_concurrent_saves_leave_the_newest_file(tmp_path: Path) -> None:
    recording = Recording(tmp_path, "https://vivi.test", Redactor())
    for index in range(5):
        recording.add(_exchange(f"m{index}", thread=f"t{index}"))
    async with anyio.create_task_group() as tasks:
        for _ in range(5):
            tasks.start_soon(recording.save)
    assert len(yaml.safe_load(recording.path.read_text())["scenarios"]) == 5
