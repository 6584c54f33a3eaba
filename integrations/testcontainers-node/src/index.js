// A Testcontainers module for vivi-emulator (the VIVI channelsApi emulator): starts its image,
// waits until /_emulator/health answers, and gives a test the base URL, a channel id and its key,
// the admin token, and the control calls (queue a reply, read the journal, reset).
//
// In a container the emulator listens on every address, so its control API needs an admin token:
// the module makes one (or takes yours) and sends it with each control call. Configuration goes in
// through the environment and copied files, never the command line. Fixtures and a settings file
// are copied in before the container starts (a bind mount would need the container's user, uid
// 10001, to read the host's folder).
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";

import { AbstractStartedContainer, GenericContainer, Wait } from "testcontainers";

export const DEFAULT_IMAGE = "vivi-emulator:latest";
export const PORT = 8000;
export const ADMIN_HEADER = "x-vivi-admin-token";
const FIXTURES_DIR = "/vivi/fixtures";

function filesUnder(folder) {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name))
    .sort();
}

export class ViviEmulatorContainer extends GenericContainer {
  /**
   * @param {string} [image]
   * @param {{channelId?: string, apiKey?: string, adminToken?: string}} [options]
   */
  constructor(image = DEFAULT_IMAGE, options = {}) {
    super(image);
    this.channelId = options.channelId ?? "demo-channel";
    this.apiKey = options.apiKey ?? "demo-key";
    this.adminToken = options.adminToken ?? randomBytes(18).toString("base64url");
    this.viviEnv = {
      VIVI_EMULATOR_CHANNELS: `${this.channelId}=${this.apiKey}`,
      VIVI_EMULATOR_ADMIN_TOKEN: this.adminToken,
      // Tests want answers at once unless they ask for pacing (withLatency).
      VIVI_EMULATOR_LATENCY: "none",
    };
    this.withExposedPorts(PORT).withWaitStrategy(
      Wait.forHttp("/_emulator/health", PORT).forStatusCode(200),
    );
  }

  /** A folder of scenario files (its *.yaml), copied in with everything under it. */
  withFixtures(folder) {
    const contents = filesUnder(folder).map((file) => ({
      content: readFileSync(file),
      target: `${FIXTURES_DIR}/${relative(folder, file).split(sep).join("/")}`,
      mode: 0o644,
    }));
    this.withCopyContentToContainer(contents);
    this.viviEnv.VIVI_EMULATOR_FIXTURES = FIXTURES_DIR;
    return this;
  }

  /** A YAML or TOML settings file, copied in (the channel given here still wins). */
  withSettings(file) {
    const target = `/vivi/settings${extname(file)}`;
    this.withCopyContentToContainer([{ content: readFileSync(file), target, mode: 0o644 }]);
    this.viviEnv.VIVI_EMULATOR_CONFIG = target;
    return this;
  }

  /** A latency profile by name ("none", "realistic"). */
  withLatency(profile) {
    this.viviEnv.VIVI_EMULATOR_LATENCY = profile;
    return this;
  }

  /** Faults at a rate, as the settings' chaos: {preset: "flaky"}, {faults: [...]}. */
  withChaos(chaos) {
    this.viviEnv.VIVI_EMULATOR_CHAOS = JSON.stringify(chaos);
    return this;
  }

  /** Keep the state in Redis (shared with other emulators on the same Redis). */
  withRedis(url) {
    this.viviEnv.VIVI_EMULATOR_STATE = url;
    return this;
  }

  async start() {
    this.withEnvironment(this.viviEnv);
    const started = await super.start();
    return new StartedViviEmulatorContainer(started, {
      channelId: this.channelId,
      apiKey: this.apiKey,
      adminToken: this.adminToken,
    });
  }
}

export class StartedViviEmulatorContainer extends AbstractStartedContainer {
  constructor(started, { channelId, apiKey, adminToken }) {
    super(started);
    this.channelId = channelId;
    this.apiKey = apiKey;
    this.adminToken = adminToken;
  }

  getBaseUrl() {
    const host = this.getHost();
    const shown = host.includes(":") ? `[${host}]` : host;
    return `http://${shown}:${this.getMappedPort(PORT)}`;
  }

  getChannelId() {
    return this.channelId;
  }

  getApiKey() {
    return this.apiKey;
  }

  getAdminToken() {
    return this.adminToken;
  }

  /** The URL of a VIVI operation (stream, invoke, batch, files) of a channel. */
  getApiUrl(operation, channelId = this.channelId) {
    return `${this.getBaseUrl()}/channelsApi/${encodeURIComponent(channelId)}/${operation}`;
  }

  getStreamUrl() {
    return this.getApiUrl("stream");
  }

  async control(method, path, { query = {}, body } = {}) {
    const url = new URL(`${this.getBaseUrl()}/_emulator${path}`);
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(name, value);
    }
    const headers = { [ADMIN_HEADER]: this.adminToken };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`vivi-emulator: ${method} /_emulator${path} answered ${response.status}: ${text.slice(0, 500)}`);
    }
    return JSON.parse(text);
  }

  /** Queue a one-shot answer (a fixture scenario, e.g. {text: "Hi"}); resolves to its name. */
  async queueReply(reply, { channel } = {}) {
    return (await this.control("POST", "/queue", { query: { channel }, body: reply })).name;
  }

  /** The requests the emulator was sent, oldest first. */
  async journal({ channel, thread } = {}) {
    return (await this.control("GET", "/journal", { query: { channel, thread } })).entries;
  }

  /** Forget threads, files, journal, queue (of one channel, or all). */
  async reset({ channel } = {}) {
    await this.control("POST", "/reset", { query: { channel } });
  }
}
