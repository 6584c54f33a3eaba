"""A Testcontainers module for the emulator (``pip install 'vivi-emulator[testcontainers]'``).

``ViviEmulatorContainer`` starts the emulator's image, waits until ``/_emulator/health``
answers, and gives a test what it needs: the base URL, a channel id and its key, the admin token,
and the control calls (queue a reply, read the journal, reset). As Testcontainers' own modules
do: options are ``with_*`` methods returning the container, and it is a context manager::

    with ViviEmulatorContainer().with_fixtures("tests/fixtures").with_latency("none") as vivi:
        httpx.post(vivi.stream_url, headers={"vivi-api-key": vivi.api_key}, json=...)
        assert vivi.journal()[0]["status"] == 200

In a container the emulator listens on every address, so its control API needs the admin token:
the module makes one (or takes yours) and sends it on each control call. Configuration goes in
through the environment and copied files, never the command line. Fixtures and a settings file
are copied into the container before it starts (a bind mount would need the container's user to
read the host's folder). docs/testcontainers.md shows it with Docker and podman.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

import httpx
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import HttpWaitStrategy

DEFAULT_IMAGE = "vivi-emulator:latest"
PORT = 8000
ADMIN_HEADER = "x-vivi-admin-token"
FIXTURES_DIR = "/vivi/fixtures"
SETTINGS_DIR = "/vivi"


class ViviEmulatorContainer(DockerContainer):
    """The VIVI channelsApi emulator in a container (image ``vivi-emulator``, port 8000)."""

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        *,
        channel_id: str = "demo-channel",
        api_key: str = "demo-key",
        admin_token: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(image, **kwargs)
        self.channel_id = channel_id
        self.api_key = api_key
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        self.with_exposed_ports(PORT)
        self.with_env("VIVI_EMULATOR_CHANNELS", f"{channel_id}={api_key}")
        self.with_env("VIVI_EMULATOR_ADMIN_TOKEN", self.admin_token)
        # Tests want answers at once unless they ask for pacing (with_latency).
        self.with_env("VIVI_EMULATOR_LATENCY", "none")
        self.waiting_for(HttpWaitStrategy(PORT, "/_emulator/health").for_status_code(200))

    # --- options ---------------------------------------------------------------------------------

    def with_fixtures(self, folder: str | Path) -> Self:
        """A folder of scenario files (its ``*.yaml``), copied in with everything under it (a
        scenario may name a file beside it)."""
        root = Path(folder)
        if not root.is_dir():
            raise ValueError(f"no fixtures folder at {root}")
        for path in sorted(root.rglob("*")):
            if path.is_file():
                target = f"{FIXTURES_DIR}/{path.relative_to(root).as_posix()}"
                self.with_copy_into_container(path.read_bytes(), target)
        return self.with_env("VIVI_EMULATOR_FIXTURES", FIXTURES_DIR)

    def with_settings(self, file: str | Path) -> Self:
        """A YAML or TOML settings file, copied in (the channel given here still wins)."""
        path = Path(file)
        target = f"{SETTINGS_DIR}/settings{path.suffix}"
        self.with_copy_into_container(path.read_bytes(), target)
        return self.with_env("VIVI_EMULATOR_CONFIG", target)

    def with_latency(self, profile: str) -> Self:
        """A latency profile by name (``none``, ``realistic``) or a file's path in the image."""
        return self.with_env("VIVI_EMULATOR_LATENCY", profile)

    def with_chaos(self, chaos: Mapping[str, Any]) -> Self:
        """Faults at a rate, as the settings' ``chaos`` (``{"preset": "flaky"}``, ...)."""
        return self.with_env("VIVI_EMULATOR_CHAOS", json.dumps(dict(chaos)))

    def with_redis(self, url: str) -> Self:
        """Keep the state in Redis (shared with other emulators on the same Redis)."""
        return self.with_env("VIVI_EMULATOR_STATE", url)

    # --- where it is -----------------------------------------------------------------------------

    def get_base_url(self) -> str:
        host = self.get_container_host_ip()
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.get_exposed_port(PORT)}"

    @property
    def base_url(self) -> str:
        return self.get_base_url()

    @property
    def stream_url(self) -> str:
        return self.api_url("stream")

    def api_url(self, operation: str, channel_id: str | None = None) -> str:
        channel = quote(channel_id or self.channel_id, safe="")
        return f"{self.get_base_url()}/channelsApi/{channel}/{operation}"

    # --- control calls ---------------------------------------------------------------------------

    def _control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method,
            f"{self.get_base_url()}/_emulator{path}",
            headers={ADMIN_HEADER: self.admin_token},
            timeout=30,
            **kwargs,
        )
        if not response.is_success:
            raise RuntimeError(
                f"vivi-emulator: {method} /_emulator{path} answered {response.status_code}: "
                f"{response.text[:500]}"
            )
        return response.json()

    @staticmethod
    def _channel(channel: str | None) -> dict[str, str]:
        return {"channel": channel} if channel is not None else {}

    def queue_reply(self, reply: Mapping[str, Any], channel: str | None = None) -> str:
        """Queue a one-shot answer (a fixture scenario, e.g. ``{"text": "Hi"}``); its name."""
        done = self._control("POST", "/queue", json=dict(reply), params=self._channel(channel))
        return str(done["name"])

    def journal(self, channel: str | None = None, thread: str | None = None) -> list[Any]:
        """The requests the emulator was sent, oldest first (the control API's entries)."""
        params = self._channel(channel) | ({"thread": thread} if thread is not None else {})
        return list(self._control("GET", "/journal", params=params)["entries"])

    def reset(self, channel: str | None = None) -> None:
        """Forget threads, files, journal, queue (of one channel, or all)."""
        self._control("POST", "/reset", params=self._channel(channel))
