"""Testing an integration with the vivi_emulator fixture (README, "Testing your integration")."""

from __future__ import annotations

import re

import pytest
import requests
from vivi_client import ask

from vivi_emulator.pytest_plugin import ViviEmulator


@pytest.fixture
def where(vivi_emulator: ViviEmulator) -> dict[str, str]:
    """What your code needs to reach VIVI: a channel and key of this test's own."""
    return {
        "base_url": vivi_emulator.base_url,
        "channel_id": vivi_emulator.channel_id,
        "api_key": vivi_emulator.api_key,
    }


def test_reply_is_joined(vivi_emulator: ViviEmulator, where: dict[str, str]) -> None:
    vivi_emulator.queue_reply("Your order has shipped.")
    assert ask("where is my order?", **where) == "Your order has shipped."
    (request,) = vivi_emulator.assert_called("stream", times=1, message="where is my order?")
    assert request["headers"]["vivi-api-key"] == "[redacted]"


def test_conversation_keeps_its_thread(vivi_emulator: ViviEmulator, where: dict[str, str]) -> None:
    vivi_emulator.queue_reply("Which order?")
    vivi_emulator.queue_reply("Order 42 ships tomorrow.")
    thread = "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"
    ask("where is my order?", thread_id=thread, **where)
    assert ask("number 42", thread_id=thread, **where) == "Order 42 ships tomorrow."
    vivi_emulator.assert_called("stream", times=2, thread=thread)
    vivi_emulator.assert_called(message=re.compile(r"\b42\b"))


def test_rate_limit_is_raised(vivi_emulator: ViviEmulator, where: dict[str, str]) -> None:
    vivi_emulator.force("rate-limited")
    with pytest.raises(requests.HTTPError) as raised:
        ask("hi", **where)
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["retry-after"] == "2"


def test_dropped_stream_is_an_error(vivi_emulator: ViviEmulator, where: dict[str, str]) -> None:
    vivi_emulator.force("disconnect")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        ask("hi", **where)


@pytest.mark.vivi_emulator(strict=True)
def test_tool_call(vivi_emulator: ViviEmulator, where: dict[str, str]) -> None:
    # strict: a request that nothing scripted answers fails the test, naming the request.
    vivi_emulator.queue_reply(
        events=[{"event": "on_tool_start", "message": "lookup"}, {"text": "Done."}]
    )
    assert ask("do it", **where) == "Done."
