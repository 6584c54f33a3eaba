"""7. A second emulator on a port in use stops with a clear message and exit status 2.

granian binds with SO_REUSEPORT: a second one once said "Listening" and the kernel shared
connections between the two at random.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.adversarial.conftest import Served
from tests.server import CLI, SERVERS


@pytest.mark.parametrize("second", SERVERS)
def test_a_busy_port_stops_serve(served: Served, second: str) -> None:
    result = subprocess.run(
        [CLI, "serve", "--port", str(served.port), "--server", second, "--no-reload"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"port {served.port} on 127.0.0.1 is already in use" in result.stderr
    assert "Listening" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    # The first one still answers every request alone.
    for _ in range(20):
        assert served.http.get("/_emulator/health").status_code == 200
