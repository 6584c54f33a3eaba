// A simple streaming client with Node's fetch: frames split on a blank line ("\n\n"),
// `data: ` lines parsed as JSON. The kind of parser many integrations start with.
//
// Prints the reply's text as it streams; a failed request or a broken stream exits non-zero.
// Run it against `scripts/serve`: node docs/examples/node_stream.mjs "hello"
// (VIVI_BASE_URL, VIVI_CHANNEL_ID and VIVI_API_KEY override the emulator's defaults.)

const base = process.env.VIVI_BASE_URL ?? "http://127.0.0.1:8000";
const channelId = process.env.VIVI_CHANNEL_ID ?? "demo-channel";
const apiKey = process.env.VIVI_API_KEY ?? "demo-key";
const message = process.argv[2] ?? "hello";

const response = await fetch(`${base}/channelsApi/${channelId}/stream`, {
  method: "POST",
  headers: { "Content-Type": "application/json", "vivi-api-key": apiKey },
  body: JSON.stringify({ message, threadId: "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10" }),
});
if (!response.ok) {
  console.error(`HTTP ${response.status}`);
  process.exit(1);
}

const decoder = new TextDecoder();
let buffer = "";
for await (const bytes of response.body) {
  buffer += decoder.decode(bytes, { stream: true });
  let end;
  while ((end = buffer.indexOf("\n\n")) !== -1) {
    const frame = buffer.slice(0, end);
    buffer = buffer.slice(end + 2);
    for (const line of frame.split("\n")) {
      if (line.startsWith("data: ")) {
        const event = JSON.parse(line.slice("data: ".length));
        if (event.event === "on_chat_model_stream") process.stdout.write(event.message);
      }
    }
  }
}
process.stdout.write("\n");
