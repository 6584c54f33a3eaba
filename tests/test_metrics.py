"""GET /_emulator/metrics: Prometheus' text format, names by its conventions, and counters that
match the journal after a mixed load, in one process and across two workers on Redis."""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from pydantic import SecretStr

from vivi_emulator.journal import ChosenBy, ItemRecord, JournalEntry
from vivi_emulator.metrics import chosen_by, fault_kind
from vivi_emulator.settings import Settings

from tests.server import Running, start
from tests.support import AUTH, THREAD, serving

C = "/_emulator"
CHAOS = {"id": "chaotic", "key": "chaotic-key"}
_NAME = re.compile(r"^vivi_emulator_[a-z0-9_]+$")


def _post(
    base: str, operation: str, body: Any, channel: str = "demo-channel", key: str = "demo-key"
) -> httpx.Response:
    return httpx.post(
        f"{base}/channelsApi/{channel}/{operation}",
        headers={"vivi-api-key": key},
        json=body,
        timeout=30,
    )


def _message(text: str = "hi") -> dict[str, str]:
    return {"message": text, "threadId": str(uuid.uuid4())}


def mixed_load(base: str) -> None:
    """Streams, invokes and a batch; a queued reply; refused keys and bodies; chaos faults."""
    assert httpx.post(f"{base}{C}/queue", json={"text": "queued"}).status_code == 201
    assert httpx.post(f"{base}{C}/channels", json=CHAOS).status_code in (201, 422)
    chaos = {
        "faults": [{"kind": "status", "code": 503, "rate": 0.5}, {"kind": "no_end", "rate": 0.5}]
    }
    assert (
        httpx.put(f"{base}{C}/chaos", params={"channel": "chaotic"}, json=chaos).status_code == 200
    )
    for _ in range(3):
        assert _post(base, "stream", _message()).status_code == 200
        assert _post(base, "invoke", _message()).status_code == 200
        _post(base, "stream", _message(), channel="chaotic", key="chaotic-key")
    batch = {"messages": [_message(), _message("again")]}
    assert _post(base, "batch", batch).status_code == 200
    assert _post(base, "invoke", _message(), key="wrong").status_code == 401
    assert _post(base, "invoke", {"message": 3}).status_code == 422


def _expected_chosen_by(entry: dict[str, Any]) -> str:
    items = entry.get("items")
    if items is None:
        return entry["chosen_by"] or "none"
    ways = {i["chosen_by"] for i in items if i["chosen_by"]}
    return "none" if not ways else (ways.pop() if len(ways) == 1 else "mixed")


def _journal_counts(base: str) -> tuple[Counter[tuple[str, ...]], Counter[str]]:
    entries = httpx.get(f"{base}{C}/journal").json()["entries"]
    requests: Counter[tuple[str, ...]] = Counter()
    faults: Counter[str] = Counter()
    for e in entries:
        operation = e["path"].rsplit("/", 1)[-1]
        requests[(e["channel"], operation, str(e["status"]), _expected_chosen_by(e))] += 1
        for item in e.get("items") or [e]:
            if item["fault"]:
                faults[fault_kind(item["fault"])] += 1
    return requests, faults


def _samples(text: str, name: str) -> list[Sample]:
    return [s for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]


def _metric_counts(text: str) -> tuple[Counter[tuple[str, ...]], Counter[str]]:
    requests: Counter[tuple[str, ...]] = Counter()
    for s in _samples(text, "vivi_emulator_requests_total"):
        labels = s.labels
        key = (labels["channel"], labels["operation"], labels["status"], labels["chosen_by"])
        requests[key] += int(s.value)
    faults: Counter[str] = Counter()
    for s in _samples(text, "vivi_emulator_faults_injected_total"):
        faults[s.labels["kind"]] += int(s.value)
    return +requests, +faults


def _scrape(base: str) -> str:
    page = httpx.get(f"{base}{C}/metrics")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain; version=0.0.4")
    return page.text


def _assert_matches_journal(base: str) -> None:
    requests, faults = _journal_counts(base)
    assert sum(requests.values()) == 12
    assert faults["status"] + faults["no_end"] == 3
    assert {k[3] for k in requests} >= {"queue", "chaos", "none", "mixed"}
    assert _metric_counts(_scrape(base)) == (requests, faults)


@pytest.fixture
def single() -> Iterator[Running]:
    server = start("--no-reload")
    yield server
    assert server.stop()[0] == 0


def test_the_counters_match_the_journal_after_a_mixed_load(single: Running) -> None:
    mixed_load(single.base_url)
    _assert_matches_journal(single.base_url)


def test_two_workers_on_redis_count_as_one(redis_url: str, tmp_path: Path) -> None:
    server = start("--state", redis_url, "--workers", "2", "--no-reload")
    try:
        mixed_load(server.base_url)
        # Every scrape reaches one worker or the other; each answers for both.
        for _ in range(4):
            _assert_matches_journal(server.base_url)
        text = _scrape(server.base_url)
        # Every request took at least one round trip to Redis.
        trips = _samples(text, "vivi_emulator_store_round_trip_seconds_count")[0].value
        assert trips >= 12
        assert _samples(text, "vivi_emulator_journal_entries")[0].value == 12
    finally:
        code, log = server.stop()
    assert code == 0
    assert "Traceback" not in log, log


def test_the_names_follow_prometheus_conventions(single: Running) -> None:
    base = single.base_url
    _post(base, "stream", _message())
    families = list(text_string_to_metric_families(_scrape(base)))
    names = {f.name: f for f in families}
    for family in families:
        assert _NAME.match(family.name), family.name
        assert family.documentation, family.name
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
    assert names["vivi_emulator_requests"].type == "counter"
    assert names["vivi_emulator_streams_open"].type == "gauge"
    assert names["vivi_emulator_stream_first_event_seconds"].type == "histogram"
    assert names["vivi_emulator_event_lateness_seconds"].type == "histogram"
    assert names["vivi_emulator_threads_limit"].samples[0].value == 10_000
    first = _samples(_scrape(base), "vivi_emulator_stream_first_event_seconds_count")
    assert first[0].value == 1


def test_open_streams_and_lateness(single: Running) -> None:
    base = single.base_url
    slow = {"text": "slow reply", "timing": {"first_chunk_ms": 60_000, "chunk_ms": 0}}
    assert httpx.post(f"{base}{C}/queue", json=slow).status_code == 201
    body = {"message": "hi", "threadId": THREAD}
    with httpx.stream(
        "POST", f"{base}/channelsApi/demo-channel/stream", headers=AUTH, json=body
    ) as r:
        lines = r.iter_lines()
        assert next(lines).startswith("data: ")  # the start event: the stream is open
        assert _samples(_scrape(base), "vivi_emulator_streams_open")[0].value == 1
    _wait_for_client_left(base)
    paced = {"text": "a b c", "timing": {"first_chunk_ms": 1, "chunk_ms": 1}}
    assert httpx.post(f"{base}{C}/queue", json=paced).status_code == 201
    assert _post(base, "stream", _message()).status_code == 200
    text = _scrape(base)
    assert _samples(text, "vivi_emulator_event_lateness_seconds_count")[0].value >= 3
    assert _samples(text, "vivi_emulator_streams_open")[0].value == 0


def _wait_for_client_left(base: str) -> None:
    """Until the journal has the stream whose client left (its entry is written as it ends)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        entries = httpx.get(f"{base}{C}/journal", params={"thread": THREAD}).json()["entries"]
        if entries and entries[0]["client_left"]:
            return
        time.sleep(0.05)
    raise AssertionError("the stream whose client left never ended")


async def test_the_metrics_are_behind_the_admin_token() -> None:
    settings = Settings(host="0.0.0.0", admin_token=SecretStr("admin-secret"))
    async with serving(settings) as client:
        refused = await client.get(f"{C}/metrics")
        assert refused.status_code == 401
        allowed = await client.get(f"{C}/metrics", headers={"x-vivi-admin-token": "admin-secret"})
        assert allowed.status_code == 200
        assert "admin-secret" not in allowed.text


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("status 429", "status"),
        ("disconnect after 3 events", "disconnect"),
        ("stall of 5000 ms after 2 events", "stall"),
        ("malformed frame after 1 events", "malformed"),
        ("error event after 2 events", "error_event"),
        ("no end event", "no_end"),
        ("wire", "wire"),
        ("something new", "other"),
    ],
)
def test_a_fault_is_counted_by_its_kind(fault: str, kind: str) -> None:
    assert fault_kind(fault) == kind


def test_chosen_by_of_a_request() -> None:
    def entry(*items: ItemRecord) -> JournalEntry:
        return JournalEntry(0, 0, "POST", "/channelsApi/c/batch", "c", (), 200, items=items)

    assert chosen_by(entry()) == "none"
    assert chosen_by(entry(ItemRecord("t", chosen_by=ChosenBy.QUEUE))) == "queue"
    both = entry(
        ItemRecord("t", chosen_by=ChosenBy.QUEUE), ItemRecord("u", chosen_by=ChosenBy.MATCH)
    )
    assert chosen_by(both) == "mixed"


def test_a_multiprocess_folder_that_is_not_there_never_fails_a_request(tmp_path: Path) -> None:
    missing = tmp_path / "not-there"
    server = start("--no-reload", env={"PROMETHEUS_MULTIPROC_DIR": str(missing)})
    try:
        assert _post(server.base_url, "invoke", _message()).status_code == 200
        counted = _samples(_scrape(server.base_url), "vivi_emulator_requests_total")
    finally:
        code, log = server.stop()
    assert [s.value for s in counted] == [1]
    assert code == 0
    assert "is not a writable folder" in log
    assert "Traceback" not in log
