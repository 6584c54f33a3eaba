"""The stream check inside a contract run: a bad event in the middle of a long, endless stream,
an endless stream, and an event that never ends, each caught within its bound, against a URL
(a stand-in on a loopback socket) and in-process (the same stand-in as an ASGI app)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from starlette.types import ASGIApp

from vivi_emulator.contract.options import RunOptions
from vivi_emulator.contract.result import Conformance, Finding
from vivi_emulator.contract.run import Target, check_conformance

from tests.contract.standin import (
    BAD_AT,
    BAD_EVENT,
    STANDIN_CHANNEL,
    STANDIN_KEY,
    bad_middle_app,
    endless_app,
    serve,
    silent_app,
    unending_event_app,
)

CHECK = "stream_event_conformance"


@contextmanager
def _url(app: ASGIApp) -> Iterator[Target]:
    with serve(app) as base:
        yield base


@contextmanager
def _in_process(app: ASGIApp) -> Iterator[Target]:
    yield app


WAYS = {"url": _url, "in-process": _in_process}


def _run(target: Target, **bounds: float) -> Conformance:
    options = RunOptions(
        channel_id=STANDIN_CHANNEL,
        api_key=STANDIN_KEY,
        max_examples=1,
        phases=("examples",),
        operations=("streamMessage",),
        **bounds,  # type: ignore[arg-type]
    )
    return check_conformance(target, options)


def _stream_findings(result: Conformance) -> list[Finding]:
    assert result.errors == []
    return [f for f in result.findings if f.check == CHECK]


@pytest.mark.parametrize("way", WAYS)
def test_a_bad_event_in_the_middle_of_an_endless_stream_is_reported_with_its_bytes(
    way: str,
) -> None:
    with WAYS[way](bad_middle_app) as target:
        # A time bound far beyond the run: the check stops at the bad event, not at a bound.
        result = _run(target, request_timeout=600)
    [finding] = _stream_findings(result)
    assert finding.title == f"SSE event #{BAD_AT} violates the item schema"
    assert "does not match" in finding.message
    assert "Schema path: #/components/schemas/StreamEvent/properties/event/pattern" in (
        finding.message
    )
    assert repr(BAD_EVENT) in finding.message
    assert finding.source == "documented"
    assert finding.part == "#/components/schemas/StreamEvent/properties/event"


@pytest.mark.parametrize("app", [endless_app, silent_app], ids=["trickling", "silent"])
@pytest.mark.parametrize("way", WAYS)
def test_a_stream_that_never_ends_is_cut_at_its_time_bound(way: str, app: ASGIApp) -> None:
    with WAYS[way](app) as target:
        result = _run(target, request_timeout=1.0, max_stream_events=10**6)
    [finding] = _stream_findings(result)
    assert finding.title == "SSE stream exceeded its seconds bound"
    assert "did not end within 1 s" in finding.message
    assert finding.source == "unmarked"  # the run's bound, not the contract


@pytest.mark.parametrize("way", WAYS)
def test_a_stream_past_its_event_bound_is_cut_there(way: str) -> None:
    with WAYS[way](endless_app) as target:
        result = _run(target, request_timeout=600, max_stream_events=50)
    [finding] = _stream_findings(result)
    assert finding.title == "SSE stream exceeded its events bound"
    assert "it had sent 50 events" in finding.message


@pytest.mark.parametrize("way", WAYS)
def test_an_event_that_never_ends_is_cut_at_the_byte_bound(way: str) -> None:
    with WAYS[way](unending_event_app) as target:
        result = _run(target, request_timeout=600, max_stream_bytes=256 * 1024)
    [finding] = _stream_findings(result)
    assert finding.title == "SSE stream exceeded its bytes bound"
    assert "0 events and 262144 bytes" in finding.message
