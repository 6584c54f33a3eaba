"""9. No scenario can make one reply huge: YAML aliases and rendered replies are bounded.

A 622-byte fixture of nested YAML aliases once loaded fine, then one request rendered a 642 MB
reply (1.3 GB of memory, the loop frozen for 7 s).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.adversarial.conftest import Served
from tests.server import CLI
from tests.support import AUTH, THREAD, url

# Nine levels of nine aliases each: 9**9 (387 million) strings once expanded.
BOMB = """version: 1
scenarios:
  - name: bomb
    status:
      code: 500
      body:
        a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
        b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
        c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
        d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
        f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
        g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
        h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
        i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def _check(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "fixtures", "check", str(folder)], capture_output=True, text=True, timeout=120
    )


def test_an_alias_bomb_is_refused_when_loaded(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(BOMB, encoding="utf-8")
    result = _check(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    said = result.stdout + result.stderr
    assert "bomb.yaml:" in said
    assert "alias" in said
    assert "Traceback" not in said


def test_a_few_aliases_are_fine(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(
        "version: 1\n"
        "scenarios:\n"
        "  - name: one\n"
        "    timing: &t {chunk_ms: 5}\n"
        "    text: hi\n"
        "  - name: two\n"
        "    timing: *t\n"
        "    text: ho\n",
        encoding="utf-8",
    )
    result = _check(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("yaml_reply", "why"),
    [
        ("text: '" + "x" * (2 * 1024 * 1024) + "'", "characters"),
        ("chunking: {chars: 1}\n    text: '" + "x" * 200_000 + "'", "events"),
    ],
    ids=["text too large", "too many chunks"],
)
def test_a_reply_over_the_bounds_is_refused_when_loaded(
    tmp_path: Path, yaml_reply: str, why: str
) -> None:
    (tmp_path / "big.yaml").write_text(
        f"version: 1\nscenarios:\n  - name: big\n    {yaml_reply}\n", encoding="utf-8"
    )
    result = _check(tmp_path)
    assert result.returncode == 1, result.stdout[-500:] + result.stderr[-500:]
    assert "big.yaml:3:" in result.stdout + result.stderr
    assert why in result.stdout + result.stderr


def test_a_template_that_would_render_a_huge_reply_is_a_500_with_why(served: Served) -> None:
    queued = served.http.post("/_emulator/queue", json={"text": "{{ message }}" * 5000})
    assert queued.status_code == 201, queued.text
    message = "x" * 20_000  # 5000 copies: 100 MB
    answer = served.http.post(
        url("invoke"), json={"message": message, "threadId": THREAD}, headers=AUTH
    )
    assert answer.status_code == 500, answer.status_code
    assert "limit" in answer.json()["detail"]
    # The journal says why too, and the server is fine.
    (entry,) = served.http.get("/_emulator/journal").json()["entries"]
    assert entry["status"] == 500
    assert "limit" in entry["error"]
    ok = served.http.post(url("invoke"), json={"message": "hi", "threadId": THREAD}, headers=AUTH)
    assert ok.status_code == 200
