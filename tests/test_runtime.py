"""What a channel's requests get at run time: latency and chaos, run time over configured,
channel over global; over the control API, on both state stores."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from vivi_emulator.settings import ConfigError, Settings, load_settings

from tests.support import AUTH, THREAD, serving, url

C = "/_emulator"


@pytest.fixture
async def client(state: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(
        environ={},
        overrides={"access_log": False, "reload_fixtures": False, "state": state},
    )
    settings = Settings.model_validate(
        {
            **settings.model_dump(),
            "channels": [
                {"id": "demo-channel", "key": "demo-key"},
                {"id": "paced", "key": "paced-key", "latency": "realistic"},
            ],
        }
    )
    async with serving(settings) as client:
        yield client


async def test_latency_run_time_over_configured_channel_over_global(
    client: httpx.AsyncClient,
) -> None:
    state = (await client.get(f"{C}/latency")).json()
    assert (state["profile"]["name"], state["source"]) == ("none", "settings")
    paced = (await client.get(f"{C}/latency", params={"channel": "paced"})).json()
    assert paced["profile"]["name"] == "realistic"
    assert paced["description"].startswith("realistic: first token lognormal p50 700 ms")

    put = await client.put(f"{C}/latency", json={"profile": {"first_token": 40, "token_gap": 5}})
    assert (put.json()["source"], put.json()["description"]) == (
        "run time",
        "custom: first token 40 ms; between tokens 5 ms",
    )
    # The global run-time setting wins over a channel's configured one.
    paced = (await client.get(f"{C}/latency", params={"channel": "paced"})).json()
    assert paced["profile"]["name"] == "custom"
    await client.put(f"{C}/latency", params={"channel": "paced"}, json={"profile": "none"})
    assert (await client.get(f"{C}/latency", params={"channel": "paced"})).json()["profile"][
        "name"
    ] == "none"

    await client.delete(f"{C}/latency")
    await client.post(f"{C}/reset", params={"channel": "paced"})
    assert (await client.get(f"{C}/latency")).json()["source"] == "settings"
    assert (await client.get(f"{C}/latency", params={"channel": "paced"})).json()["profile"][
        "name"
    ] == "realistic"


async def test_a_run_time_profile_paces_the_replies(client: httpx.AsyncClient) -> None:
    await client.put(f"{C}/latency", json={"profile": {"first_token": 0, "token_gap": 30}})
    body = {"message": "hi", "threadId": THREAD}
    await client.post(url("invoke"), headers=AUTH, json=body)
    (entry,) = (await client.get(f"{C}/journal")).json()["entries"]
    # 16 events after the first token (15 chunks and the end), each after a 30 ms gap: /invoke
    # waits as long as the stream would take.
    assert entry["duration_ms"] >= 16 * 30


async def test_latency_by_name_only_never_a_path(client: httpx.AsyncClient) -> None:
    response = await client.put(f"{C}/latency", json={"profile": "/etc/passwd"})
    assert response.status_code == 422


def test_latency_from_a_file_the_environment_and_the_command_line(tmp_path: Path) -> None:
    profile = tmp_path / "agent.yaml"
    profile.write_text("first_token: {distribution: uniform, min_ms: 100, max_ms: 200}\n")
    config = tmp_path / "emulator.yaml"
    config.write_text(f"latency: {profile}\n")
    from_file = load_settings(config, environ={})
    assert from_file.latency.name == "agent.yaml"
    from_env = load_settings(config, environ={"VIVI_EMULATOR_LATENCY": "realistic"})
    assert from_env.latency.name == "realistic"
    from_flag = load_settings(config, environ={}, overrides={"latency": "none"})
    assert from_flag.latency.name == "none"
    # serve's own default (realistic) is under the file's.
    assert load_settings(config, environ={}, defaults={"latency": "realistic"}).latency.name == (
        "agent.yaml"
    )
    assert load_settings(environ={}, defaults={"latency": "realistic"}).latency.name == "realistic"
    assert load_settings(environ={}).latency.name == "none"  # the default off the CLI
    with pytest.raises(ConfigError, match="latency"):
        load_settings(environ={"VIVI_EMULATOR_LATENCY": str(tmp_path / "missing.yaml")})


def test_chaos_from_the_environment() -> None:
    settings = load_settings(environ={"VIVI_EMULATOR_CHAOS": "{preset: flaky, seed: 3}"})
    assert settings.chaos is not None
    assert settings.chaos.seed == 3
    with pytest.raises(ConfigError, match="VIVI_EMULATOR_CHAOS"):
        load_settings(environ={"VIVI_EMULATOR_CHAOS": "{preset: ["})
