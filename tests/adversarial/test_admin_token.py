"""1. The admin token works on granian and uvicorn (bound to 0.0.0.0), and is never shown.

The settings granian's worker was given once masked the secret, so the worker's token was the
literal ``**********``: that string opened the control API and the real token was refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.adversarial.conftest import ADMIN_HEADER as HEADER
from tests.adversarial.conftest import ADMIN_TOKEN as TOKEN
from tests.adversarial.conftest import Served


def test_the_real_token_opens_the_control_api(exposed: Served) -> None:
    response = exposed.http.get("/_emulator/channels", headers={HEADER: TOKEN})
    assert response.status_code == 200, response.text
    assert response.json() == {"channels": ["demo-channel"]}


@pytest.mark.parametrize("presented", ["**********", "", "AdminTok-XYZ-998", TOKEN.lower()])
def test_anything_else_is_refused(exposed: Served, presented: str) -> None:
    for method, path in (("GET", "/_emulator/channels"), ("POST", "/_emulator/reset")):
        response = exposed.http.request(method, path, headers={HEADER: presented})
        assert response.status_code == 401, (method, path, response.text)
        assert TOKEN not in response.text


def test_no_token_is_refused(exposed: Served) -> None:
    response = exposed.http.post("/_emulator/channels/demo-channel/rotate", json={})
    assert response.status_code == 401
    assert (
        response.json()["detail"]
        == "control endpoints need the admin token in 'x-vivi-admin-token'"
    )


def _tree(pid: int) -> list[int]:
    """The process and its descendants (granian's workers are children of its main process)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def test_the_token_is_on_no_command_line_and_in_no_log(exposed: Served) -> None:
    exposed.http.get("/_emulator/channels", headers={HEADER: TOKEN}).raise_for_status()
    pids = _tree(exposed.running.process.pid)
    assert len(pids) >= 1
    for pid in pids:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        assert TOKEN.encode() not in argv, pid
    assert TOKEN not in exposed.log()
