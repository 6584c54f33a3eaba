"""The system under test: one real redis-server and two emulator processes (two workers each),
or one in-memory emulator process; and the faults done to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import redis

import vivi_emulator.store.redis

from tests.redis_server import RedisServer
from tests.server import Running, start

# The configured channel: served after every restart, whatever the first request is.
CONFIGURED = "cfg-a"
CONFIGURED_KEY = "hk-configured-a"
# Small bounds, so that the run meets them: the files quota and the queue.
FILES_QUOTA = 96 * 1024
MAX_QUEUED = 8

LUA = Path(vivi_emulator.store.redis.__file__).parent / "lua"

_PROBE = """\
version: 1
scenarios:
  - name: probe
    default: true
    text: "t={{ turn }} p={{ previous_message }} m={{ message }}"
  - name: slowprobe
    text: "t={{ turn }} p={{ previous_message }} m={{ message }}"
    timing: {first_chunk_ms: 120, chunk_ms: 15}
"""

_CONFIG = """\
channels:
  - {{id: {channel}, key: {key}}}
limits:
  files_quota_bytes: {quota}
  max_queued: {queued}
  file_ttl_seconds: 3600
journal_size: 100000
reload_fixtures: false
seed: {seed}
"""


@dataclass
class Cluster:
    workdir: Path
    backend: str  # redis or memory
    seed: int
    env: dict[str, str] = field(default_factory=dict)  # for the servers (PYTHONPATH, ...)
    redis: RedisServer | None = None
    servers: list[Running] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [s.base_url for s in self.servers]

    def start(self) -> Cluster:
        fixtures = self.workdir / "fixtures"
        fixtures.mkdir(parents=True, exist_ok=True)
        (fixtures / "probe.yaml").write_text(_PROBE, encoding="utf-8")
        config = self.workdir / "emulator.yaml"
        config.write_text(
            _CONFIG.format(
                channel=CONFIGURED,
                key=CONFIGURED_KEY,
                quota=FILES_QUOTA,
                queued=MAX_QUEUED,
                seed=self.seed,
            ),
            encoding="utf-8",
        )
        common = ["--config", str(config), "--fixtures", str(fixtures), "--no-access-log"]
        try:
            if self.backend == "redis":
                self.redis = RedisServer(self.workdir).start()
                state = ["--state", self.redis.url, "--workers", "2"]
                for n in range(2):
                    self.servers.append(self._serve([*common, *state], n))
            else:
                self.servers.append(self._serve(common, 0))
        except BaseException:
            self.stop()  # never leave a server or Redis behind
            raise
        return self

    def _serve(self, args: list[str], n: int) -> Running:
        # On a shared machine the free port found may be taken before the server binds it, and
        # a start may take longer than start()'s 20 s: try again (another port).
        for attempt in range(3):
            try:
                return start(*args, env=self.env, log=self.workdir / f"server-{n}.log")
            except AssertionError as exc:
                retry = "already in use" in str(exc) or "did not start" in str(exc)
                if not retry or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def stop(self) -> list[str]:
        """Stop everything; the servers' logs."""
        logs = [s.stop()[1] for s in self.servers]
        self.servers.clear()
        if self.redis is not None:
            self.redis.stop()
        return logs

    # --- faults ---------------------------------------------------------------------------------

    def kill_redis(self) -> None:
        assert self.redis is not None
        assert self.redis.process is not None
        self.redis.process.kill()
        self.redis.process.wait(timeout=10)

    def restart_redis_empty(self) -> None:
        assert self.redis is not None
        self.redis = RedisServer(self.workdir, self.redis.port).start()

    def script_flush(self, pick: int) -> None:
        """``SCRIPT FLUSH``, then load again the emulator's Lua scripts whose bit is set in
        ``pick``: a script cache partly filled, as another process leaves it after loading only
        the scripts of its own batch (the case a whole-batch NOSCRIPT retry runs twice)."""
        assert self.redis is not None
        scripts = sorted(LUA.glob("*.lua"))
        client = redis.Redis(port=self.redis.port, socket_timeout=5)
        try:
            client.script_flush()
            for n, script in enumerate(scripts):
                if pick >> n & 1:
                    client.script_load(script.read_text(encoding="utf-8"))
        except redis.RedisError:
            pass  # Redis down (a restart under way): nothing to flush
        finally:
            client.close()
