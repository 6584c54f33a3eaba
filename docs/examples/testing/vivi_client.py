"""A small VIVI client, standing in for *your* integration code under test."""

from __future__ import annotations

import json
import uuid

import httpx


def ask(
    message: str,
    *,
    base_url: str,
    channel_id: str,
    api_key: str,
    thread_id: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> str:
    """Stream the agent's reply and return it joined; raise on HTTP errors."""
    body = {"message": message, "threadId": thread_id or str(uuid.uuid4())}
    headers = {"vivi-api-key": api_key}
    with httpx.Client(base_url=base_url, transport=transport, timeout=30) as http:
        url = f"/channelsApi/{channel_id}/stream"
        with http.stream("POST", url, headers=headers, json=body) as response:
            response.raise_for_status()
            chunks = []
            for line in response.iter_lines():
                if line.startswith("data: "):
                    event = json.loads(line.removeprefix("data: "))
                    if event["event"] == "on_chat_model_stream":
                        chunks.append(event["message"])
            return "".join(chunks)
