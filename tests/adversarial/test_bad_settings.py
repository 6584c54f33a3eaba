"""4-6, 8. A bad setting stops ``serve`` with a plain line or two, exit status 2, never a traceback.

Each was a traceback (a pydantic ValidationError, a RecursionError) or a process reading
``/dev/zero`` until it was killed. The line names the setting, where it came from (the file and
line, the environment variable, the flag) and what is allowed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.server import CLI, free_port

CASES: dict[str, tuple[list[str], dict[str, str], str]] = {
    # name: (arguments, environment, what the message must say)
    "latency in the file": (
        ["--config", "{dir}/settings.yaml"],
        {},
        "latency.first_event ({dir}/settings.yaml:3): Input should be greater than or equal to 0",
    ),
    "nested 5,000 levels": (
        ["--config", "{dir}/deep.yaml"],
        {},
        "{dir}/deep.yaml:1 is not valid YAML: exceeded maximum nesting depth",
    ),
    "settings file /dev/zero": (
        ["--config", "/dev/zero"],
        {},
        "cannot read config file /dev/zero: not a regular file (a device)",
    ),
    "latency profile /dev/zero": (
        [],
        {"VIVI_EMULATOR_LATENCY": "/dev/zero"},
        "latency (VIVI_EMULATOR_LATENCY): cannot read latency profile /dev/zero",
    ),
    "infinite time scale": (
        [],
        {"VIVI_EMULATOR_TIME_SCALE": "inf"},
        "time_scale (VIVI_EMULATOR_TIME_SCALE): Input should be a finite number",
    ),
    "gateway timeout 1e400": (
        [],
        {"VIVI_EMULATOR_WIRE": "{preset: gateway-timeout, timeout_seconds: 1e400}"},
        "wire.timeout_seconds (VIVI_EMULATOR_WIRE)",
    ),
    "time scale flag": (["--time-scale", "1e9"], {}, "time_scale (--time-scale)"),
    # 8. One key on two channels made 403 against 200 ambiguous.
    "two channels, one key": (
        [],
        {"VIVI_EMULATOR_CHANNELS": "a=K-1,b=K-1"},
        "channels (VIVI_EMULATOR_CHANNELS): channels 'a', 'b' share one key",
    ),
    "a name granian cannot bind": (["--host", "localhost"], {}, "granian listens on an IP"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_bad_setting_is_a_plain_message_and_exit_2(tmp_path: Path, case: str) -> None:
    (tmp_path / "settings.yaml").write_text("port: 8001\nlatency:\n  first_event: -1000\n")
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    arguments, environ, expected = CASES[case]
    done = subprocess.run(
        [CLI, "serve", "--port", str(free_port()), *(a.format(dir=tmp_path) for a in arguments)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **environ},
    )
    assert done.returncode == 2, done.stderr + done.stdout
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, done.stderr
    assert expected.format(dir=tmp_path) in done.stderr
