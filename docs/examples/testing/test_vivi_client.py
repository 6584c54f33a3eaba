"""Testing an integration with the vivi_emulator fixture (README, "Testing your integration")."""

from __future__ import annotations

import httpx
import pytest
from vivi_client import ask

from vivi_emulator.pytest_plugin import ViviEmulator


def test_reply_is_joined(vivi_emulator: ViviEmulator) -> None:
    # Script the next answer, call your code in-process (no port), assert what it sent.
    vivi_emulator.queue_reply("Your order has shipped.")
    reply = ask(
        "where is my order?",
        base_url=vivi_emulator.base_url,
        channel_id=vivi_emulator.channel_id,
        api_key=vivi_emulator.api_key,
        transport=vivi_emulator.sync_transport,
    )
    assert reply == "Your order has shipped."
    (request,) = vivi_emulator.journal(path="stream")
    assert request["body"]["message"] == "where is my order?"
    assert request["headers"]["vivi-api-key"] == "[redacted]"


def test_rate_limit_is_raised(vivi_emulator: ViviEmulator) -> None:
    vivi_emulator.force("rate-limited")
    with pytest.raises(httpx.HTTPStatusError) as raised:
        ask(
            "hi",
            base_url=vivi_emulator.base_url,
            channel_id=vivi_emulator.channel_id,
            api_key=vivi_emulator.api_key,
            transport=vivi_emulator.sync_transport,
        )
    assert raised.value.response.status_code == 429


@pytest.mark.vivi_emulator(socket=True, strict=True)
def test_over_a_real_socket(vivi_emulator: ViviEmulator) -> None:
    # For code that only takes a URL: the same fixture on a loopback port.
    vivi_emulator.queue_reply(
        events=[{"event": "on_tool_start", "message": "lookup"}, {"text": "Done."}]
    )
    reply = ask(
        "do it",
        base_url=vivi_emulator.base_url,
        channel_id=vivi_emulator.channel_id,
        api_key=vivi_emulator.api_key,
    )
    assert reply == "Done."
