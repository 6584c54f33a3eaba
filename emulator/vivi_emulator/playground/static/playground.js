// vivi-emulator playground: plain JavaScript, no framework, no build step, no external request.
//
// Streams are read with fetch() and a ReadableStream reader (EventSource cannot POST), so every
// SSE frame is shown as it arrives, with its time since the request was sent.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  const ui = {
    health: $("health"),
    channel: $("channel"),
    key: $("api-key"),
    thread: $("thread"),
    newThread: $("new-thread"),
    userId: $("user-id"),
    randomUser: $("random-user"),
    endpointHint: $("endpoint-hint"),
    scenario: $("scenario"),
    scenarioHint: $("scenario-hint"),
    scenarioLabel: $("scenario-label"),
    scenarioName: $("scenario-name"),
    files: $("files"),
    attachments: $("attachments"),
    uploadError: $("upload-error"),
    transcript: $("transcript"),
    clear: $("clear"),
    composer: $("composer"),
    message: $("message"),
    composerHint: $("composer-hint"),
    status: $("status"),
    send: $("send"),
    stop: $("stop"),
    eventLog: $("event-log"),
    eventsEmpty: $("events-empty"),
    eventCount: $("event-count"),
    codeCurl: $("code-curl"),
    codePython: $("code-python"),
    latency: $("latency"),
    chaos: $("chaos"),
    chaosHint: $("chaos-hint"),
  };

  const STORAGE_KEY = "vivi-playground";
  const SCENARIO_HEADER = "x-vivi-scenario";
  const HTTP_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 413: "Payload Too Large", 415: "Unsupported Media Type",
    422: "Unprocessable Content", 429: "Too Many Requests", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
  };
  const ENDPOINT_HINTS = {
    stream: "Server-Sent Events, shown chunk by chunk.",
    invoke: "One JSON answer: the whole reply.",
    batch: "Each line of the message is one item of the batch.",
  };

  /** @type {{name: string, url: string}[]} */
  let attachments = [];
  /** @type {AbortController | null} */
  let inFlight = null;
  let eventTotal = 0;
  let lastSent = "";

  // ---------------------------------------------------------------- helpers

  function uuid4() {
    if (window.crypto && typeof crypto.randomUUID === "function") {
      return crypto.randomUUID(); // only in secure contexts (localhost, https)
    }
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function elapsed(start) {
    return performance.now() - start;
  }

  function formatMs(ms) {
    return ms < 10 ? `+${ms.toFixed(1)} ms` : `+${Math.round(ms).toLocaleString("en")} ms`;
  }

  function reason(response) {
    return response.statusText || HTTP_REASONS[response.status] || "";
  }

  function prettyBody(text) {
    if (!text) return "(empty body)";
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text;
    }
  }

  function endpoint() {
    const checked = document.querySelector('input[name="endpoint"]:checked');
    return checked ? checked.value : "stream";
  }

  function apiUrl(operation) {
    const channel = encodeURIComponent(ui.channel.value.trim());
    return `${location.origin}/channelsApi/${channel}/${operation}`;
  }

  function nearBottom(node) {
    return node.scrollHeight - node.scrollTop - node.clientHeight < 60;
  }

  function keepScrolled(node, wasNearBottom) {
    if (wasNearBottom) node.scrollTop = node.scrollHeight;
  }

  function setStatus(text, kind) {
    ui.status.textContent = text;
    ui.status.className = `status${kind ? ` ${kind}` : ""}`;
  }

  // ---------------------------------------------------------------- settings

  function saveSettings() {
    const settings = {
      channel: ui.channel.value,
      key: ui.key.value,
      userId: ui.userId.value,
      endpoint: endpoint(),
      scenario: scenarioName(),
    };
    try {
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify(settings));
    } catch {
      // storage unavailable (private mode): the fields simply start from the defaults
    }
  }

  function loadSettings() {
    const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? "";
    let saved = {};
    try {
      saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "{}") || {};
    } catch {
      saved = {};
    }
    ui.channel.value = saved.channel ?? meta("vivi-default-channel");
    ui.key.value = saved.key ?? meta("vivi-default-key");
    ui.userId.value = saved.userId ?? "";
    const radio = $(`endpoint-${saved.endpoint}`);
    if (radio) radio.checked = true;
    ui.thread.value = uuid4();
    return saved;
  }

  function onEndpointChange() {
    const current = endpoint();
    ui.endpointHint.textContent = ENDPOINT_HINTS[current];
    ui.composerHint.textContent =
      current === "batch"
        ? "One message per line · Ctrl+Enter sends"
        : "Enter sends · Shift+Enter: new line";
    saveSettings();
  }

  // ---------------------------------------------------------------- health and scenarios

  async function loadHealth() {
    try {
      const response = await fetch("/_emulator/health", { cache: "no-store" });
      const body = await response.json();
      ui.health.textContent = response.ok ? `v${body.version} · running` : `health ${response.status}`;
      ui.health.className = `pill ${response.ok ? "ok" : "bad"}`;
    } catch {
      ui.health.textContent = "unreachable";
      ui.health.className = "pill bad";
    }
  }

  /** @type {Map<string, {name: string, description?: string, matches?: boolean, default?: boolean}>} */
  const scenarios = new Map();

  let forcedByControl = null;

  function scenarioName() {
    return (ui.scenario.hidden ? ui.scenarioName.value : ui.scenario.value).trim();
  }

  function describeScenario() {
    const name = scenarioName();
    const chosen = scenarios.get(name);
    let text;
    if (!name) {
      text = forcedByControl
        ? `Every request gets "${forcedByControl}" now (forced through the control API).`
        : "The first scenario whose match holds, else the default one.";
    } else {
      text = `${chosen?.description || ""} Sent as the ${SCENARIO_HEADER} header.`.trim();
    }
    if (!ui.scenario.hidden || !name) ui.scenarioHint.textContent = text;
  }

  function typedScenarios(why) {
    // Without the list (the control API may need an admin token), a name can still be typed.
    ui.scenario.hidden = true;
    ui.scenarioName.hidden = false;
    ui.scenarioLabel.htmlFor = "scenario-name";
    ui.scenarioHint.textContent = `The scenario list is not available (${why}): type a name, or leave it empty for the automatic choice.`;
  }

  async function loadScenarios(wanted) {
    let list;
    try {
      const response = await fetch("/_emulator/scenarios", { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status} ${reason(response)}`);
      const answer = await response.json();
      list = answer.scenarios;
      forcedByControl = answer.forced || null;
      if (!Array.isArray(list)) throw new Error("unexpected answer");
    } catch (error) {
      typedScenarios(error.message);
      if (wanted) ui.scenarioName.value = wanted;
      return;
    }
    const matched = el("optgroup", { label: "Matched by the message" });
    const byName = el("optgroup", { label: "Chosen by name only" });
    for (const scenario of list) {
      scenarios.set(scenario.name, scenario);
      const label = scenario.default ? `${scenario.name} (default)` : scenario.name;
      const option = el("option", { value: scenario.name, text: label, title: scenario.description || null });
      (scenario.matches ? matched : byName).append(option);
    }
    if (matched.children.length) ui.scenario.append(matched);
    if (byName.children.length) ui.scenario.append(byName);
    if (wanted && scenarios.has(wanted)) ui.scenario.value = wanted;
    describeScenario();
  }

  // ---------------------------------------------------------------- latency and chaos

  /** @type {{chaos: object | null, description: string, source: string, configured: object | null} | null} */
  let chaosState = null;

  function channelQuery() {
    const channel = ui.channel.value.trim();
    return channel ? `?channel=${encodeURIComponent(channel)}` : "";
  }

  function showChaos(state) {
    chaosState = state;
    ui.chaos.disabled = false;
    ui.chaos.checked = state.chaos !== null;
    ui.chaosHint.textContent = state.chaos
      ? `On (${state.source}): ${state.description}.`
      : "Off: every request gets its scenario.";
  }

  async function loadRealism() {
    try {
      const [latency, chaos] = await Promise.all([
        fetch(`/_emulator/latency${channelQuery()}`, { cache: "no-store" }),
        fetch(`/_emulator/chaos${channelQuery()}`, { cache: "no-store" }),
      ]);
      const failed = [latency, chaos].find((response) => !response.ok);
      if (failed) throw new Error(`HTTP ${failed.status} ${reason(failed)}`);
      const pace = await latency.json();
      ui.latency.textContent = pace.description;
      ui.latency.title = `Set in the ${pace.source}.`;
      showChaos(await chaos.json());
    } catch (error) {
      // The control API may need an admin token (not on a loopback address).
      chaosState = null;
      ui.latency.textContent = "not available";
      ui.chaos.disabled = true;
      ui.chaosHint.textContent = `The control API is not available (${error.message}).`;
    }
  }

  async function toggleChaos() {
    const on = ui.chaos.checked;
    const url = `/_emulator/chaos${channelQuery()}`;
    ui.chaos.disabled = true;
    try {
      // On: the configured chaos if there is one, else the "flaky" mix; off: no faults.
      const response =
        on && chaosState?.configured
          ? await fetch(url, { method: "DELETE" })
          : await fetch(url, {
              method: "PUT",
              headers: { "Content-Type": "application/json" },
              body: JSON.stringify(on ? { preset: "flaky" } : { faults: [] }),
            });
      if (!response.ok) throw new Error(`HTTP ${response.status} ${reason(response)}`);
      showChaos(await response.json());
    } catch (error) {
      ui.chaos.checked = !on;
      ui.chaos.disabled = false;
      ui.chaosHint.textContent = `Chaos not changed: ${error.message}.`;
    }
  }

  async function showInjected(agent, thread) {
    // What chaos did to this request, from the journal (the client alone cannot tell).
    if (!chaosState?.chaos) return;
    try {
      const response = await fetch(`/_emulator/journal?thread=${encodeURIComponent(thread)}&limit=1`, { cache: "no-store" });
      if (!response.ok) return;
      const [entry] = (await response.json()).entries;
      const faults = entry ? (entry.items || [entry]).map((item) => item.fault).filter(Boolean) : [];
      for (const fault of faults) agent.badge(`chaos: ${fault}`, "chaos");
    } catch {
      // the journal is a bonus here: nothing to show
    }
  }

  // ---------------------------------------------------------------- uploads

  function renderAttachments() {
    ui.attachments.replaceChildren(
      ...attachments.map((file, index) => {
        const remove = el("button", {
          type: "button",
          class: "remove",
          "aria-label": `Remove ${file.name}`,
          title: "Remove",
          text: "×",
        });
        remove.addEventListener("click", () => {
          attachments.splice(index, 1);
          renderAttachments();
        });
        return el(
          "li",
          {},
          el("a", { href: file.url, target: "_blank", rel: "noopener", title: file.url, text: file.name }),
          remove,
        );
      }),
    );
  }

  function noticeCard(kind, title, lines, body) {
    return el(
      "div",
      { class: `notice ${kind}`, role: "alert" },
      el("h3", { text: title }),
      ...lines.map((line) => el("p", { text: line })),
      body === undefined ? null : el("pre", { text: body }),
    );
  }

  async function upload() {
    const chosen = Array.from(ui.files.files || []);
    if (!chosen.length) return;
    ui.uploadError.replaceChildren();
    const form = new FormData();
    for (const file of chosen) form.append("files", file, file.name);
    ui.files.disabled = true;
    try {
      const response = await fetch(apiUrl("files"), {
        method: "POST",
        headers: { "vivi-api-key": ui.key.value },
        body: form,
      });
      const text = await response.text();
      if (!response.ok) {
        ui.uploadError.replaceChildren(
          noticeCard("error", `Upload failed: HTTP ${response.status} ${reason(response)}`, [], prettyBody(text)),
        );
        return;
      }
      const urls = JSON.parse(text).urls || [];
      urls.forEach((url, index) => attachments.push({ name: chosen[index]?.name || url, url }));
      renderAttachments();
    } catch (error) {
      ui.uploadError.replaceChildren(noticeCard("error", "Upload failed: no answer", [String(error)]));
    } finally {
      ui.files.disabled = false;
      ui.files.value = "";
    }
  }

  // ---------------------------------------------------------------- the request

  function buildRequest() {
    const kind = endpoint();
    const text = ui.message.value;
    const item = (message) => {
      const body = { message, threadId: ui.thread.value.trim() };
      const userId = ui.userId.value.trim();
      if (userId) body.userId = userId;
      if (attachments.length) body.attachedFiles = attachments.map((file) => file.url);
      return body;
    };
    let messages = [text];
    let body;
    if (kind === "batch") {
      const lines = text.split("\n").filter((line) => line.trim() !== "");
      messages = lines.length ? lines : [text];
      body = { messages: messages.map(item) };
    } else {
      body = item(text);
    }
    const headers = { "Content-Type": "application/json", "vivi-api-key": ui.key.value };
    if (scenarioName()) headers[SCENARIO_HEADER] = scenarioName();
    const thread = ui.thread.value.trim();
    return { kind, url: apiUrl(kind), headers, body, payload: JSON.stringify(body), messages, thread };
  }

  // ---------------------------------------------------------------- snippets

  function shellQuote(value) {
    return `'${String(value).replace(/'/g, `'\\''`)}'`;
  }

  function curlSnippet(request) {
    const lines = [`curl ${request.kind === "stream" ? "-sN" : "-s"} ${shellQuote(request.url)}`];
    for (const [name, value] of Object.entries(request.headers)) {
      lines.push(`  -H ${shellQuote(`${name}: ${value}`)}`);
    }
    lines.push(`  -d ${shellQuote(request.payload)}`);
    return lines.join(" \\\n");
  }

  function pyLiteral(value, indent = 0) {
    const pad = "    ".repeat(indent + 1);
    const end = "    ".repeat(indent);
    if (value === null || value === undefined) return "None";
    if (value === true) return "True";
    if (value === false) return "False";
    if (typeof value === "number") return String(value);
    if (typeof value === "string") return JSON.stringify(value);
    if (Array.isArray(value)) {
      if (!value.length) return "[]";
      return `[\n${value.map((v) => `${pad}${pyLiteral(v, indent + 1)},`).join("\n")}\n${end}]`;
    }
    const entries = Object.entries(value);
    if (!entries.length) return "{}";
    return `{\n${entries.map(([k, v]) => `${pad}${JSON.stringify(k)}: ${pyLiteral(v, indent + 1)},`).join("\n")}\n${end}}`;
  }

  function pythonSnippet(request) {
    const lines = [
      "import requests",
      "",
      `url = ${JSON.stringify(request.url)}`,
      `headers = ${pyLiteral(request.headers)}`,
      `data = ${pyLiteral(request.body)}`,
    ];
    if (request.kind === "stream") {
      lines.push(
        "response = requests.post(url, headers=headers, json=data, stream=True, timeout=60)",
        "print(response.status_code)",
        "for line in response.iter_lines():",
        "    if line:",
        '        print(line.decode("utf-8"))',
      );
    } else {
      lines.push(
        "response = requests.post(url, headers=headers, json=data, timeout=60)",
        "print(response.status_code, response.json())",
      );
    }
    return lines.join("\n");
  }

  function renderSnippets(request) {
    ui.codeCurl.textContent = curlSnippet(request);
    ui.codePython.textContent = pythonSnippet(request);
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch {
        // fall through to the selection-based copy
      }
    }
    const area = el("textarea", { class: "visually-hidden", readonly: true });
    area.value = text;
    document.body.append(area);
    area.select();
    let copied = false;
    try {
      copied = document.execCommand("copy");
    } catch {
      copied = false;
    }
    area.remove();
    return copied;
  }

  function selectTab(tab) {
    for (const other of document.querySelectorAll('[role="tab"]')) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !selected;
    }
  }

  // ---------------------------------------------------------------- events panel

  function resetEvents() {
    ui.eventLog.replaceChildren();
    eventTotal = 0;
    ui.eventCount.textContent = "";
    ui.eventsEmpty.hidden = false;
  }

  function logRow(start, raw, kind, flag) {
    const wasNearBottom = nearBottom(ui.eventLog);
    const row = el(
      "li",
      { class: kind || null },
      el("time", { text: formatMs(elapsed(start)) }),
      el("span", { class: kind === "meta-row" ? "raw meta" : "raw", text: raw }, flag ? el("span", { class: "flag", text: flag }) : null),
    );
    ui.eventLog.append(row);
    ui.eventsEmpty.hidden = true;
    keepScrolled(ui.eventLog, wasNearBottom);
  }

  function countEvent() {
    eventTotal += 1;
    ui.eventCount.textContent = `${eventTotal} event${eventTotal === 1 ? "" : "s"}`;
  }

  // ---------------------------------------------------------------- conversation

  function clearEmpty() {
    ui.transcript.querySelector(".empty")?.remove();
  }

  function addUserTurn(text, detail) {
    clearEmpty();
    const wasNearBottom = nearBottom(ui.transcript);
    ui.transcript.append(
      el("div", { class: "turn user" }, el("span", { class: "who", text: detail }), el("div", { class: "bubble", text: text || "(empty message)" })),
    );
    keepScrolled(ui.transcript, wasNearBottom);
  }

  function addAgentTurn(label) {
    clearEmpty();
    const text = el("span", { class: "reply-text" });
    const badges = el("div", { class: "badges" });
    const bubble = el("div", { class: "bubble" }, badges, text);
    const turn = el("div", { class: "turn agent" }, el("span", { class: "who", text: label }), bubble);
    ui.transcript.append(turn);
    ui.transcript.scrollTop = ui.transcript.scrollHeight;
    return {
      turn,
      append(chunk) {
        const wasNearBottom = nearBottom(ui.transcript);
        bubble.classList.add("filled");
        text.append(chunk);
        keepScrolled(ui.transcript, wasNearBottom);
      },
      badge(label, kind) {
        bubble.classList.add("filled");
        badges.append(el("span", { class: kind ? `badge ${kind}` : "badge", text: label }));
      },
      notice(card) {
        const wasNearBottom = nearBottom(ui.transcript);
        turn.append(card);
        keepScrolled(ui.transcript, wasNearBottom);
      },
      get text() {
        return text.textContent;
      },
      set streaming(on) {
        turn.classList.toggle("streaming", on);
      },
    };
  }

  function httpErrorCard(response, text) {
    const lines = [];
    const retryAfter = response.headers.get("retry-after");
    if (retryAfter) lines.push(`Retry-After: ${retryAfter} s`);
    const type = response.headers.get("content-type");
    if (type) lines.push(`Content-Type: ${type}`);
    return noticeCard("error", `HTTP ${response.status} ${reason(response)}`.trim(), lines, prettyBody(text));
  }

  // ---------------------------------------------------------------- sending

  function setBusy(busy) {
    ui.send.disabled = busy;
    ui.stop.hidden = !busy;
  }

  async function send() {
    if (inFlight) return;
    const request = buildRequest();
    lastSent = ui.message.value;
    ui.message.value = "";
    renderSnippets(request);
    resetEvents();
    const details = [request.kind];
    if (scenarioName()) details.push(`scenario ${scenarioName()}`);
    if (attachments.length) details.push(`${attachments.length} file${attachments.length === 1 ? "" : "s"}`);
    if (request.kind === "batch") {
      request.messages.forEach((message, index) => addUserTurn(message, `${details.join(" · ")} · item ${index + 1}`));
    } else {
      addUserTurn(request.body.message, details.join(" · "));
    }
    const agent = addAgentTurn(`agent · ${request.kind}`);
    agent.streaming = true;
    const controller = new AbortController();
    inFlight = controller;
    setBusy(true);
    setStatus("Sending…");
    const start = performance.now();
    logRow(start, `POST ${new URL(request.url).pathname}`, "meta-row");
    try {
      let response;
      try {
        response = await fetch(request.url, {
          method: "POST",
          headers: request.headers,
          body: request.payload,
          signal: controller.signal,
          cache: "no-store",
        });
      } catch (error) {
        if (controller.signal.aborted) throw error;
        agent.notice(noticeCard("error", "No answer from the emulator", [String(error)]));
        setStatus("Network error", "bad");
        return;
      }
      const contentType = response.headers.get("content-type") || "";
      logRow(start, `HTTP ${response.status} ${reason(response)} · ${contentType || "no content type"}`, "meta-row");
      if (!response.ok) {
        const text = await response.text();
        logRow(start, text, "bad");
        agent.notice(httpErrorCard(response, text));
        setStatus(`HTTP ${response.status} ${reason(response)} in ${Math.round(elapsed(start))} ms`, "bad");
        return;
      }
      if (request.kind === "stream") {
        await readStream(response, start, agent, controller);
      } else {
        await readJson(request, response, start, agent);
      }
    } catch (error) {
      if (controller.signal.aborted) {
        agent.notice(noticeCard("warn", "Stopped", ["You stopped the request; the connection was closed."]));
        setStatus("Stopped");
      } else {
        agent.notice(noticeCard("error", "Unexpected error", [String(error)]));
        setStatus("Error", "bad");
      }
    } finally {
      agent.streaming = false;
      inFlight = null;
      setBusy(false);
      await showInjected(agent, request.thread);
    }
  }

  async function readJson(request, response, start, agent) {
    const text = await response.text();
    logRow(start, text);
    ui.eventCount.textContent = "one JSON answer";
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      agent.notice(noticeCard("error", "The answer is not JSON", [], text));
      setStatus("Invalid answer", "bad");
      return;
    }
    if (request.kind === "batch") {
      const replies = Array.isArray(body.responses) ? body.responses : [];
      agent.turn.remove();
      replies.forEach((reply, index) => {
        const item = addAgentTurn(`agent · batch · item ${index + 1}`);
        item.append(reply.message ?? "");
      });
    } else {
      agent.append(body.message ?? "");
    }
    setStatus(`HTTP ${response.status} ${reason(response)} in ${Math.round(elapsed(start))} ms`, "ok");
  }

  function dataOf(frame) {
    // An SSE frame: "data:" lines (joined by newlines); other lines are kept for display only.
    const data = [];
    for (const line of frame.split("\n")) {
      if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
    }
    return data.length ? data.join("\n") : null;
  }

  async function readStream(response, start, agent, controller) {
    const state = { ended: false, started: false, count: 0, firstAt: null };
    // The body's own reader, decoded here: a pipe (TextDecoderStream) would drop the chunks still
    // queued in it when the connection breaks, and a dropped stream must show what did arrive.
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";

    const onFrame = (frame) => {
      if (!frame.trim()) return;
      countEvent();
      state.count += 1;
      if (state.firstAt === null) state.firstAt = elapsed(start);
      const data = dataOf(frame);
      let event;
      try {
        event = data === null ? null : JSON.parse(data);
      } catch {
        event = null;
      }
      if (!event || typeof event !== "object") {
        logRow(start, frame, "bad", data === null ? "no data line" : "not JSON");
        agent.badge("malformed frame");
        return;
      }
      const name = String(event.event ?? "");
      const message = typeof event.message === "string" ? event.message : JSON.stringify(event.message);
      if (name === "on_chat_model_stream") {
        logRow(start, frame);
        agent.append(message);
      } else if (name === "on_chat_model_start") {
        state.started = true;
        logRow(start, frame);
      } else if (name === "on_chat_model_end") {
        state.ended = true;
        logRow(start, frame);
      } else if (/error/i.test(name)) {
        logRow(start, frame, "bad", "error event");
        agent.notice(noticeCard("error", `The agent reported an error (${name})`, [message]));
      } else {
        logRow(start, frame, "tool");
        agent.badge(message ? `${name}: ${message}` : name);
      }
    };

    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer = (buffer + decoder.decode(value, { stream: true })).replace(/\r\n?/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          onFrame(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
        }
      }
    } catch (error) {
      if (controller.signal.aborted) throw error;
      if (buffer.trim()) onFrame(buffer);
      logRow(start, `stream dropped: ${error}`, "bad", "dropped");
      agent.notice(
        noticeCard("error", "The stream was dropped", [
          `The connection closed after ${state.count} event${state.count === 1 ? "" : "s"} and ${Math.round(elapsed(start))} ms, before on_chat_model_end.`,
          `The reader said: ${error}`,
          ...(state.count === 0
            ? ["The browser may discard the bytes that arrived together with the break."]
            : []),
        ]),
      );
      setStatus(`Stream dropped after ${state.count} events`, "bad");
      return;
    }
    if (buffer.trim()) onFrame(buffer);
    logRow(start, "end of stream", "meta-row");
    const total = Math.round(elapsed(start));
    const first = state.firstAt === null ? "" : `, first after ${Math.round(state.firstAt)} ms`;
    if (!state.ended) {
      agent.notice(
        noticeCard("warn", "The stream ended without on_chat_model_end", [
          `${state.count} event${state.count === 1 ? "" : "s"} in ${total} ms. A client waiting for the end event would hang here.`,
        ]),
      );
      setStatus(`Incomplete stream: ${state.count} events in ${total} ms`, "bad");
      return;
    }
    setStatus(`HTTP ${response.status} · ${state.count} events${first} · done in ${total} ms`, "ok");
  }

  // ---------------------------------------------------------------- wiring

  function wire() {
    const saved = loadSettings();
    onEndpointChange();
    describeScenario();
    for (const input of [ui.channel, ui.key, ui.userId]) input.addEventListener("change", saveSettings);
    ui.channel.addEventListener("change", loadRealism);
    ui.chaos.addEventListener("change", toggleChaos);
    for (const radio of document.querySelectorAll('input[name="endpoint"]')) {
      radio.addEventListener("change", onEndpointChange);
    }
    for (const input of [ui.scenario, ui.scenarioName]) {
      input.addEventListener("change", () => {
        describeScenario();
        saveSettings();
      });
    }
    ui.newThread.addEventListener("click", () => {
      ui.thread.value = uuid4();
      ui.transcript.replaceChildren(el("p", { class: "empty", text: "New thread: the agent starts a new conversation." }));
      resetEvents();
      setStatus("");
    });
    ui.randomUser.addEventListener("click", () => {
      ui.userId.value = uuid4();
      saveSettings();
    });
    ui.clear.addEventListener("click", () => {
      ui.transcript.replaceChildren(el("p", { class: "empty", text: "Cleared. The thread goes on: use New thread to start over." }));
      resetEvents();
      setStatus("");
    });
    ui.files.addEventListener("change", upload);
    ui.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      send();
    });
    ui.message.addEventListener("keydown", (event) => {
      if (event.key === "ArrowUp" && !ui.message.value && lastSent) {
        event.preventDefault();
        ui.message.value = lastSent; // the last message, to send again or edit
        return;
      }
      if (event.key !== "Enter" || event.isComposing) return;
      const batch = endpoint() === "batch";
      if (batch ? event.ctrlKey || event.metaKey : !event.shiftKey) {
        event.preventDefault();
        send();
      }
    });
    ui.stop.addEventListener("click", () => inFlight?.abort());
    for (const tab of document.querySelectorAll('[role="tab"]')) {
      tab.addEventListener("click", () => selectTab(tab));
      tab.addEventListener("keydown", (event) => {
        if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
        const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
        const next = tabs[(tabs.indexOf(tab) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
        selectTab(next);
        next.focus();
      });
    }
    for (const button of document.querySelectorAll("[data-copy]")) {
      const label = button.textContent;
      button.addEventListener("click", async () => {
        const copied = await copyText($(button.dataset.copy).textContent);
        button.textContent = copied ? "Copied" : "Copy failed";
        setTimeout(() => {
          button.textContent = label;
        }, 1500);
      });
    }
    loadHealth();
    loadScenarios(saved.scenario);
    loadRealism();
  }

  wire();
})();
