import { AbstractStartedContainer, GenericContainer, StartedTestContainer } from "testcontainers";

export declare const DEFAULT_IMAGE: string;
export declare const PORT: number;
export declare const ADMIN_HEADER: string;

export interface ViviEmulatorOptions {
  channelId?: string;
  apiKey?: string;
  adminToken?: string;
}

export interface JournalEntry {
  id: number;
  time: string;
  method: string;
  path: string;
  channel: string;
  headers: Record<string, string>;
  status: number;
  body: unknown;
  thread: string | null;
  turn: number | null;
  scenario: string | null;
  chosen_by: string | null;
  fault: string | null;
  events: Array<Record<string, string>> | null;
  error: string | null;
  client_left: boolean;
  duration_ms: number;
  [field: string]: unknown;
}

export declare class ViviEmulatorContainer extends GenericContainer {
  constructor(image?: string, options?: ViviEmulatorOptions);
  withFixtures(folder: string): this;
  withSettings(file: string): this;
  withLatency(profile: string): this;
  withChaos(chaos: Record<string, unknown>): this;
  withRedis(url: string): this;
  start(): Promise<StartedViviEmulatorContainer>;
}

export declare class StartedViviEmulatorContainer extends AbstractStartedContainer {
  constructor(started: StartedTestContainer, options: Required<ViviEmulatorOptions>);
  getBaseUrl(): string;
  getChannelId(): string;
  getApiKey(): string;
  getAdminToken(): string;
  getApiUrl(operation: string, channelId?: string): string;
  getStreamUrl(): string;
  control(
    method: string,
    path: string,
    options?: { query?: Record<string, string | undefined>; body?: unknown },
  ): Promise<any>;
  queueReply(reply: Record<string, unknown>, options?: { channel?: string }): Promise<string>;
  journal(options?: { channel?: string; thread?: string }): Promise<JournalEntry[]>;
  reset(options?: { channel?: string }): Promise<void>;
}
