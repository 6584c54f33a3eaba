"""The handle's scripting and verification, through the plugin itself: this suite has it
installed, so these tests use the ``vivi_emulator`` fixture as an integrator's would."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest

from vivi_emulator.pytest_plugin import ViviEmulator

T1 = "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"
T2 = "7d1c2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"


@pytest.fixture
def http(vivi_emulator: ViviEmulator) -> Iterator[httpx.Client]:
    with vivi_emulator.sync_client() as client:
        yield client


def say(http: httpx.Client, vivi: ViviEmulator, message: str, thread: str = T1) -> httpx.Response:
    return http.post(vivi.url("invoke"), json={"message": message, "threadId": thread})


def test_assert_called_counts_and_filters(vivi_emulator: ViviEmulator, http: httpx.Client) -> None:
    say(http, vivi_emulator, "where is my order?")
    say(http, vivi_emulator, "order 42", T2)
    http.post(
        vivi_emulator.url("batch"),
        json={"messages": [{"message": "a", "threadId": T1}, {"message": "b", "threadId": T2}]},
    )
    assert len(vivi_emulator.assert_called()) == 3
    vivi_emulator.assert_called("invoke", times=2)
    vivi_emulator.assert_called("batch", times=1, message="b")  # any of its messages
    vivi_emulator.assert_called(times=2, thread=T2.upper())  # thread ids: any case
    (found,) = vivi_emulator.assert_called(message=re.compile(r"\b42$"))
    assert found["thread"] == T2
    vivi_emulator.assert_not_called("stream")
    vivi_emulator.assert_not_called(message="nobody said this")


def test_a_failed_expectation_lists_what_was_received(
    vivi_emulator: ViviEmulator, http: httpx.Client
) -> None:
    vivi_emulator.queue_reply("Shipped.")
    say(http, vivi_emulator, "where is my order?")
    say(http, vivi_emulator, "hello")
    with pytest.raises(AssertionError) as failed:
        vivi_emulator.assert_called("invoke", times=1, message="where is my parcel?")
    channel = vivi_emulator.channel_id
    assert str(failed.value) == (
        "vivi_emulator.assert_called: expected exactly 1 invoke request with message "
        "'where is my parcel?', got 0.\n"
        f"Received on channel {channel} (2 requests):\n"
        f"  POST /channelsApi/{channel}/invoke message='where is my order?' thread={T1} "
        "-> 200 queued-1 (queue)\n"
        f"  POST /channelsApi/{channel}/invoke message='hello' thread={T1} -> 200 greeting (match)"
    )
    with pytest.raises(
        AssertionError, match=r"expected exactly 0 requests with message 'hello', got 1"
    ):
        vivi_emulator.assert_not_called(message="hello")
    with pytest.raises(AssertionError, match=r"at least 1 stream request.*got 0"):
        vivi_emulator.assert_called("stream")


def test_assert_all_matched_names_what_fell_through(
    vivi_emulator: ViviEmulator, http: httpx.Client
) -> None:
    say(http, vivi_emulator, "hello")  # the greeting fixture matches it
    vivi_emulator.assert_all_matched()
    http.post(
        vivi_emulator.url("batch"),
        json={"messages": [{"message": "hi", "threadId": T1}, {"message": "zzz", "threadId": T2}]},
    )
    assert [e["path"].rsplit("/")[-1] for e in vivi_emulator.unmatched()] == ["batch"]
    with pytest.raises(AssertionError) as failed:
        vivi_emulator.assert_all_matched()
    assert "1 request matched no scenario and got the default answer:\n" in str(failed.value)
    assert "messages=['hi', 'zzz']" in str(failed.value)
    assert "greeting (match), echo (default)" in str(failed.value)


def test_queue_force_and_reset_are_this_channels(
    vivi_emulator: ViviEmulator, http: httpx.Client
) -> None:
    first = vivi_emulator.queue_reply("one")
    vivi_emulator.queue_reply("two", name="second")
    assert vivi_emulator.queued() == [first, "second"]
    with pytest.raises(AssertionError, match=r"2 queued reply\(s\) never consumed: queued-1"):
        vivi_emulator.assert_queue_empty()
    assert say(http, vivi_emulator, "x").json()["message"] == "one"
    assert say(http, vivi_emulator, "x").json()["message"] == "two"
    vivi_emulator.assert_queue_empty()
    vivi_emulator.force("rate-limited")
    assert say(http, vivi_emulator, "x").status_code == 429
    # Another channel (the emulator's default one) is not forced, nor journaled here.
    demo = httpx.post(
        vivi_emulator.url("invoke").replace(vivi_emulator.channel_id, "demo-channel"),
        headers={"vivi-api-key": "demo-key"},
        json={"message": "x", "threadId": T1},
    )
    assert demo.status_code == 200
    assert len(vivi_emulator.journal()) == 3
    vivi_emulator.reset()
    assert vivi_emulator.journal() == []
    assert say(http, vivi_emulator, "x").status_code == 200


def test_a_queued_reply_takes_any_scenario_field_such_as_wire(
    vivi_emulator: ViviEmulator, http: httpx.Client
) -> None:
    # docs/wire.md: the fixture's queue_reply(..., wire={...}) reaches a real socket's bytes.
    vivi_emulator.queue_reply("Hi.", wire={"line_ending": "crlf"})
    with http.stream(
        "POST", vivi_emulator.url("stream"), json={"message": "x", "threadId": T1}
    ) as r:
        raw = b"".join(r.iter_raw())
    assert raw.startswith(b'data: {"message": "", "event": "on_chat_model_start"}\r\n\r\n')


def test_journal_filters_and_hides_the_key(vivi_emulator: ViviEmulator, http: httpx.Client) -> None:
    say(http, vivi_emulator, "a")
    say(http, vivi_emulator, "b", T2)
    http.post(vivi_emulator.url("stream"), json={"message": "c", "threadId": T2})
    assert [e["body"]["message"] for e in vivi_emulator.journal(thread=T2)] == ["b", "c"]
    assert [e["body"]["message"] for e in vivi_emulator.journal(path="stream")] == ["c"]
    assert vivi_emulator.api_key not in str(vivi_emulator.journal())


def test_where_it_is(vivi_emulator: ViviEmulator) -> None:
    assert vivi_emulator.url() == (
        f"{vivi_emulator.base_url}/channelsApi/{vivi_emulator.channel_id}/stream"
    )
    assert vivi_emulator.headers == {
        "vivi-api-key": vivi_emulator.api_key,
        "content-type": "application/json",
    }
    uploaded = httpx.post(
        vivi_emulator.url("files"),
        headers={"vivi-api-key": vivi_emulator.api_key},
        files={"files": ("notes.txt", b"hello")},
    )
    (file_url,) = uploaded.json()["urls"]
    assert file_url.startswith(vivi_emulator.url("files"))
    assert httpx.get(file_url).content == b"hello"
    vivi_emulator.assert_called("files", times=1)  # the upload (reading a file is not journaled)


def test_each_test_gets_a_fresh_channel(vivi_emulator: ViviEmulator) -> None:
    # Made for this test: a new id, nothing in it; the last test's channel is gone.
    assert vivi_emulator.journal() == []
    assert vivi_emulator.queued() == []
    assert re.fullmatch(r"pytest-(main|gw\d+)-[0-9a-f]{12}", vivi_emulator.channel_id)


def test_chaos_at_run_time_for_the_tests_channel(
    vivi_emulator: ViviEmulator, http: httpx.Client
) -> None:
    vivi_emulator.chaos([{"kind": "status", "code": 429, "rate": 1}], seed=3)
    limited = say(http, vivi_emulator, "hi")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "1"
    (entry,) = vivi_emulator.journal()
    assert (entry["chosen_by"], entry["fault"]) == ("chaos", "status 429")
    # A queued (named) reply is left alone unless the setting says otherwise.
    vivi_emulator.queue_reply("asked for")
    assert say(http, vivi_emulator, "hi").json()["message"] == "asked for"
    vivi_emulator.chaos([])
    assert say(http, vivi_emulator, "hi").status_code == 200
    with pytest.raises(ValueError, match="add up to"):
        vivi_emulator.chaos([{"kind": "no_end", "rate": 0.8}, {"kind": "stall", "rate": 0.3}])


def test_chaos_is_gone_for_the_next_test(vivi_emulator: ViviEmulator, http: httpx.Client) -> None:
    assert say(http, vivi_emulator, "hi").status_code == 200


def test_rate_limits_of_the_tests_channel(vivi_emulator: ViviEmulator, http: httpx.Client) -> None:
    vivi_emulator.rate_limits(requests_per_minute=1, requests_burst=2)
    answers = [say(http, vivi_emulator, "hi") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["x-ratelimit-remaining-requests"] for a in answers] == ["1", "0", "0"]
    assert answers[2].headers["retry-after"] == "60"
    assert [e["limit"].split(":")[0] for e in vivi_emulator.journal()] == [
        "admitted",
        "admitted",
        "refused",
    ]
    vivi_emulator.rate_limits()  # none given: off
    assert say(http, vivi_emulator, "hi").status_code == 200
    with pytest.raises(ValueError, match="tokens_burst needs tokens_per_minute"):
        vivi_emulator.rate_limits(tokens_burst=10)


def test_the_next_test_has_buckets_of_its_own(
    vivi_emulator: ViviEmulator, http: httpx.Client
) -> None:
    answer = say(http, vivi_emulator, "hi")
    assert answer.status_code == 200
    assert "x-ratelimit-remaining-requests" not in answer.headers


def test_structured_output_of_the_tests_channel(
    vivi_emulator: ViviEmulator, http: httpx.Client
) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}},
        "required": ["answer", "confidence"],
        "additionalProperties": False,
    }
    vivi_emulator.structured_output(schema)
    streamed = http.post(vivi_emulator.url("stream"), json={"message": "hi", "threadId": T1})
    assert streamed.status_code == 409
    vivi_emulator.queue_reply(structured={"answer": "yes", "confidence": 0.9})
    assert json.loads(say(http, vivi_emulator, "hi").json()["message"]) == {
        "answer": "yes",
        "confidence": 0.9,
    }
    with pytest.raises(ValueError, match=r"\[additionalProperties\] must be false"):
        vivi_emulator.structured_output({**schema, "additionalProperties": True})
    vivi_emulator.structured_output(None)
    assert say(http, vivi_emulator, "hi").json()["message"].startswith("Hello")


def test_a_refused_message_is_not_unmatched(
    vivi_emulator: ViviEmulator, http: httpx.Client
) -> None:
    vivi_emulator.rate_limits(requests_per_minute=1, requests_burst=1)
    assert say(http, vivi_emulator, "nothing matches this").status_code == 200
    assert say(http, vivi_emulator, "nothing matches this").status_code == 429
    (unmatched,) = vivi_emulator.unmatched()  # the one the default answered
    assert unmatched["status"] == 200
