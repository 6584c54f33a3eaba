"""13. A queued reply is checked exactly as a fixture file is; one name twice in one folder is
an error, not a silent winner."""

from __future__ import annotations

from pathlib import Path

import pytest

from vivi_emulator.scenarios.loader import FixtureError, load_scenarios

from tests.adversarial.conftest import Served
from tests.server import run_cli


@pytest.mark.parametrize(
    "reply",
    [
        {"text": "hello {{ nope }}"},
        {"events": [{"event": "on_tool_start", "message": "{{nope}}"}]},
        {"turns": [{"text": "fine"}, {"text": "{{ nope }}"}]},
    ],
)
def test_the_queue_refuses_an_unknown_placeholder(served: Served, reply: dict[str, object]) -> None:
    response = served.http.post("/_emulator/queue", json=reply)
    assert response.status_code == 422, response.text
    assert "unknown placeholder {{nope}}" in response.text
    assert served.http.get("/_emulator/queue").json()["queue"] == []


def test_one_name_in_two_files_of_one_folder_is_an_error(tmp_path: Path) -> None:
    for name, text in (("a.yaml", "from a"), ("b.yaml", "from b")):
        (tmp_path / name).write_text(
            f"version: 1\nscenarios:\n  - name: twice\n    text: {text}\n", encoding="utf-8"
        )
    with pytest.raises(FixtureError) as caught:
        load_scenarios([tmp_path])
    said = str(caught.value)
    assert "b.yaml:3:" in said
    assert "'twice'" in said
    assert "a.yaml" in said
    result = run_cli("fixtures", "check", str(tmp_path))
    assert result.returncode == 1
    assert "twice" in result.stdout + result.stderr


def test_one_name_in_two_folders_is_an_override(tmp_path: Path) -> None:
    for folder, text in (("base", "from base"), ("mine", "from mine")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "s.yaml").write_text(
            f"version: 1\nscenarios:\n  - name: twice\n    text: {text}\n", encoding="utf-8"
        )
    loaded = load_scenarios([tmp_path / "base", tmp_path / "mine"])
    scenario = loaded.get("twice")
    assert scenario is not None
    assert scenario.text == "from mine"
