"""3. Scenario headers are checked when a scenario is loaded or queued; no exception reaches
the server.

A queued reply or fixture whose headers held CR/LF, an empty name, a non-Latin-1 value, or a
framing header (``content-length``, ``transfer-encoding``) once made every message a 500 with a
traceback, or corrupted the stream.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.adversarial.conftest import Served
from tests.server import run_cli
from tests.support import AUTH, THREAD, url

BAD_HEADERS = {
    "crlf in value": {"X-Bad": "a\r\nSet-Cookie: x=1"},
    "lf in value": {"X-Bad": "a\nb"},
    "crlf in name": {"X-Bad\r\nX-Evil": "1"},
    "empty name": {"": "1"},
    "space in name": {"X Bad": "1"},
    "colon in name": {"X:Bad": "1"},
    "non-latin-1 value": {"X-Name": "Zoë 中文"},
    "nul in value": {"X-Bad": "a\x00b"},
    "content-length": {"Content-Length": "5"},
    "transfer-encoding": {"Transfer-Encoding": "chunked"},
    "connection": {"Connection": "close"},
}


def _message() -> dict[str, str]:
    return {"message": "hi", "threadId": THREAD}


@pytest.mark.parametrize("headers", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
@pytest.mark.parametrize("where", ["headers", "status.headers", "turns.0.headers"])
def test_a_bad_header_is_refused_when_queued(
    served: Served, headers: dict[str, str], where: str
) -> None:
    reply: dict[str, object]
    if where == "headers":
        reply = {"text": "hello", "headers": headers}
    elif where == "status.headers":
        reply = {"status": {"code": 429, "headers": headers}}
    else:
        reply = {"turns": [{"text": "hello", "headers": headers}]}
    response = served.http.post("/_emulator/queue", json=reply)
    assert response.status_code == 422, response.text
    fields = [e["field"] for e in response.json()["errors"]]
    assert any(f.startswith(where) for f in fields), fields
    assert served.http.get("/_emulator/queue").json()["queue"] == []
    for operation in ("invoke", "stream"):
        answer = served.http.post(url(operation), json=_message(), headers=AUTH)
        assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Trace": "abc-123"},
        {"Retry-After": "2", "x-latin": "café"},
        {"Content-Type": "text/plain"},
    ],
)
def test_good_headers_are_sent(served: Served, headers: dict[str, str]) -> None:
    response = served.http.post("/_emulator/queue", json={"text": "ok", "headers": headers})
    assert response.status_code == 201, response.text
    answer = served.http.post(url("invoke"), json=_message(), headers=AUTH)
    assert answer.status_code == 200
    for name, value in headers.items():
        assert answer.headers[name] == value


def test_a_bad_header_in_a_fixture_file_is_reported_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "version: 1\n"
        "scenarios:\n"
        "  - name: crlf\n"
        "    text: hi\n"
        "    headers:\n"
        '      X-Bad: "a\\r\\nb"\n'
        "  - name: framing\n"
        "    status:\n"
        "      code: 503\n"
        "      headers: {Content-Length: '0'}\n"
        "  - name: wide\n"
        "    text: hi\n"
        "    headers: {X-Name: 中文}\n",
        encoding="utf-8",
    )
    result = run_cli("fixtures", "check", str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    said = result.stdout + result.stderr
    assert "bad.yaml:6:" in said
    assert "CR" in said
    assert "bad.yaml:10:" in said
    assert "content-length" in said.lower()
    assert "bad.yaml:13:" in said
    assert "Latin-1" in said
    assert "Traceback" not in said
