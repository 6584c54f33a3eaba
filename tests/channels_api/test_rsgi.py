"""The VIVI core over RSGI (``serve --server granian-rsgi``): the wire tests of
``tests/wire/test_raw.py``, unchanged, on a real granian serving the RSGI adapter, and the one
thing RSGI cannot do (cut a response mid-body), said by a test of its own.

The tests are imported, not copied: pytest runs them here with this module's ``server``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.server import Running, start
from tests.support import AUTH, THREAD
from tests.wire.raw import request
from tests.wire.test_raw import (
    SCALE,
    planned,
    test_a_split_utf8_stream_has_writes_that_are_not_utf8_on_their_own,
    test_bom_and_raw_utf8,
    test_crlf_and_cr_framing,
    test_each_write_of_the_plan_is_one_chunk_on_the_socket,
    test_event_ids_and_retry,
    test_gateway_timeout_is_a_524_page_after_the_wait,
    test_keepalive_comments_while_the_agent_thinks,
    test_oversize_line_is_exactly_one_mebibyte,
    test_proxy_buffered_sends_the_whole_stream_at_its_end,
    test_split_bytes_is_one_byte_a_chunk,
    test_split_crlf_puts_cr_and_lf_in_separate_writes,
    test_the_default_stream_is_the_docs_framing_byte_for_byte,
    test_the_kit_baseline_escapes_non_ascii_as_the_docs_do,
)

__all__ = [
    "test_a_split_utf8_stream_has_writes_that_are_not_utf8_on_their_own",
    "test_bom_and_raw_utf8",
    "test_crlf_and_cr_framing",
    "test_each_write_of_the_plan_is_one_chunk_on_the_socket",
    "test_event_ids_and_retry",
    "test_gateway_timeout_is_a_524_page_after_the_wait",
    "test_keepalive_comments_while_the_agent_thinks",
    "test_oversize_line_is_exactly_one_mebibyte",
    "test_proxy_buffered_sends_the_whole_stream_at_its_end",
    "test_split_bytes_is_one_byte_a_chunk",
    "test_split_crlf_puts_cr_and_lf_in_separate_writes",
    "test_the_default_stream_is_the_docs_framing_byte_for_byte",
    "test_the_kit_baseline_escapes_non_ascii_as_the_docs_do",
]


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start(
        "--server", "granian-rsgi", "--time-scale", str(SCALE), "--no-reload", "--no-access-log"
    )
    yield running
    _, out = running.stop()
    assert "Traceback" not in out, out


def test_a_cut_ends_the_body_cleanly_under_rsgi(server: Running) -> None:
    """RSGI has no way to cut a response mid-body (its stream always ends with the chunked
    terminator): every write of the cut is sent, then the body ends (docs/architecture.md)."""
    response = request(server.base_url, scenario="chunked-cut")
    assert response.chunks == planned("chunked-cut")
    assert response.terminated


def test_the_control_api_and_pages_are_served_through_the_asgi_bridge(server: Running) -> None:
    body = {"message": "hello", "threadId": THREAD}
    assert httpx.post(f"{server.base_url}/channelsApi/demo-channel/invoke", headers=AUTH, json=body)
    journal = httpx.get(f"{server.base_url}/_emulator/journal").json()["entries"]
    assert [e["path"] for e in journal][-1] == "/channelsApi/demo-channel/invoke"
    page = httpx.get(f"{server.base_url}/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
