"""A small VIVI client, standing in for *your* integration code under test.

Written with ``requests``, as the VIVI docs' own sample is; the emulator is a real server, so
any HTTP client works the same.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import requests

TIMEOUT = 30  # seconds to connect, and between two reads of the stream


def stream_events(
    message: str,
    *,
    base_url: str,
    channel_id: str,
    api_key: str,
    thread_id: str | None = None,
) -> Iterator[dict[str, Any]]:
    """The agent's events for a message, each as it arrives; raise on HTTP errors."""
    body = {"message": message, "threadId": thread_id or str(uuid.uuid4())}
    with requests.post(
        f"{base_url}/channelsApi/{channel_id}/stream",
        headers={"vivi-api-key": api_key},
        json=body,
        stream=True,
        timeout=TIMEOUT,
    ) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith(b"data: "):
                yield json.loads(line.removeprefix(b"data: "))


def ask(message: str, **where: Any) -> str:
    """The agent's reply, joined; raise if the stream breaks off before its end."""
    chunks = []
    for event in stream_events(message, **where):
        if event["event"] == "on_chat_model_stream":
            chunks.append(event["message"])
        elif event["event"] == "on_chat_model_end":
            return "".join(chunks)
    raise RuntimeError("the reply ended without on_chat_model_end")
