"""The VIVI surface as a client sees it: one test per decision in docs/decisions.md."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from vivi_emulator.settings import Channel, Limits, Settings

from tests.support import AUTH, OTHER_THREAD, THREAD, chunks_text, sse_events, url

DOCS_START = b'data: {"message": "", "event": "on_chat_model_start"}\n\n'
DOCS_END = b'data: {"message": "", "event": "on_chat_model_end"}\n\n'


async def test_stream_frames_are_byte_for_byte_the_docs_framing(client: httpx.AsyncClient) -> None:
    response = await client.post(
        url("stream"), headers=AUTH, json={"message": "hello", "threadId": THREAD}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert "content-encoding" not in response.headers
    assert response.content.startswith(DOCS_START)
    assert response.content.endswith(DOCS_END)
    events = sse_events(response.content)
    assert [e["event"] for e in events[1:-1]] == ["on_chat_model_stream"] * (len(events) - 2)
    assert len(events) > 4, "the reply comes in several chunks"
    # Key order message, event, and json.dumps's default separators, as in the docs' sample.
    assert b'data: {"message": "Hello", "event": "on_chat_model_stream"}\n\n' in response.content


async def test_stream_is_not_compressed_even_when_asked(client: httpx.AsyncClient) -> None:
    response = await client.post(
        url("stream"),
        headers={**AUTH, "accept-encoding": "gzip"},
        json={"message": "hello", "threadId": THREAD},
    )
    assert "content-encoding" not in response.headers


async def test_invoke_answers_the_streamed_chunks_joined(client: httpx.AsyncClient) -> None:
    body = {"message": "tell me something", "threadId": THREAD}
    streamed = await client.post(url("stream"), headers=AUTH, json=body)
    invoked = await client.post(url("invoke"), headers=AUTH, json=body)
    assert invoked.status_code == 200
    assert invoked.headers["content-type"] == "application/json"
    assert invoked.json() == {
        "message": chunks_text(sse_events(streamed.content)),
        "threadId": THREAD,
    }
    assert invoked.json()["message"] == "You said: tell me something"


async def test_batch_answers_each_item_in_order(client: httpx.AsyncClient) -> None:
    items = [
        {"message": "hello", "threadId": THREAD},
        {"message": "second", "threadId": OTHER_THREAD},
        {"message": "third", "threadId": THREAD},
    ]
    response = await client.post(url("batch"), headers=AUTH, json={"messages": items})
    assert response.status_code == 200
    replies = response.json()["responses"]
    assert [r["threadId"] for r in replies] == [THREAD, OTHER_THREAD, THREAD]
    for item, reply in zip(items, replies, strict=True):
        alone = await client.post(url("invoke"), headers=AUTH, json=item)
        assert reply["message"] == alone.json()["message"]


async def test_batch_items_of_one_thread_open_successive_turns(
    client: httpx.AsyncClient,
) -> None:
    items = [{"message": f"m{i}", "threadId": THREAD} for i in range(3)]
    await client.post(url("batch"), headers=AUTH, json={"messages": items})
    # Each item is journaled with its own turn, and the thread's next message opens turn 4.
    (entry,) = (await client.get("/_emulator/journal")).json()["entries"]
    assert [(i["thread"], i["turn"]) for i in entry["items"]] == [
        (THREAD, 1),
        (THREAD, 2),
        (THREAD, 3),
    ]
    await client.post(
        "/_emulator/queue", json={"text": "turn {{ turn }} after {{ previous_message }}"}
    )
    next_reply = await client.post(url("invoke"), headers=AUTH, json=items[0])
    assert next_reply.json()["message"] == "turn 4 after m2"


async def test_optional_fields_accept_null_a_url_or_a_list(client: httpx.AsyncClient) -> None:
    for extra in (
        {"userId": None, "attachedFiles": None},
        {"userId": OTHER_THREAD, "attachedFiles": "https://files.example/a.pdf"},
        {"attachedFiles": ["https://files.example/a.pdf", "https://files.example/b.png"]},
    ):
        response = await client.post(
            url("invoke"), headers=AUTH, json={"message": "hi", "threadId": THREAD, **extra}
        )
        assert response.status_code == 200, (extra, response.text)


# --- keys and channels (decisions 2 to 5) ---


@pytest.mark.parametrize("operation", ["stream", "invoke", "batch", "files"])
async def test_missing_key_is_401_on_every_operation(
    client: httpx.AsyncClient, operation: str
) -> None:
    response = await client.post(url(operation), json={"message": "hi", "threadId": THREAD})
    assert response.status_code == 401
    assert "vivi-api-key" in response.json()["detail"]


async def test_wrong_key_is_401_and_never_echoed(client: httpx.AsyncClient) -> None:
    response = await client.post(
        url("invoke"),
        headers={"vivi-api-key": "wrong-secret-123"},
        json={"message": "hi", "threadId": THREAD},
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid API key"}
    assert "wrong-secret-123" not in response.text


async def test_unknown_channel_is_404_once_a_key_is_present(client: httpx.AsyncClient) -> None:
    body = {"message": "hi", "threadId": THREAD}
    response = await client.post(url("invoke", "no-such-channel"), headers=AUTH, json=body)
    assert response.status_code == 404
    assert "no-such-channel" in response.json()["detail"]
    without_key = await client.post(url("invoke", "no-such-channel"), json=body)
    assert without_key.status_code == 401


@pytest.mark.parametrize(
    "settings",
    [
        Settings(
            access_log=False,
            channels=(
                Channel(id="alpha", key="alpha-key"),  # type: ignore[arg-type]
                Channel(id="beta", key="beta-key"),  # type: ignore[arg-type]
            ),
        )
    ],
)
async def test_key_of_another_channel_is_403(client: httpx.AsyncClient) -> None:
    body = {"message": "hi", "threadId": THREAD}
    ok = await client.post(url("invoke", "alpha"), headers={"vivi-api-key": "alpha-key"}, json=body)
    assert ok.status_code == 200
    other = await client.post(
        url("invoke", "alpha"), headers={"vivi-api-key": "beta-key"}, json=body
    )
    assert other.status_code == 403
    assert "beta-key" not in other.text


# --- bad bodies (decisions 6 to 8) ---


async def test_malformed_json_is_422_naming_the_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        url("stream"),
        headers={**AUTH, "content-type": "application/json"},
        content=b'{"message": "hi", "threadId": ',
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"
    assert "JSON" in response.json()["errors"][0]["reason"]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"threadId": THREAD}, "message", "is required"),
        ({"message": "", "threadId": THREAD}, "message", "must not be empty"),
        ({"message": 42, "threadId": THREAD}, "message", "must be a string"),
        ({"message": "hi"}, "threadId", "is required"),
        ({"message": "hi", "threadId": "conversationId"}, "threadId", "must be a UUID"),
        ({"message": "hi", "threadId": "0b6f2a706a434d3c9c556f7d4c1d2e10"}, "threadId", "UUID"),
        ({"message": "hi", "threadId": THREAD, "userId": "me"}, "userId", "UUID"),
        (
            {"message": "hi", "threadId": THREAD, "attachedFiles": "not a url"},
            "attachedFiles",
            "URL",
        ),
        ({"message": "hi", "threadId": THREAD, "attachedFiles": [1]}, "attachedFiles", "URL"),
        (["hi"], "body", "JSON object"),
    ],
)
async def test_invalid_fields_are_422_naming_field_and_reason(
    client: httpx.AsyncClient, body: object, field: str, reason: str
) -> None:
    for operation in ("stream", "invoke"):
        response = await client.post(url(operation), headers=AUTH, json=body)
        assert response.status_code == 422, response.text
        errors = response.json()["errors"]
        assert any(e["field"] == field and reason in e["reason"] for e in errors), errors
        assert field in response.json()["detail"]


async def test_batch_item_errors_name_the_item(client: httpx.AsyncClient) -> None:
    body = {"messages": [{"message": "ok", "threadId": THREAD}, {"message": "no thread"}]}
    response = await client.post(url("batch"), headers=AUTH, json=body)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "messages.1.threadId", "reason": "is required"}]


@pytest.mark.parametrize("count", [0, 21])
async def test_batch_size_is_1_to_20(client: httpx.AsyncClient, count: int) -> None:
    items = [{"message": "hi", "threadId": THREAD}] * count
    response = await client.post(url("batch"), headers=AUTH, json={"messages": items})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "messages"


async def test_empty_body_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        url("invoke"), headers={**AUTH, "content-type": "application/json"}, content=b""
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "body", "reason": "is required"}]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_wrong_content_type_is_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = dict(AUTH)
    if content_type:
        headers["content-type"] = content_type
    body = json.dumps({"message": "hi", "threadId": THREAD}).encode()
    response = await client.post(url("invoke"), headers=headers, content=body)
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


async def test_json_with_charset_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        url("invoke"),
        headers={**AUTH, "content-type": "application/json; charset=utf-8"},
        content=json.dumps({"message": "hi", "threadId": THREAD}).encode(),
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "settings", [Settings(access_log=False, limits=Limits(max_body_bytes=200))]
)
async def test_oversize_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        url("stream"), headers=AUTH, json={"message": "x" * 300, "threadId": THREAD}
    )
    assert response.status_code == 413
    assert "200" in response.json()["detail"]


@pytest.mark.parametrize(
    "settings", [Settings(access_log=False, limits=Limits(max_body_bytes=200))]
)
async def test_oversize_body_without_content_length_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"message": "'
        yield b"x" * 300
        yield b'", "threadId": "' + THREAD.encode() + b'"}'

    response = await client.post(
        url("invoke"), headers={**AUTH, "content-type": "application/json"}, content=chunks()
    )
    assert response.status_code == 413


# --- routing ---


async def test_unknown_path_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.post(url("nothing-here"), headers=AUTH, json={})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "Not Found"}


async def test_wrong_method_is_a_json_405(client: httpx.AsyncClient) -> None:
    response = await client.get(url("stream"), headers=AUTH)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "detail" in response.json()
