// The VIVI emulator for Node tests: a running one (VIVI_EMULATOR_URL, e.g. the container of a
// compose file), or one this file starts with the CLI; each test gets a channel and key of its
// own, scripted through the emulator's control API (/_emulator). No npm packages needed.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { accessSync, constants } from "node:fs";
import { createServer } from "node:net";
import { delimiter, dirname, join } from "node:path";

const ADMIN_TOKEN = process.env.VIVI_EMULATOR_ADMIN_TOKEN; // only a non-loopback one needs it

// The command to start: VIVI_EMULATOR_CLI, else `vivi-emulator` on the PATH, else the one in the
// nearest .venv from the working directory up (a project's own virtualenv, not activated).
export function findCli(env = process.env, from = process.cwd()) {
  if (env.VIVI_EMULATOR_CLI) return env.VIVI_EMULATOR_CLI;
  const onPath = (env.PATH ?? "").split(delimiter).filter(Boolean).map((d) => join(d, "vivi-emulator"));
  const inVenvs = [];
  for (let dir = from; ; dir = dirname(dir)) {
    inVenvs.push(join(dir, ".venv", "bin", "vivi-emulator"));
    if (dirname(dir) === dir) break;
  }
  const found = [...onPath, ...inVenvs].find(isExecutable);
  if (found) return found;
  throw new Error(
    "vivi-emulator not found on the PATH nor in a .venv from here up: install it " +
      "(pip install vivi-emulator, or scripts/setup in a clone), or set VIVI_EMULATOR_CLI",
  );
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function startEmulator({ cli } = {}) {
  if (process.env.VIVI_EMULATOR_URL) {
    return new Emulator(process.env.VIVI_EMULATOR_URL.replace(/\/+$/, ""), null);
  }
  cli ??= findCli();
  const port = await freePort();
  // --latency none: replies at once, as in the pytest fixture (serve alone types like an agent).
  const args = ["serve", "--host", "127.0.0.1", "--port", String(port), "--no-access-log", "--latency", "none"];
  const child = spawn(cli, args, {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const emulator = new Emulator(`http://127.0.0.1:${port}`, child);
  await emulator.waitHealthy();
  return emulator;
}

class Emulator {
  constructor(baseUrl, child) {
    this.baseUrl = baseUrl;
    this.child = child;
  }

  async waitHealthy(timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    const exited = once(this.child, "exit").then(([code]) => {
      throw new Error(`vivi-emulator exited with ${code} while starting`);
    });
    exited.catch(() => {}); // raced below; unhandled only if nobody waits
    while (Date.now() < deadline) {
      try {
        const health = await Promise.race([fetch(`${this.baseUrl}/_emulator/health`), exited]);
        if (health.ok) return;
      } catch (error) {
        if (this.child.exitCode !== null) throw error;
      }
      await Promise.race([new Promise((done) => setTimeout(done, 50)), exited]);
    }
    throw new Error(`vivi-emulator did not answer at ${this.baseUrl} within ${timeoutMs} ms`);
  }

  async control(method, path, body) {
    const response = await fetch(`${this.baseUrl}/_emulator${path}`, {
      method,
      headers: {
        "content-type": "application/json",
        ...(ADMIN_TOKEN ? { "x-vivi-admin-token": ADMIN_TOKEN } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) {
      throw new Error(`control ${method} ${path}: ${response.status} ${await response.text()}`);
    }
    return response.json();
  }

  async openChannel() {
    const id = `node-${randomUUID()}`;
    const { key } = await this.control("POST", "/channels", { id });
    return new Channel(this, id, key);
  }

  async stop() {
    if (this.child && this.child.exitCode === null) {
      const exited = once(this.child, "exit");
      this.child.kill("SIGTERM");
      await exited;
    }
  }
}

// One test's channel: its queue, forced scenario and journal are its own.
class Channel {
  constructor(emulator, id, key) {
    this.emulator = emulator;
    this.baseUrl = emulator.baseUrl;
    this.channelId = id;
    this.apiKey = key;
  }

  queueReply(scenario) {
    return this.emulator.control("POST", `/queue?channel=${this.channelId}`, scenario);
  }

  force(scenario) {
    return this.emulator.control("PUT", "/forced", { scenario, channel: this.channelId });
  }

  async journal() {
    return (await this.emulator.control("GET", `/journal?channel=${this.channelId}`)).entries;
  }

  close() {
    return this.emulator.control("DELETE", `/channels/${this.channelId}`);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
