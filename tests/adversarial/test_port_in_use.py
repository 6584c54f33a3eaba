"""7. A second emulator on a port in use stops with a clear message and exit status 2.

granian binds with SO_REUSEPORT: a second one once said "Listening" and the kernel shared
connections between the two at random.
"""

from __future__ import annotations

import pytest

from tests.adversarial.conftest import Served
from tests.server import SERVERS, run_cli


@pytest.mark.parametrize("second", SERVERS)
def test_a_busy_port_stops_serve(served: Served, second: str) -> None:
    result = run_cli("serve", "--port", str(served.port), "--server", second, "--no-reload")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"port {served.port} on 127.0.0.1 is already in use" in result.stderr
    assert "Listening" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    # The first one still answers every request alone.
    for _ in range(20):
        assert served.http.get("/_emulator/health").status_code == 200
