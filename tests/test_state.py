"""The state store: threads stay bounded, the journal keeps no secret."""

from __future__ import annotations

from vivi_emulator.state import Journal, Store, Thread, Turn


def test_a_thread_counts_every_turn_but_keeps_only_recent_ones() -> None:
    thread = Thread()
    for i in range(Thread.HISTORY + 50):
        thread.add(Turn(f"m{i}", f"r{i}"))
    assert thread.next_turn == Thread.HISTORY + 51
    assert len(thread.turns) == Thread.HISTORY
    assert thread.turns[-1] == Turn(f"m{Thread.HISTORY + 49}", f"r{Thread.HISTORY + 49}")


def test_thread_ids_are_case_insensitive() -> None:
    store = Store()
    upper = "0B6F2A70-6A43-4D3C-9C55-6F7D4C1D2E10"
    assert store.thread("c", upper) is store.thread("c", upper.lower())
    assert store.thread("c", upper) is not store.thread("other", upper)


def test_journal_entries_redact_credentials_and_secrets() -> None:
    journal = Journal(10)
    entry = journal.open(
        "POST",
        "/channelsApi/c/invoke",
        "c",
        [(b"vivi-api-key", b"k-123"), (b"authorization", b"Bearer x"), (b"x-other", b"fine")],
    )
    entry.body = b'{"message": "my key is k-123"}'
    data = entry.as_dict(["k-123"])
    assert data["headers"] == {
        "vivi-api-key": "[redacted]",
        "authorization": "[redacted]",
        "x-other": "fine",
    }
    assert data["body"] == {"message": "my key is [redacted]"}
    assert "k-123" not in str(data)
    assert data["time"].endswith("+00:00")
