"""One script drives all three endpoints: stream, invoke and batch agree, for any script."""

from __future__ import annotations

import uuid
from typing import Any

import anyio
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vivi_emulator.app import create_app
from vivi_emulator.scenarios.loader import ScenarioSet
from vivi_emulator.scenarios.model import Scenario
from vivi_emulator.settings import Settings

from tests.support import AUTH, chunks_text, sse_events, url

APP = create_app(Settings(access_log=False, reload_fixtures=False))

_text = st.text(st.characters(codec="utf-8"), max_size=40)
_event_name = st.from_regex(r"on_(tool|chain|retriever)_(start|end|stream)", fullmatch=True)
_event = st.one_of(
    st.builds(lambda t: {"text": t}, _text.filter(bool)),
    st.builds(lambda e, m: {"event": e, "message": m}, _event_name, _text),
)
_chunking = st.one_of(
    st.just({}),
    st.builds(lambda n: {"tokens": n}, st.integers(1, 4)),
    st.builds(lambda n: {"words": n}, st.integers(1, 4)),
    st.builds(lambda n: {"chars": n}, st.integers(1, 9)),
)
_response = st.one_of(
    st.builds(lambda t, c: {"text": t, "chunking": c}, _text, _chunking),
    st.builds(lambda e, c: {"events": e, "chunking": c}, st.lists(_event, max_size=5), _chunking),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(response=_response, message=_text.filter(lambda m: m.strip() != ""))
def test_stream_invoke_and_batch_agree(response: dict[str, Any], message: str) -> None:
    APP.state.emulator.scenarios = ScenarioSet(
        (Scenario.model_validate({"name": "generated", "default": True, "match": {}, **response}),)
    )
    body = {"message": message, "threadId": str(uuid.uuid4())}

    async def call() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=APP)
        async with httpx.AsyncClient(transport=transport, base_url="http://e.test") as client:
            return (
                await client.post(url("stream"), headers=AUTH, json=body),
                await client.post(url("invoke"), headers=AUTH, json=body),
                await client.post(url("batch"), headers=AUTH, json={"messages": [body, body]}),
            )

    streamed, invoked, batched = anyio.run(call)
    assert streamed.status_code == invoked.status_code == batched.status_code == 200
    events = sse_events(streamed.content)
    assert events[0]["event"] == "on_chat_model_start"
    assert events[-1]["event"] == "on_chat_model_end"
    joined = chunks_text(events)
    assert invoked.json() == {"message": joined, "threadId": body["threadId"]}
    assert [r["message"] for r in batched.json()["responses"]] == [joined, joined]
