// A small VIVI client, standing in for *your* integration code under test: it streams the
// agent's reply with fetch and reads the Server-Sent Events as they arrive.
import { randomUUID } from "node:crypto";

/**
 * Stream the agent's reply; call onToken(text, msSinceRequest) per chunk; return it joined.
 * Throws on an HTTP error (err.status), a broken stream, or a stream without its end event.
 */
export async function ask(message, { baseUrl, channelId, apiKey, threadId, onToken, signal }) {
  const started = performance.now();
  const response = await fetch(`${baseUrl}/channelsApi/${channelId}/stream`, {
    method: "POST",
    headers: { "content-type": "application/json", "vivi-api-key": apiKey },
    body: JSON.stringify({ message, threadId: threadId ?? randomUUID() }),
    signal,
  });
  if (!response.ok) {
    const error = new Error(`VIVI answered ${response.status}: ${await response.text()}`);
    error.status = response.status;
    throw error;
  }
  let reply = "";
  for await (const event of events(response.body)) {
    if (event.event === "on_chat_model_stream") {
      reply += event.message;
      onToken?.(event.message, performance.now() - started);
    } else if (event.event === "on_chat_model_end") {
      return reply;
    } else if (event.event.endsWith("_error")) {
      throw new Error(`the agent failed: ${event.message}`);
    }
  }
  throw new Error("the stream ended without on_chat_model_end");
}

// SSE frames are separated by a blank line; each of VIVI's frames is one `data: <json>` line.
async function* events(body) {
  let buffer = "";
  for await (const text of body.pipeThrough(new TextDecoderStream())) {
    buffer += text.replaceAll("\r\n", "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (data) yield JSON.parse(data);
    }
  }
}
