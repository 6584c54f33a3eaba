"""StreamWatch: events checked one by one as the bytes come, with the contract's item schema."""

from __future__ import annotations

import pytest

from vivi_emulator.contract.stream import (
    BadEvent,
    Bounds,
    Exceeded,
    ItemSchema,
    ItemSchemas,
    StreamWatch,
    describe,
    parse_item,
)
from vivi_emulator.spec import as_openapi_32, contract

STREAM = "POST /channelsApi/{channelId}/stream"
START = b'data: {"message": "", "event": "on_chat_model_start"}\n\n'
CHUNK = 'data: {"message": "Grüße", "event": "on_chat_model_stream"}\r\n\r\n'.encode()
END = b'data: {"message": "", "event": "on_chat_model_end"}\n\n'


@pytest.fixture(params=["3.1", "3.2"])
def schema(request: pytest.FixtureRequest) -> ItemSchema:
    document = contract() if request.param == "3.1" else as_openapi_32(contract())
    found = ItemSchemas(document).find(STREAM, 200)
    assert found is not None
    assert found.pointer == "#/components/schemas/StreamEventFrame"
    return found


def _watch(schema: ItemSchema, **bounds: float) -> StreamWatch:
    return StreamWatch(schema, Bounds(**bounds), started=0.0)  # type: ignore[arg-type]


def test_a_valid_stream_cut_anywhere_has_no_verdict(schema: ItemSchema) -> None:
    body = b"\xef\xbb\xbf" + START + b": keep-alive\n\n" + CHUNK + END
    for size in (1, 3, 7, len(body)):
        watch = _watch(schema)
        for at in range(0, len(body), size):
            assert watch.feed(body[at : at + size], 0.0) == len(body[at : at + size])
        watch.finish(0.0)
        assert watch.verdict is None
        assert watch.events == 3


def test_the_first_bad_event_is_reported_and_the_bytes_after_it_dropped(
    schema: ItemSchema,
) -> None:
    bad = b'data: {"message": 1, "event": "on_chat_model_stream"}\n\n'
    watch = _watch(schema)
    assert watch.feed(START[:10], 0.0) == 10
    kept = watch.feed(START[10:] + bad + END, 0.0)
    assert kept == len(START) - 10 + len(bad)
    assert watch.verdict == BadEvent(
        1,
        bad,
        "#/components/schemas/StreamEvent/properties/message/type",
        "/data/message",
        '1 is not of type "string"',
    )
    assert watch.feed(END, 0.0) == 0


def test_data_that_is_not_json_breaks_the_content_media_type(schema: ItemSchema) -> None:
    watch = _watch(schema)
    watch.feed(b"data: {this is not json\n\n", 0.0)
    assert isinstance(watch.verdict, BadEvent)
    assert watch.verdict.schema_path == (
        "#/components/schemas/StreamEventFrame/properties/data/contentMediaType"
    )
    title, message = describe(watch.verdict)
    assert title == "SSE event #0 violates the item schema"
    assert "Raw bytes: b'data: {this is not json\\n\\n'" in message


def test_an_event_line_breaks_the_frame_schema(schema: ItemSchema) -> None:
    watch = _watch(schema)
    watch.feed(b"event: update\n" + START, 0.0)
    assert isinstance(watch.verdict, BadEvent)
    assert watch.verdict.schema_path == (
        "#/components/schemas/StreamEventFrame/properties/event/const"
    )


def test_an_unterminated_last_event_is_checked_at_the_end(schema: ItemSchema) -> None:
    watch = _watch(schema)
    watch.feed(START + b'data: {"event": "on_chat_model_end"}', 0.0)
    assert watch.verdict is None
    watch.finish(1.0)
    assert isinstance(watch.verdict, BadEvent)
    assert watch.verdict.index == 1


def test_each_bound_ends_the_stream(schema: ItemSchema) -> None:
    by_bytes = _watch(schema, max_bytes=100)
    assert by_bytes.feed(START + b'data: {"message": "' + b"x" * 200, 2.0) == 100
    assert by_bytes.verdict == Exceeded("bytes", 100, 1, 100, 2.0)

    by_events = _watch(schema, max_events=2)
    by_events.feed(START + START, 0.0)
    assert by_events.verdict is None
    by_events.feed(START, 0.5)
    assert by_events.verdict == Exceeded("events", 2, 2, 3 * len(START), 0.5)

    by_time = _watch(schema, seconds=5.0)
    by_time.feed(START, 4.0)
    assert by_time.verdict is None
    by_time.feed(START, 5.5)
    assert by_time.verdict == Exceeded("seconds", 5.0, 2, 2 * len(START), 5.5)

    silent = _watch(schema, seconds=5.0)
    silent.timed_out(6.0)
    assert describe(silent.verdict)[0] == "SSE stream exceeded its seconds bound"  # type: ignore[arg-type]


def test_parse_item_reads_the_fields_as_the_sse_spec_does() -> None:
    assert parse_item(b": only a comment\n\n") is None
    assert parse_item(b"id: 7\nretry: 10\nevent: x\ndata: a\ndata:b\n\n") == {
        "event": "x",
        "id": "7",
        "retry": 10,
        "data": "a\nb",
    }
    assert parse_item(b"data\n\n") == {"event": "message", "data": ""}


def test_answers_without_a_stream_have_no_item_schema() -> None:
    schemas = ItemSchemas(contract())
    assert schemas.find("POST /channelsApi/{channelId}/invoke", 200) is None
    assert schemas.find(STREAM, 401) is None
    assert schemas.find("GET /nowhere", 200) is None
