"""Which clients survive which wire fault: the docs' `requests` sample, httpx, Node's fetch.

Each client runs against every kit scenario (the conformance kit's own runner, on a real
socket); the table in docs/wire.md must state exactly what happened.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from vivi_emulator.cli.wire_kit import Client, Result, cases, printed_reply, run_kit
from vivi_emulator.settings import DEFAULT_API_KEY, DEFAULT_CHANNEL_ID

from tests.server import Running, start

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
CLIENTS = {
    "requests": f"{sys.executable} {EXAMPLES / 'requests_sample.py'}",
    "httpx": f"{sys.executable} {EXAMPLES / 'httpx_stream.py'}",
    "node": f"node {EXAMPLES / 'node_stream.mjs'}",
}
_ROW = re.compile(r"^\| (\d+) \| `([a-z0-9-]+)` \|(.*)$")


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start("--time-scale", "0.01", "--no-reload", "--no-access-log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def results(server: Running) -> dict[str, list[Result]]:
    def force(name: str | None) -> None:
        httpx.put(f"{server.base_url}/_emulator/forced", json={"scenario": name}).raise_for_status()

    env = {
        "VIVI_BASE_URL": server.base_url,
        "VIVI_CHANNEL_ID": DEFAULT_CHANNEL_ID,
        "VIVI_API_KEY": DEFAULT_API_KEY,
    }
    return {
        name: run_kit(cases(), Client(command, env), force) for name, command in CLIENTS.items()
    }


def documented() -> dict[str, dict[str, bool]]:
    """The survival table of docs/wire.md: scenario -> client -> survives."""
    text = (ROOT / "docs" / "wire.md").read_text(encoding="utf-8")
    table = text.split("## Which clients survive", 1)[1]
    rows: dict[str, dict[str, bool]] = {}
    for line in table.splitlines():
        if match := _ROW.match(line):
            cells = [c.strip() for c in match.group(3).split("|")][: len(CLIENTS)]
            assert all(c in ("survives", "**fails**") for c in cells), line
            rows[match.group(2)] = {
                client: cell == "survives" for client, cell in zip(CLIENTS, cells, strict=True)
            }
    return rows


def test_the_docs_table_states_what_each_client_did(results: dict[str, list[Result]]) -> None:
    observed = {
        case.name: {client: results[client][i].verdict.ok for client in CLIENTS}
        for i, case in enumerate(cases())
    }
    failures = {
        f"{client} on {r.case.name}": r.verdict.why
        for client, runs in results.items()
        for r in runs
        if not r.verdict.ok
    }
    assert documented() == observed, failures


def test_every_client_survives_the_docs_framing(results: dict[str, list[Result]]) -> None:
    for runs in results.values():
        assert runs[0].case.name == "wire-baseline"
        assert runs[0].verdict.ok, runs[0].stderr


def by_name(runs: list[Result], name: str) -> Result:
    (found,) = (r for r in runs if r.case.name == name)
    return found


def test_the_docs_sample_prints_a_gateways_page_as_if_it_were_the_reply(
    results: dict[str, list[Result]],
) -> None:
    run = by_name(results["requests"], "gateway-timeout")
    assert "<h1>A timeout occurred</h1>" in run.stdout  # it never looks at the status
    assert not run.verdict.ok


def test_a_bom_reaches_python_clients_in_the_first_line(results: dict[str, list[Result]]) -> None:
    first = by_name(results["requests"], "wire-bom").stdout.splitlines()[0]
    assert first.startswith('\ufeffdata: {"message": "", "event": "on_chat_model_start"}')


def test_a_split_on_blank_lines_parser_sees_nothing_in_a_crlf_stream(
    results: dict[str, list[Result]],
) -> None:
    run = by_name(results["node"], "wire-crlf")
    assert (run.stdout, run.verdict.why) == ("\n", "exit 0, wrong or missing reply")


def test_no_client_prints_the_frame_cut_in_the_middle(results: dict[str, list[Result]]) -> None:
    for client, runs in results.items():
        run = by_name(runs, "chunked-cut-mid-frame")
        # 150 bytes: the start, "Grüße" whole, then 24 bytes of the next frame.
        assert printed_reply(run.stdout).rstrip("\n") == "Grüße", client
