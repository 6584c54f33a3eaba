// ViviEmulatorContainer against a real container engine and the emulator's image (the repo's
// scripts/test-containers runs it on podman's Docker-compatible socket): start through the
// module, a real /stream request, the journal, the queue and reset.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";

import { ViviEmulatorContainer } from "../src/index.js";

const IMAGE = process.env.VIVI_TEST_IMAGE ?? "localhost/vivi-emulator:smoke";
const FIXTURE = `scenarios:
  - name: from-node
    match: {message: {equals: ping}}
    text: pong from node
`;

let vivi;

before(async () => {
  const folder = mkdtempSync(join(tmpdir(), "vivi-fixtures-"));
  writeFileSync(join(folder, "node.yaml"), FIXTURE);
  const settings = join(mkdtempSync(join(tmpdir(), "vivi-settings-")), "vivi.yaml");
  writeFileSync(settings, "journal_size: 55\n");
  vivi = await new ViviEmulatorContainer(IMAGE, { channelId: "node-channel", apiKey: "node-key-7" })
    .withFixtures(folder)
    .withSettings(settings)
    .withLatency("none")
    .start();
});

after(async () => {
  await vivi?.stop();
});

// The SSE events of a body, as VIVI frames them: `data: <json>` and a blank line.
function events(text) {
  return text
    .split("\n\n")
    .filter((frame) => frame.startsWith("data: "))
    .map((frame) => JSON.parse(frame.slice("data: ".length)));
}

async function stream(message) {
  const threadId = randomUUID();
  const response = await fetch(vivi.getStreamUrl(), {
    method: "POST",
    headers: { "vivi-api-key": vivi.getApiKey(), "content-type": "application/json" },
    body: JSON.stringify({ message, threadId }),
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type"), /^text\/event-stream/);
  return { threadId, events: events(await response.text()) };
}

const chunks = (list) =>
  list
    .filter((e) => e.event === "on_chat_model_stream")
    .map((e) => e.message)
    .join("");

test("a stream through the container is in its journal", async () => {
  await vivi.reset();
  const { threadId, events: received } = await stream("ping");
  assert.equal(chunks(received), "pong from node");
  const [entry, ...rest] = await vivi.journal({ thread: threadId });
  assert.equal(rest.length, 0);
  assert.equal(entry.channel, "node-channel");
  assert.equal(entry.scenario, "from-node");
  assert.equal(entry.status, 200);
  assert.equal(entry.headers["vivi-api-key"], "[redacted]");
});

test("queue, reset, settings and the admin token", async () => {
  await vivi.reset();
  const name = await vivi.queueReply({ text: "queued from node" });
  const { threadId, events: received } = await stream("anything");
  assert.equal(chunks(received), "queued from node");
  assert.equal((await vivi.journal({ thread: threadId }))[0].scenario, name);
  await vivi.reset();
  assert.deepEqual(await vivi.journal(), []);
  const usage = await vivi.control("GET", "/usage");
  assert.equal(usage.bounds.journal_size, 55);
  const refused = await fetch(`${vivi.getBaseUrl()}/_emulator/journal`);
  assert.equal(refused.status, 401);
});
