"""The playground page in a real browser: stream, scenarios, errors, uploads, snippets, docs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import uuid
from typing import Any

import httpx
from playwright.sync_api import Browser, FilePayload, Locator, Page, expect

from vivi_emulator import sse

from tests.e2e.conftest import TIMEOUT_MS, Watch, open_context, screenshot
from tests.server import Running

GREETING = "Hello! I am the VIVI emulator. How can I help you today?"
TIME = re.compile(r"^\+[\d.,]+ ms$")


def message_box(page: Page) -> Locator:
    return page.get_by_label("Message", exact=True)


def open_playground(page: Page) -> None:
    """Load the page and wait until it is ready: scenario list loaded, health shown."""
    page.goto("/")
    expect(page.locator("#scenario option[value='greeting']")).to_have_count(1)
    expect(page.locator("#health")).to_contain_text("running")


def send(page: Page, text: str) -> None:
    message_box(page).fill(text)
    page.get_by_role("button", name="Send", exact=True).click()


def last_reply(page: Page) -> Locator:
    return page.locator(".turn.agent").last


def status(page: Page) -> Locator:
    return page.locator("#status")


def logged_events(page: Page) -> list[dict[str, Any]]:
    """The events of the frames the log shows, read with the SSE codec."""
    frames = page.locator("#event-log li .raw").all_inner_texts()
    data = [sse.frame_data(frame) for frame in frames]
    return [json.loads(d) for d in data if d is not None]


def event_times(page: Page) -> list[float]:
    texts = page.locator("#event-log li time").all_inner_texts()
    assert texts, "no event row"
    assert all(TIME.match(text) for text in texts), texts
    return [float(text[1:-3].replace(",", "")) for text in texts]


def test_send_a_message_and_watch_it_stream(page: Page, emulator: Running) -> None:
    open_playground(page)
    expect(page.get_by_label("Channel")).to_have_value("demo-channel")
    expect(page.get_by_label("API key")).to_have_value("demo-key")
    thread = page.get_by_label("Thread").input_value()
    assert uuid.UUID(thread).version == 4

    send(page, "hello")

    expect(last_reply(page).locator(".reply-text")).to_have_text(GREETING)
    expect(status(page)).to_contain_text("done in")
    events = logged_events(page)
    names = [event["event"] for event in events]
    assert names[0] == "on_chat_model_start"
    assert names[-1] == "on_chat_model_end"
    assert set(names[1:-1]) == {"on_chat_model_stream"}
    assert "".join(e["message"] for e in events[1:-1]) == GREETING
    times = event_times(page)
    assert times == sorted(times)
    expect(page.locator("#event-log")).to_contain_text("HTTP 200")
    expect(page.locator("#event-count")).to_have_text(f"{len(events)} events")

    curl = page.locator("#code-curl").inner_text()
    assert f"{emulator.base_url}/channelsApi/demo-channel/stream" in curl
    assert "vivi-api-key: demo-key" in curl
    assert thread in curl
    expect(message_box(page)).to_have_value("")

    # A second turn of the same thread: a tool call shows between start and end.
    page.get_by_label("Scenario").select_option("tool-call")
    send(page, "How do I reset my password?")
    reply = last_reply(page)
    expect(reply.locator(".badge")).to_have_text(
        ["on_tool_start: search_knowledge_base", "on_tool_end: 3 documents found"]
    )
    expect(reply.locator(".reply-text")).to_contain_text("is covered in the FAQ.")
    expect(status(page)).to_contain_text("done in")
    assert [e["event"] for e in logged_events(page)][1:3] == ["on_tool_start", "on_tool_end"]
    expect(page.locator(".turn.user")).to_have_count(2)
    screenshot(page, "01-stream")  # the README's picture (docs/playground.md)

    page.get_by_role("tab", name="Python").click()
    python = page.locator("#code-python")
    expect(python).to_be_visible()
    expect(python).to_contain_text("requests.post(url, headers=headers, json=data, stream=True")
    screenshot(page, "02-python-snippet")


def test_snippets_replay_the_exact_request(browser: Browser, watch: Watch) -> None:
    context = open_context(browser, watch)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=watch.base_url)
    page = context.new_page()
    page.on("console", watch.on_console)
    try:
        open_playground(page)
        page.get_by_label("User ID").fill(str(uuid.uuid4()))
        send(page, "hello")
        expect(status(page)).to_contain_text("done in")
        page.get_by_role("button", name="Copy curl").click()
        expect(page.get_by_role("button", name="Copied")).to_be_visible()
        curl = page.evaluate("navigator.clipboard.readText()")
        assert curl == page.locator("#code-curl").inner_text()
        python = page.locator("#code-python").text_content() or ""
    finally:
        context.close()
    assert watch.foreign == []
    assert watch.unexpected_console_errors() == []

    ran = subprocess.run(
        [sys.executable, "-c", python], capture_output=True, text=True, timeout=30, check=True
    )
    lines = ran.stdout.splitlines()
    assert lines[0] == "200"
    assert lines[1] == 'data: {"message": "", "event": "on_chat_model_start"}'
    assert lines[-1] == 'data: {"message": "", "event": "on_chat_model_end"}'
    if shutil.which("curl"):
        replayed = subprocess.run(
            ["bash", "-c", curl], capture_output=True, text=True, timeout=30, check=True
        )
        assert replayed.stdout.startswith('data: {"message": "", "event": "on_chat_model_start"}')


def test_the_reply_arrives_chunk_by_chunk(page: Page) -> None:
    open_playground(page)
    page.get_by_label("Scenario").select_option("slow")
    # Record every state of the reply text as the page renders it.
    page.evaluate(
        """() => {
            window.replyStates = [];
            new MutationObserver(() => {
                const reply = document.querySelector('.turn.agent:last-child .reply-text');
                if (reply) window.replyStates.push(reply.textContent);
            }).observe(document.getElementById('transcript'),
                       {childList: true, subtree: true, characterData: true});
        }"""
    )
    send(page, "take your time")
    expect(page.locator(".turn.agent.streaming")).to_have_count(1)
    expect(status(page)).to_contain_text("done in")
    states: list[str] = page.evaluate("window.replyStates")
    final = last_reply(page).locator(".reply-text").inner_text()
    assert final.startswith("This reply is slow to start")
    growing = sorted({s for s in states if s}, key=len)
    assert len(growing) >= 10, growing
    assert all(final.startswith(state) for state in growing)
    times = event_times(page)
    assert times[-1] >= 900  # the scenario waits about 1 s for its first chunk
    screenshot(page, "03-slow-stream")


def test_forced_rate_limit_shows_the_429(page: Page, watch: Watch) -> None:
    watch.expect_console_error(r"status of 429")
    open_playground(page)
    scenario = page.get_by_label("Scenario")
    scenario.select_option("rate-limited")
    expect(page.locator("#scenario-hint")).to_contain_text("429")
    send(page, "hello")

    alert = last_reply(page).get_by_role("alert")
    expect(alert).to_contain_text("HTTP 429 Too Many Requests")
    expect(alert).to_contain_text("Retry-After: 2")
    expect(alert).to_contain_text('"detail": "rate limit exceeded, retry after 2 seconds"')
    expect(status(page)).to_contain_text("HTTP 429")
    expect(page.locator("#code-curl")).to_contain_text("x-vivi-scenario: rate-limited")
    screenshot(page, "04-rate-limited")


def test_other_errors_are_shown_with_status_and_body(page: Page, watch: Watch) -> None:
    watch.expect_console_error(r"status of 401")
    watch.expect_console_error(r"status of 422")
    open_playground(page)
    page.get_by_label("API key").fill("wrong-key")
    send(page, "hello")
    expect(last_reply(page).get_by_role("alert")).to_contain_text("HTTP 401")
    expect(last_reply(page).get_by_role("alert")).to_contain_text("invalid API key")

    page.get_by_label("API key").fill("demo-key")
    page.get_by_label("User ID").fill("not-a-uuid")
    send(page, "hello")
    alert = last_reply(page).get_by_role("alert")
    expect(alert).to_contain_text("HTTP 422")
    expect(alert).to_contain_text("userId")
    screenshot(page, "05-validation-error")


def test_a_dropped_stream_is_shown_plainly(page: Page, watch: Watch) -> None:
    watch.expect_console_error(r"ERR_INCOMPLETE_CHUNKED_ENCODING|network error")
    open_playground(page)
    page.get_by_label("Scenario").select_option("disconnect")
    send(page, "hello")
    alert = last_reply(page).get_by_role("alert")
    expect(alert).to_contain_text("The stream was dropped")
    expect(alert).to_contain_text("before on_chat_model_end")
    # How many of the 3 events the page saw depends on the browser: Chromium may discard the bytes
    # that arrived with the broken connection. The page shows the count it got, and the error.
    expect(alert).to_contain_text(re.compile(r"after [0-3] events?"))
    expect(page.locator("#event-log li.bad").last).to_contain_text("stream dropped")
    expect(status(page)).to_contain_text("Stream dropped")
    screenshot(page, "06-dropped-stream")


def test_broken_streams_are_flagged(page: Page) -> None:
    open_playground(page)
    scenario = page.get_by_label("Scenario")

    scenario.select_option("malformed")
    message_box(page).fill("hello")
    message_box(page).press("Enter")  # Enter sends
    expect(page.locator("#event-log li.bad .flag")).to_have_text(["not JSON"])
    expect(last_reply(page).locator(".badge")).to_have_text(["malformed frame"])
    expect(status(page)).to_contain_text("done in")

    scenario.select_option("error-event")
    send(page, "hello")
    alerts = last_reply(page).get_by_role("alert")
    expect(alerts).to_have_count(2)  # the error event, then the end that never came
    expect(alerts.first).to_contain_text("The agent reported an error (on_chain_error)")
    expect(alerts.first).to_contain_text("tool call failed: timeout")
    expect(alerts.last).to_contain_text("The stream ended without on_chat_model_end")

    scenario.select_option("no-end")
    send(page, "hello")
    expect(last_reply(page).get_by_role("alert")).to_contain_text(
        "The stream ended without on_chat_model_end"
    )
    expect(status(page)).to_contain_text("Incomplete stream")
    screenshot(page, "06b-broken-streams")


def test_upload_a_file_and_attach_its_url(page: Page, emulator: Running) -> None:
    page.goto("/")
    notes: FilePayload = {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"milk\n"}
    page.get_by_label("Attach files").set_input_files(files=[notes])
    link = page.get_by_role("link", name="notes.txt")
    expect(link).to_be_visible()
    file_url = link.get_attribute("href") or ""
    assert re.fullmatch(
        re.escape(emulator.base_url) + r"/channelsApi/demo-channel/files/[^/]+/notes\.txt", file_url
    ), file_url
    assert httpx.get(file_url, timeout=5).content == b"milk\n"

    page.get_by_role("radio", name="invoke").check()
    with page.expect_request(lambda r: r.url.endswith("/invoke"), timeout=TIMEOUT_MS) as sent:
        send(page, "what is in the file?")
    assert (sent.value.post_data_json or {})["attachedFiles"] == [file_url]
    expect(last_reply(page).locator(".reply-text")).to_have_text("You said: what is in the file?")
    expect(page.locator("#code-curl")).to_contain_text(file_url)
    expect(page.locator("#code-python")).to_contain_text(
        f'"attachedFiles": [\n        "{file_url}"'
    )
    screenshot(page, "07-upload")

    page.get_by_role("button", name="Remove notes.txt").click()
    expect(link).to_have_count(0)


def test_batch_sends_one_item_per_line(page: Page) -> None:
    open_playground(page)
    page.get_by_label("batch").check()
    with page.expect_request(lambda r: r.url.endswith("/batch"), timeout=TIMEOUT_MS) as sent:
        send(page, "first\nsecond")
    body = sent.value.post_data_json or {}
    assert [item["message"] for item in body["messages"]] == ["first", "second"]
    expect(page.locator(".turn.agent .reply-text")).to_have_text(
        ["You said: first", "You said: second"]
    )
    screenshot(page, "08-batch")


def test_another_channel_and_key(page: Page, emulator: Running) -> None:
    """The fields are editable: a channel added at run time works once its key is typed in."""
    added = httpx.post(
        f"{emulator.base_url}/_emulator/channels",
        json={"id": "team-bot", "key": "team-secret"},
        timeout=5,
    )
    assert added.status_code == 201, added.text
    open_playground(page)
    page.get_by_label("Channel").fill("team-bot")
    page.get_by_label("API key").fill("team-secret")
    send(page, "hi")
    expect(last_reply(page).locator(".reply-text")).to_have_text(GREETING)
    expect(page.locator("#code-curl")).to_contain_text("/channelsApi/team-bot/stream")


def test_the_latency_in_use_and_the_chaos_switch(
    page: Page, watch: Watch, emulator: Running
) -> None:
    watch.expect_console_error(r"status of 429")
    control = f"{emulator.base_url}/_emulator"
    channel = {"channel": "demo-channel"}
    httpx.put(f"{control}/latency", params=channel, json={"profile": "realistic"}, timeout=5)
    always = {"seed": 1, "faults": [{"kind": "status", "code": 429, "rate": 1}]}
    httpx.put(f"{control}/chaos", params=channel, json=always, timeout=5)
    try:
        open_playground(page)
        expect(page.locator("#latency")).to_have_text(
            "realistic: first token lognormal p50 700 ms, p99 2500 ms; "
            "between tokens lognormal p50 20 ms, p99 80 ms"
        )
        switch = page.get_by_role("switch", name="Chaos: random faults")
        expect(switch).to_be_checked()
        expect(page.locator("#chaos-hint")).to_contain_text("100 % status 429")
        send(page, "hello")
        expect(last_reply(page).get_by_role("alert")).to_contain_text("HTTP 429")
        expect(last_reply(page).locator(".badge.chaos")).to_have_text("chaos: status 429")
        screenshot(page, "11-chaos")

        switch.uncheck()
        expect(page.locator("#chaos-hint")).to_contain_text("Off")
        assert httpx.get(f"{control}/chaos", params=channel, timeout=5).json()["chaos"] is None
        send(page, "hello")
        expect(last_reply(page).locator(".reply-text")).to_have_text(GREETING)
        expect(last_reply(page).locator(".badge.chaos")).to_have_count(0)

        switch.check()  # nothing configured: the "flaky" mix
        expect(page.locator("#chaos-hint")).to_contain_text("5 % status 429, 2 % status 500")
        state = httpx.get(f"{control}/chaos", params=channel, timeout=5).json()
        assert state["chaos"]["preset"] == "flaky"
    finally:
        httpx.delete(f"{control}/chaos", params=channel, timeout=5)
        httpx.delete(f"{control}/latency", params=channel, timeout=5)


def test_api_docs_render_the_contract_offline(page: Page, emulator: Running) -> None:
    page.goto("/docs")
    stream = page.locator(".opblock-summary-path", has_text="/channelsApi/{channelId}/stream")
    expect(stream).to_be_visible()
    expect(page.get_by_text("Stream Messages")).to_be_visible()
    expect(page.locator(".info .title")).to_contain_text("VIVI API channel")
    servers = page.locator(".servers select option").first
    expect(servers).to_contain_text(f"{emulator.base_url} - This emulator")
    screenshot(page, "09-api-docs")

    # "Try it out" reaches this emulator (the first server), with the demo key.
    page.locator("button.authorize").first.click()
    dialog = page.locator(".modal-ux")
    dialog.get_by_label("Value:").fill("demo-key")
    dialog.get_by_role("button", name="Apply credentials").click()
    dialog.get_by_role("button", name="Close", exact=True).click()
    expect(dialog).to_have_count(0)
    operation = page.locator("#operations-messages-streamMessage")
    operation.locator(".opblock-summary-control").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_placeholder("channelId").fill("demo-channel")
    operation.get_by_role("button", name="Execute").click()
    result = operation.locator(".live-responses-table")
    expect(result.locator("tbody .response-col_status")).to_have_text("200")
    expect(result).to_contain_text('data: {"message": "", "event": "on_chat_model_end"}')
    screenshot(page, "10-api-docs-try-it-out")


def test_the_guard_catches_a_request_to_another_origin(browser: Browser, watch: Watch) -> None:
    """The check every page runs under is not vacuous: a foreign request is caught."""
    context = open_context(browser, watch)
    try:
        page = context.new_page()
        page.goto("/playground/favicon.svg")
        # Another port is another origin; loopback, so nothing could leave even without the guard.
        page.evaluate("fetch('http://127.0.0.1:9/beacon', {mode: 'no-cors'}).catch(() => null)")
    finally:
        context.close()
    assert watch.foreign == ["GET http://127.0.0.1:9/beacon"]
