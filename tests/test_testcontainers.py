"""The Testcontainers module (vivi_emulator.testcontainers) against a real container runtime.

These need a Docker-compatible engine and the emulator's image: scripts/test-containers
provides both (podman's socket, the image scripts/image-smoke builds) and sets
VIVI_TEST_CONTAINERS=1, under which a missing engine or image fails the run. Without it (the
ordinary suite, on machines with no engine) tests/conftest.py does not collect this module.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import httpx
import pytest

from vivi_emulator.testcontainers import ViviEmulatorContainer

from tests.support import sse_events

IMAGE = os.environ.get("VIVI_TEST_IMAGE", "localhost/vivi-emulator:smoke")

FIXTURE = """\
scenarios:
  - name: containerised
    match: {message: {equals: ping}}
    text: pong from the container
"""
SETTINGS = "journal_size: 77\n"
CHAOS = {"faults": [{"kind": "status", "code": 503, "rate": 1}]}


@pytest.fixture(scope="module")
def vivi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViviEmulatorContainer]:
    folder = tmp_path_factory.mktemp("fixtures")
    (folder / "container.yaml").write_text(FIXTURE)
    settings = tmp_path_factory.mktemp("settings") / "vivi.yaml"
    settings.write_text(SETTINGS)
    container = (
        ViviEmulatorContainer(IMAGE, channel_id="tc-channel", api_key="tc-key-31")
        .with_fixtures(folder)
        .with_settings(settings)
        .with_latency("none")
    )
    with container:
        yield container


def _stream(vivi: ViviEmulatorContainer, message: str) -> tuple[str, bytes]:
    thread = str(uuid.uuid4())
    with httpx.stream(
        "POST",
        vivi.stream_url,
        headers={"vivi-api-key": vivi.api_key},
        json={"message": message, "threadId": thread},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        return thread, response.read()


def test_a_stream_through_the_container_is_in_its_journal(vivi: ViviEmulatorContainer) -> None:
    vivi.reset()
    thread, body = _stream(vivi, "ping")
    chunks = [e["message"] for e in sse_events(body) if e["event"] == "on_chat_model_stream"]
    assert "".join(chunks) == "pong from the container"
    [entry] = vivi.journal(thread=thread)
    assert (entry["channel"], entry["scenario"], entry["status"]) == (
        "tc-channel",
        "containerised",
        200,
    )
    assert entry["headers"]["vivi-api-key"] == "[redacted]"


def test_queue_reset_and_settings(vivi: ViviEmulatorContainer) -> None:
    vivi.reset()
    name = vivi.queue_reply({"text": "queued in a container"})
    thread, body = _stream(vivi, "anything")
    assert "queued in a container" in "".join(e["message"] for e in sse_events(body))
    assert vivi.journal(thread=thread)[0]["scenario"] == name
    vivi.reset()
    assert vivi.journal() == []
    usage = httpx.get(
        f"{vivi.base_url}/_emulator/usage", headers={"x-vivi-admin-token": vivi.admin_token}
    )
    assert usage.json()["bounds"]["journal_size"] == 77
    # In a container the control API needs the token the module made.
    assert httpx.get(f"{vivi.base_url}/_emulator/journal").status_code == 401


def test_chaos_from_the_option() -> None:
    with ViviEmulatorContainer(IMAGE).with_chaos(CHAOS) as chaotic:
        refused = httpx.post(
            chaotic.stream_url,
            headers={"vivi-api-key": chaotic.api_key},
            json={"message": "hi", "threadId": str(uuid.uuid4())},
            timeout=30,
        )
        assert refused.status_code == 503
        assert chaotic.journal()[0]["fault"] == "status 503"
