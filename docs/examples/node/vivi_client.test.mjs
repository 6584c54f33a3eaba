// Testing a JavaScript VIVI integration with Node's own test runner and the emulator:
//   node --test docs/examples/node/            (starts `vivi-emulator serve` itself)
//   VIVI_EMULATOR_URL=http://127.0.0.1:8000 node --test docs/examples/node/
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, test } from "node:test";

import { startEmulator } from "./emulator.mjs";
import { ask } from "./vivi_client.mjs";

let emulator;
let vivi; // this test's channel

before(async () => {
  emulator = await startEmulator();
});
after(() => emulator?.stop());
beforeEach(async () => {
  vivi = await emulator.openChannel();
});
afterEach(() => vivi.close());

const where = () => ({ baseUrl: vivi.baseUrl, channelId: vivi.channelId, apiKey: vivi.apiKey });

test("a scripted reply arrives chunk by chunk and is joined", async () => {
  await vivi.queueReply({ text: "Your order has shipped." });
  const tokens = [];
  const reply = await ask("where is my order?", { ...where(), onToken: (t) => tokens.push(t) });
  assert.equal(reply, "Your order has shipped.");
  assert.deepEqual(tokens, ["Your", " order", " has", " ship", "ped", "."]);
  const [request] = await vivi.journal();
  assert.equal(request.body.message, "where is my order?");
  assert.equal(request.headers["vivi-api-key"], "[redacted]");
  assert.equal(request.chosen_by, "queue");
});

test("the first token of a slow reply arrives about a second after the request", async () => {
  await vivi.force("slow");
  const started = performance.now();
  const arrivals = [];
  await ask("hi", { ...where(), onToken: (_, ms) => arrivals.push(ms) });
  const end = performance.now() - started;
  assert.ok(arrivals[0] >= 900, `first token after ${arrivals[0]} ms`);
  // The rest streams in after it (about 50 ms a chunk), not all at once at the end.
  assert.ok(end - arrivals[0] >= 500, `first token at ${arrivals[0]} ms, end at ${end} ms`);
});

test("a dropped connection is fetch's own error", async () => {
  await vivi.force("disconnect");
  await assert.rejects(ask("hi", where()), { name: "TypeError", message: "terminated" });
});

test("a stalled stream trips the client's timeout", async () => {
  await vivi.force("stall");
  // The signal's TimeoutError (Node 20 and later), or an AbortError (Node 18).
  await assert.rejects(ask("hi", { ...where(), signal: AbortSignal.timeout(500) }), {
    name: /^(TimeoutError|AbortError)$/,
  });
});

test("a rate limit is an error with its status", async () => {
  await vivi.force("rate-limited");
  await assert.rejects(ask("hi", where()), { status: 429 });
});
