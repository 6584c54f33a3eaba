"""The shortest tests of an integration (README, "Testing your integration"): a requests client,
the fixture's URL, channel and key, nothing else."""

import time
import uuid

import requests


def test_my_integration(vivi_emulator):
    vivi_emulator.queue_reply("Your order has shipped.")

    response = requests.post(
        f"{vivi_emulator.base_url}/channelsApi/{vivi_emulator.channel_id}/invoke",
        headers={"vivi-api-key": vivi_emulator.api_key},
        json={"message": "where is my order?", "threadId": str(uuid.uuid4())},
        timeout=10,
    )

    assert response.json()["message"] == "Your order has shipped."
    vivi_emulator.assert_called("invoke", times=1, message="where is my order?")


def test_first_token_arrives_after_about_a_second(vivi_emulator):
    vivi_emulator.force("slow")

    started = time.monotonic()
    with requests.post(
        f"{vivi_emulator.base_url}/channelsApi/{vivi_emulator.channel_id}/stream",
        headers={"vivi-api-key": vivi_emulator.api_key},
        json={"message": "hello", "threadId": str(uuid.uuid4())},
        stream=True,
        timeout=10,
    ) as response:
        arrivals = [(time.monotonic() - started, line) for line in response.iter_lines() if line]

    first_token = next(t for t, line in arrivals if b"on_chat_model_stream" in line)
    end = arrivals[-1][0]
    assert first_token >= 0.9  # about a second to the first token...
    assert end - first_token >= 0.5  # ...then the rest streams in, not all at once
