"""4. A user's regex can never freeze the server: regexes run on RE2, in linear time.

``(a+)+$`` against ``"a" * 28 + "b"`` once blocked the event loop for 21 s (40 characters: a
day). What RE2 cannot take (backreferences, lookarounds) is refused when loaded or queued.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.adversarial.conftest import Served
from tests.server import run_cli
from tests.support import AUTH, THREAD, url

# Against a backtracking engine each of these takes longer than the age of the universe.
CATASTROPHIC = ["(a+)+$", "^(a|a)*$", "(a*)*b", "(.*a){20}$"]
HOSTILE = "a" * 5000 + "!"


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_a_catastrophic_regex_answers_and_stalls_nobody(served: Served, pattern: str) -> None:
    queued = served.http.post(
        "/_emulator/queue", json={"text": "matched", "match": {"message": {"regex": pattern}}}
    )
    assert queued.status_code == 201, queued.text
    # Meanwhile, other requests are answered (the loop is never blocked).
    health: list[int] = []

    def probe() -> None:
        with served.http.stream("GET", "/_emulator/health") as response:
            health.append(response.status_code)

    answer = served.http.post(
        url("invoke"), json={"message": HOSTILE, "threadId": THREAD}, headers=AUTH
    )
    prober = threading.Thread(target=probe)
    prober.start()
    prober.join(timeout=60)
    assert health == [200]
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"] != "matched"  # the default echo: no match
    # The reply that never matched waits in the queue, shown with its match.
    queue = served.http.get("/_emulator/queue").json()
    assert queue["queue"] == ["queued-1"]
    assert queue["items"][0]["match"] == {"message": {"regex": pattern}}


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"(a)\1", "backreference"),
        (r"foo(?=bar)", "lookaround"),
        (r"(?<!x)foo", "lookaround"),
        (r"(?P<n>a)(?P=n)", "backreference"),
        (r"[", "missing ]"),
    ],
)
def test_a_regex_re2_cannot_take_is_refused_when_queued(
    served: Served, pattern: str, why: str
) -> None:
    response = served.http.post(
        "/_emulator/queue", json={"text": "x", "match": {"message": {"regex": pattern}}}
    )
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"].startswith("match.message")
    assert "RE2" in error["reason"], error
    assert why in error["reason"], error


def test_a_regex_in_a_header_matcher_is_checked_too(served: Served) -> None:
    response = served.http.post(
        "/_emulator/queue",
        json={"text": "x", "match": {"headers": {"x-test": {"regex": r"(\w)\1"}}}},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].startswith("match.headers")
    assert "backreference" in response.json()["errors"][0]["reason"]


def test_ignore_case_still_works(served: Served) -> None:
    served.http.post(
        "/_emulator/queue",
        json={"text": "yes", "match": {"message": {"regex": "^HÉLLO\\b", "ignore_case": True}}},
    ).raise_for_status()
    answer = served.http.post(
        url("invoke"), json={"message": "héllo there", "threadId": THREAD}, headers=AUTH
    )
    assert answer.json()["message"] == "yes"


def test_a_fixture_regex_re2_cannot_take_is_reported_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "re.yaml").write_text(
        "version: 1\n"
        "scenarios:\n"
        "  - name: back\n"
        "    match:\n"
        "      message: {regex: '(a)\\1'}\n"
        "    text: hi\n",
        encoding="utf-8",
    )
    result = run_cli("fixtures", "check", str(tmp_path))
    assert result.returncode == 1
    said = result.stdout + result.stderr
    assert "re.yaml:5:" in said
    assert "RE2" in said
    assert "backreference" in said
