"""rendering.Rendered: a Script's writes, invoke reply and journaled events, made once."""

from __future__ import annotations

import json
from dataclasses import replace

from vivi_emulator import sse
from vivi_emulator.redaction import Redactor
from vivi_emulator.rendering import KeptEvents, Played, Rendered, journal_events
from vivi_emulator.script import CHUNK, END, START, Script, ScriptEvent

from tests.support import THREAD


def _script(text: str = "Hi there") -> Script:
    return Script((ScriptEvent(START), ScriptEvent(CHUNK, text), ScriptEvent(END)))


def test_the_invoke_body_is_json_dumps_of_the_reply() -> None:
    rendered = Rendered(_script('Grüße "quoted" \\ 🙂'))
    body = rendered.invoke_body(THREAD)
    assert body == json.dumps({"message": 'Grüße "quoted" \\ 🙂', "threadId": THREAD}).encode()
    assert rendered.invoke_body(THREAD) == body  # the reply's JSON made once, the same bytes


def test_frames_due_together_are_one_write_in_the_docs_framing() -> None:
    rendered = Rendered(_script())
    assert [data for _, data, _ in rendered.writes] == [
        b"".join(sse.frame(e) for e in _script().events)
    ]
    assert not rendered.timed
    assert rendered.all_events() == journal_events(_script().events)


def test_journaled_events_are_made_once_per_redactor() -> None:
    rendered = Rendered(_script("the key is s3cret"))
    made: list[int] = []

    def keep(redact: Redactor) -> KeptEvents:
        made.append(1)
        messages = redact.parts([e.get("message", "") for e in rendered.all_events()])
        return tuple({"message": m} for m in messages), 0

    before = Redactor()
    assert rendered.kept_events(before, lambda _: keep(before)) == rendered.kept_events(
        before, lambda _: keep(before)
    )
    assert len(made) == 1
    # A rotated key makes a new redactor: the events are redacted again, never served stale.
    after = Redactor(["s3cret"])
    kept, _ = rendered.kept_events(after, lambda _: keep(after))
    assert len(made) == 2
    assert "s3cret" not in str(kept)


def test_what_a_cut_stream_sent_is_its_first_writes() -> None:
    script = Script(
        (ScriptEvent(START), ScriptEvent(CHUNK, "a", delay=0.1), ScriptEvent(END, delay=0.1))
    )
    played = Played(Rendered(script), sent=2)
    assert not played.complete
    assert played.sent_events
    assert played.events == journal_events(script.events[:2])


def test_a_copy_with_other_headers_shares_the_rendering_but_not_another_ending() -> None:
    script = _script()
    rendered = Rendered(script)
    assert rendered.renders(replace(script, headers=(("x-ratelimit-remaining", "9"),)))
    assert not rendered.renders(replace(script, abort=True))
    assert not rendered.renders(_script())  # equal events, but not the same script's
