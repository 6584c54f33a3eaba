"""Reading a request's body: the size limit at its exact edge, and the key checked before a
body error (in process, on both stores where the state matters)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from vivi_emulator.channels_api.body import (
    media_type,
    parse_json,
    read_all,
    require_media_type,
)
from vivi_emulator.channels_api.models import BatchRequest, MessageRequest
from vivi_emulator.errors import (
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from vivi_emulator.service import Emulator
from vivi_emulator.settings import Limits, Settings

from tests.support import AUTH, THREAD, serving, url

LIMIT = 200


def _body_of(size: int) -> bytes:
    """A valid message whose JSON is exactly ``size`` bytes."""
    bare = json.dumps({"message": "", "threadId": THREAD}).encode()
    return json.dumps({"message": "x" * (size - len(bare)), "threadId": THREAD}).encode()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        access_log=False, reload_fixtures=False, limits=Limits(max_body_bytes=LIMIT)
    )
    async with serving(settings) as client:
        yield client


async def test_a_body_of_exactly_the_limit_is_read_and_one_more_byte_is_a_413(
    client: httpx.AsyncClient,
) -> None:
    headers = {**AUTH, "content-type": "application/json"}
    at_limit = await client.post(url("invoke"), headers=headers, content=_body_of(LIMIT))
    assert at_limit.status_code == 200, at_limit.text
    over = await client.post(url("invoke"), headers=headers, content=_body_of(LIMIT + 1))
    assert over.status_code == 413
    assert f"the limit is {LIMIT}" in over.json()["detail"]


async def test_a_streamed_body_of_exactly_the_limit_is_read(client: httpx.AsyncClient) -> None:
    """No content-length (chunked): the limit is checked piece by piece, at the same edge."""

    async def pieces(body: bytes) -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64):
            yield body[start : start + 64]

    headers = {**AUTH, "content-type": "application/json"}
    at_limit = await client.post(url("invoke"), headers=headers, content=pieces(_body_of(LIMIT)))
    assert at_limit.status_code == 200, at_limit.text
    over = await client.post(url("invoke"), headers=headers, content=pieces(_body_of(LIMIT + 1)))
    assert over.status_code == 413


async def test_a_key_rotated_by_another_process_is_refused_before_a_body_error(
    redis_url: str,
) -> None:
    """Two processes on one Redis: the first still holds the old key in its copy of the keys;
    a request with the old key and an invalid body is refused for its key (401), not for its
    body (422)."""
    settings = Settings(access_log=False, reload_fixtures=False, state=redis_url)
    other = Emulator(settings)
    await other.start()
    async with serving(settings) as client:
        warm = await client.post(
            url("invoke"), headers=AUTH, json={"message": "hi", "threadId": THREAD}
        )
        assert warm.status_code == 200  # this process has the key in its copy now
        await other.rotate_key("demo-channel", "the-new-key")
        await other.close()
        bad = await client.post(
            url("invoke"), headers=AUTH, json={"message": 5, "threadId": THREAD}
        )
    assert bad.status_code == 401, bad.text


_T = THREAD
_WORDS = [
    (b'{"message": "hi"',
     [("body", "is not valid JSON (EOF while parsing an object at line 1 column 16)")]),
    (b"{}", [("message", "is required"), ("threadId", "is required")]),
    (json.dumps({"message": "", "threadId": _T}).encode(), [("message", "must not be empty")]),
    (json.dumps({"message": 5, "threadId": _T}).encode(), [("message", "must be a string")]),
    (json.dumps({"message": "a", "threadId": "x"}).encode(),
     [("threadId", "must be a UUID (like 0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10)")]),
    (json.dumps({"message": "a", "threadId": _T, "userId": "x"}).encode(),
     [("userId", "must be a UUID or null")]),
    (json.dumps({"message": "a", "threadId": _T, "attachedFiles": ["nope"]}).encode(),
     [("attachedFiles", "must be a URL, a list of URLs, or null"),
      ("attachedFiles.0", "must be a URL")]),
    (json.dumps({"message": "a", "threadId": _T, "attachedFiles": 5}).encode(),
     [("attachedFiles", "must be a URL, a list of URLs, or null")]),
    (b"[1]", [("body", "must be a JSON object")]),
]  # fmt: skip
_BATCH_WORDS = [
    (
        json.dumps(
            {"messages": [{"message": "a", "threadId": _T, "attachedFiles": ["x"]}]}
        ).encode(),
        [
            ("messages.0.attachedFiles", "must be a URL, a list of URLs, or null"),
            ("messages.0.attachedFiles.0", "must be a URL"),
        ],
    ),
    (b'{"messages": []}', [("messages", "must not be empty")]),
    (b'{"messages": "x"}', [("messages", "must be a list")]),
    (b'{"messages": [5]}', [("messages.0", "must be a JSON object")]),
]


@pytest.mark.parametrize(("raw", "said"), _WORDS)
def test_each_invalid_field_is_named_with_a_plain_reason(
    raw: bytes, said: list[tuple[str, str]]
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_json(MessageRequest, raw)
    assert [(e.field, e.reason) for e in caught.value.errors] == said
    summary = "; ".join(f"{field} {reason}" for field, reason in said)
    assert caught.value.detail == f"invalid request: {summary}"


@pytest.mark.parametrize(("raw", "said"), _BATCH_WORDS)
def test_a_batchs_fields_are_named_by_their_place(raw: bytes, said: list[tuple[str, str]]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_json(BatchRequest, raw)
    assert [(e.field, e.reason) for e in caught.value.errors] == said


def test_an_empty_body_is_required() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_json(MessageRequest, b"  \n")
    assert caught.value.detail == "request body is empty"
    assert [(e.field, e.reason) for e in caught.value.errors] == [("body", "is required")]


async def _pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
    for at in range(0, len(body), size):
        yield body[at : at + size]


async def test_a_body_in_pieces_is_read_to_exactly_its_limit() -> None:
    """The running size starts at 0 and adds every piece."""
    body = b"x" * LIMIT
    assert await read_all(_pieces(body, 64), LIMIT) == body
    with pytest.raises(PayloadTooLarge):
        await read_all(_pieces(body + b"x", 64), LIMIT)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/json", "application/json"),
        (" Application/JSON ; charset=utf-8; q=1", "application/json"),
        ("", ""),
    ],
)
def test_the_media_type_is_the_content_types_first_part_lower_case(
    header: str, expected: str
) -> None:
    assert media_type({"content-type": header}) == expected


@pytest.mark.parametrize(
    ("headers", "shown"),
    [({}, "none"), ({"content-type": "text/plain; charset=utf-8"}, "text/plain")],
)
def test_a_wrong_media_type_is_a_415_showing_what_came(headers: dict[str, str], shown: str) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        require_media_type(headers, "application/json")
    assert caught.value.detail == f"Content-Type must be application/json, got {shown}"
