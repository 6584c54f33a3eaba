"""docs/examples/compose: Redis, three replicas and a load balancer, as one emulator.

Containers cannot be pulled here (no public registry), so the compose file is checked as a
file, and its topology is run on this machine for real: a redis-server, three `vivi-emulator
serve` processes configured as the compose file configures its replicas, and nginx with the
doc's own nginx.conf (only addresses and paths rewritten).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from vivi_emulator import sse

from tests.redis_server import RedisServer
from tests.server import Running, free_port, start
from tests.support import THREAD

COMPOSE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "compose"
TOKEN = "compose-admin-token-7f3a"
ADMIN = {"x-vivi-admin-token": TOKEN}


def test_the_compose_file_runs_three_replicas_on_redis_behind_nginx() -> None:
    services = yaml.safe_load((COMPOSE / "compose.yaml").read_text())["services"]
    assert set(services) == {"redis", "vivi", "lb"}
    vivi = services["vivi"]
    assert vivi["deploy"]["replicas"] == 3
    assert vivi["environment"]["VIVI_EMULATOR_STATE"] == "redis://redis:6379/0"
    # The token is required from the environment, never written in the file.
    assert vivi["environment"]["VIVI_EMULATOR_ADMIN_TOKEN"].startswith(
        "${VIVI_EMULATOR_ADMIN_TOKEN:?"
    )
    assert vivi["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["lb"]["depends_on"]["vivi"]["condition"] == "service_healthy"
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in services["lb"]["volumes"]


@dataclass
class Topology:
    base_url: str
    replicas: list[Running]


def _nginx_conf(tmp: Path, port: int, replicas: list[int]) -> Path:
    """The doc's nginx.conf with this machine's addresses and writable paths."""
    text = (COMPOSE / "nginx.conf").read_text()
    servers = "\n".join(f"        server 127.0.0.1:{p};" for p in replicas)
    assert "        server vivi:8000;" in text
    text = text.replace("        server vivi:8000;", servers)
    assert "listen 8000;" in text
    text = text.replace("listen 8000;", f"listen 127.0.0.1:{port};")
    paths = "\n".join(
        f"    {name}_temp_path {tmp}/{name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {", f"http {{\n{paths}\n    access_log off;", 1)
    head = f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\n"
    if os.geteuid() == 0:
        head += "user root;\n"  # its workers must reach the test's temporary folder
    conf = tmp / "nginx.conf"
    conf.write_text(head + text)
    return conf


@pytest.fixture
def topology(fresh_redis: RedisServer, tmp_path: Path) -> Iterator[Topology]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is not installed: run scripts/setup-system as root")
    env = {"VIVI_EMULATOR_STATE": fresh_redis.url, "VIVI_EMULATOR_ADMIN_TOKEN": TOKEN}
    replicas: list[Running] = []
    balancer: subprocess.Popen[bytes] | None = None
    try:
        for _ in range(3):
            replicas.append(start("--host", "0.0.0.0", "--no-reload", env=env))
        port = free_port()
        ports = [int(r.base_url.rsplit(":", 1)[1]) for r in replicas]
        conf = _nginx_conf(tmp_path, port, ports)
        balancer = subprocess.Popen(
            [nginx, "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"],
            stderr=subprocess.DEVNULL,  # its errors go to error.log
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{base}/_emulator/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert balancer.poll() is None, (tmp_path / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not come up"
            time.sleep(0.05)
        yield Topology(base, replicas)
    finally:
        if balancer is not None:
            balancer.terminate()
            balancer.wait(timeout=10)
        for replica in replicas:
            code, log = replica.stop()
            assert code == 0
            assert "Traceback" not in log


def test_replicas_behind_the_balancer_are_one_emulator(topology: Topology) -> None:
    base = topology.base_url
    # The control API is off without the token (the replicas listen on 0.0.0.0).
    assert httpx.get(f"{base}/_emulator/journal").status_code == 401
    rotated = httpx.post(
        f"{base}/_emulator/channels/demo-channel/rotate", headers=ADMIN, json={"key": "k2-abc"}
    )
    assert rotated.status_code == 200
    body = {"message": "hi", "threadId": THREAD}
    for _ in range(6):  # spread over the replicas by the balancer
        old = httpx.post(
            f"{base}/channelsApi/demo-channel/invoke",
            headers={"vivi-api-key": "demo-key"},
            json=body,
        )
        assert old.status_code == 401
    key = {"vivi-api-key": "k2-abc"}
    uploaded = httpx.post(
        f"{base}/channelsApi/demo-channel/files", headers=key, files={"files": ("a.txt", b"abc")}
    )
    file_url = uploaded.json()["urls"][0]
    assert file_url.startswith(base)  # the balancer's address, from the forwarded Host
    for _ in range(6):
        assert httpx.get(file_url).content == b"abc"
    threads = [str(uuid.uuid4()) for _ in range(6)]
    for thread in threads:
        reply = httpx.post(
            f"{base}/channelsApi/demo-channel/invoke",
            headers=key,
            json={"message": "hello", "threadId": thread},
        )
        assert reply.status_code == 200
    journal = httpx.get(f"{base}/_emulator/journal", headers=ADMIN).json()["entries"]
    assert [e["thread"] for e in journal if e["thread"] in threads] == threads


def test_streams_pass_the_balancer_unbuffered(topology: Topology) -> None:
    started = time.monotonic()
    arrivals = []
    with httpx.stream(
        "POST",
        f"{topology.base_url}/channelsApi/demo-channel/stream",
        headers={"vivi-api-key": "demo-key", "x-vivi-scenario": "slow"},
        json={"message": "hi", "threadId": THREAD},
        timeout=30,
    ) as response:
        frames = sse.FrameSplitter()
        for part in response.iter_bytes():
            arrived = time.monotonic() - started
            arrivals += [arrived for _ in frames.feed(part)]
    # `slow`: the first event at once, the first token after about a second, then 50 ms apart.
    assert len(arrivals) > 10
    assert arrivals[-1] - arrivals[0] > 1.0  # had nginx buffered, they would arrive together
