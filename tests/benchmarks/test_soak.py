"""How the soak reads a reply, judges an outcome, and finds tracebacks in a server's log."""

from __future__ import annotations

import pytest
from harness.soak import count_tracebacks
from harness.soak_traffic import is_right, outcome_of

JSON_401 = b'HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n\r\n{"detail": "no"}'
STREAM = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\ndata:\r\n0\r\n\r\n"


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        (JSON_401, "401+detail"),
        (STREAM, "200+end"),
        (STREAM[:-5], "200"),  # a stream cut before its last chunk did not end
        (b"", "closed"),
        (b"SSH-2.0\r\n", "garbled"),
    ],
)
def test_outcome_of_a_reply(reply: bytes, outcome: str) -> None:
    assert outcome_of(reply) == outcome


def test_bad_input_must_get_a_4xx_with_a_detail() -> None:
    assert is_right("bad-json", "422+detail")
    assert is_right("bad-json", "400+detail")
    assert not is_right("bad-json", "422")  # no JSON detail
    assert not is_right("bad-json", "500+detail")
    assert not is_right("wrong-key", "403+detail")  # this one is exact: 401


def test_a_refused_chunked_body_may_end_in_a_reset_a_declared_one_may_not() -> None:
    assert is_right("too-large-chunked", "reset")
    assert is_right("too-large-chunked", "413+detail")
    assert not is_right("too-large", "reset")
    assert not is_right("too-large-chunked", "500+detail")


def test_a_client_that_left_has_no_wrong_outcome() -> None:
    assert is_right("hangup-stream", "hung up")
    assert is_right("slow-headers", "server closed")


def test_tracebacks_are_counted_by_their_marks() -> None:
    log = "\n".join(
        [
            "INFO access POST /channelsApi/demo-channel/invoke status=200",
            "Traceback (most recent call last):",
            '  File "x.py", line 1, in <module>',
            "ERROR Exception in ASGI application",
            "[ERROR] Application callable raised an exception",
            "INFO the word Traceback alone is no traceback",
        ]
    )
    count, first = count_tracebacks(log)
    assert count == 3
    assert first[0] == "Traceback (most recent call last):"
    assert count_tracebacks("INFO all is well\n") == (0, [])
