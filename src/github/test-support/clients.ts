/** Test helpers: a fake GitHub and clients tuned for it (tiny waits, no write pacing). Not public API. */
import { createGitHubClient, type GitHubClient, type GitHubClientOptions } from "../client.js";
import type { FakeGitHub } from "./fake-github.js";

export interface CapturingLogger {
  debug(message: string): void;
  warn(message: string): void;
  warnings: string[];
}

export function capturingLogger(): CapturingLogger {
  const warnings: string[] = [];
  return { debug: () => {}, warn: (m) => warnings.push(m), warnings };
}

/** A client for `fake`: retries as in production, but waits milliseconds instead of seconds. */
export function fastClient(fake: FakeGitHub, overrides: Partial<GitHubClientOptions> = {}): GitHubClient {
  return createGitHubClient({
    token: fake.token,
    baseUrl: fake.url,
    retryBaseMs: 1,
    rateLimitBaseMs: 5,
    writeIntervalMs: 0,
    notifyIntervalMs: 0,
    logger: capturingLogger(),
    ...overrides,
  });
}
