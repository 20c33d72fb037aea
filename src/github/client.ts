/**
 * The one place an Octokit is made. A client retries what is worth retrying and nothing else:
 *
 * - 5xx answers and network failures: plugin-retry, `retries` times, waiting (n)² × `retryBaseMs`;
 * - secondary rate limits (403/429 "secondary rate limit"): plugin-throttling, honouring `retry-after`
 *   (or `fallbackSecondaryRetryAfterS` when absent), at most `retries` times;
 * - the primary rate limit (403 with `x-ratelimit-remaining: 0`): waits until `x-ratelimit-reset`, at most
 *   `retries` times and only if that is no more than `maxRateLimitWaitS` away;
 * - never 4xx otherwise (401 bad credentials, 403 permissions, 404, 409/422 conflicts are answers, not
 *   accidents: callers decide).
 *
 * Writes are paced as GitHub asks (one at a time per token, `writeIntervalMs` apart; writes that notify
 * people, such as issues and comments, `notifyIntervalMs` apart), shared by every client of the same token
 * and host in this process. Each request attempt times out after `requestTimeoutMs`.
 */
import { createHash } from "node:crypto";
import { Octokit } from "@octokit/rest";
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import Bottleneck from "bottleneck/light.js";

/** Any Octokit with the REST methods; `createGitHubClient` makes one with retries and throttling. */
export type GitHubClient = Octokit;

/** Where the client reports retries and waits. `console` fits; so does an adapter to @actions/core. */
export interface GitHubLogger {
  debug(message: string): void;
  warn(message: string): void;
}

export interface GitHubClientOptions {
  /** A token: GITHUB_TOKEN, a fine-grained or classic PAT, or an installation token. */
  token: string;
  /** REST API root (default https://api.github.com; GHES: https://HOST/api/v3). */
  baseUrl?: string;
  userAgent?: string;
  /** How many times to retry a 5xx, a network failure, or a rate-limited request (default 3). */
  retries?: number;
  /** 5xx backoff unit: retry n waits n² × this (default 1000 ms). */
  retryBaseMs?: number;
  /** A rate-limit wait of N seconds sleeps N × this (default 1000 ms; tests make it small). */
  rateLimitBaseMs?: number;
  /** Seconds to wait on a secondary rate limit that sent no `retry-after` (default 60). */
  fallbackSecondaryRetryAfterS?: number;
  /** Give up instead of waiting longer than this for the primary rate limit to reset (default 900 s). */
  maxRateLimitWaitS?: number;
  /** Minimum spacing of writes per token (default 1000 ms, as GitHub asks). */
  writeIntervalMs?: number;
  /** Minimum spacing of writes that notify people: issues, comments (default 3000 ms). */
  notifyIntervalMs?: number;
  /** Timeout of one request attempt (default 30 000 ms); a timed-out attempt is retried like a 5xx. */
  requestTimeoutMs?: number;
  logger?: GitHubLogger;
}

const ProctorOctokit = Octokit.plugin(retry, throttling);

/** Statuses plugin-retry must leave alone: answers to act on, or plugin-throttling's business (403, 429). */
const DO_NOT_RETRY = [400, 401, 403, 404, 409, 410, 422, 429, 451];

const silent: GitHubLogger = { debug: () => {}, warn: (m) => console.warn(m) };

interface PacingGroups {
  write: Bottleneck.Group;
  notifications: Bottleneck.Group;
}

/** Pacing groups per interval pair; keyed inside by the throttle id (one per token and host). */
const pacing = new Map<string, PacingGroups>();

function pacingGroups(writeIntervalMs: number, notifyIntervalMs: number): PacingGroups {
  const key = `${writeIntervalMs}/${notifyIntervalMs}`;
  let groups = pacing.get(key);
  if (groups === undefined) {
    groups = {
      write: new Bottleneck.Group({ maxConcurrent: 1, minTime: writeIntervalMs }),
      notifications: new Bottleneck.Group({ maxConcurrent: 1, minTime: notifyIntervalMs }),
    };
    pacing.set(key, groups);
  }
  return groups;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) {
    throw new RangeError(`createGitHubClient: ${name} must be a non-negative number, got ${String(value)}`);
  }
  return v;
}

/** fetch with a per-attempt timeout (an abort the caller asked for still wins). */
function fetchWithTimeout(timeoutMs: number): typeof fetch {
  return (input, init) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    return globalThis.fetch(input, { ...init, signal });
  };
}

export function createGitHubClient(options: GitHubClientOptions): GitHubClient {
  if (typeof options.token !== "string" || options.token.trim() === "") {
    throw new TypeError(
      "createGitHubClient: no GitHub token given; pass the token (e.g. GITHUB_TOKEN or a secret) as `token`",
    );
  }
  const baseUrl = (options.baseUrl ?? "https://api.github.com").replace(/\/+$/, "");
  const retries = Math.floor(nonNegative("retries", options.retries, 3));
  const maxWait = nonNegative("maxRateLimitWaitS", options.maxRateLimitWaitS, 900);
  const logger = options.logger ?? silent;
  const groups = pacingGroups(
    nonNegative("writeIntervalMs", options.writeIntervalMs, 1000),
    nonNegative("notifyIntervalMs", options.notifyIntervalMs, 3000),
  );
  // Pacing is per token and host, never logged: the id is a hash.
  const id = createHash("sha256").update(`${baseUrl}\n${options.token}`).digest("hex").slice(0, 16);

  const onLimit =
    (kind: string) =>
    (
      retryAfter: number,
      request: { method: string; url: string },
      _octokit: unknown,
      retryCount: number,
    ): boolean => {
      const what = `${request.method} ${request.url}`;
      if (retryCount >= retries) {
        logger.warn(`GitHub ${kind} on ${what}: giving up after ${retryCount} retries`);
        return false;
      }
      if (retryAfter > maxWait) {
        logger.warn(
          `GitHub ${kind} on ${what}: it resets in ${retryAfter}s, more than the ${maxWait}s this client waits; giving up`,
        );
        return false;
      }
      logger.warn(
        `GitHub ${kind} on ${what}: retrying after ${retryAfter}s (retry ${retryCount + 1} of ${retries})`,
      );
      return true;
    };

  return new ProctorOctokit({
    auth: options.token,
    baseUrl,
    userAgent: options.userAgent ?? "proctor",
    log: {
      // Octokit logs one line per request (info/error) and its options (debug): keep only lines, no objects.
      debug: () => {},
      info: (message: string) => logger.debug(message),
      warn: (message: string) => logger.warn(message),
      error: (message: string) => logger.debug(message),
    },
    request: {
      fetch: fetchWithTimeout(nonNegative("requestTimeoutMs", options.requestTimeoutMs, 30_000)),
    },
    retry: {
      retries,
      retryAfterBaseValue: nonNegative("retryBaseMs", options.retryBaseMs, 1000),
      doNotRetry: DO_NOT_RETRY,
    },
    throttle: {
      id,
      write: groups.write,
      notifications: groups.notifications,
      retryAfterBaseValue: nonNegative("rateLimitBaseMs", options.rateLimitBaseMs, 1000),
      fallbackSecondaryRateRetryAfter: nonNegative(
        "fallbackSecondaryRetryAfterS",
        options.fallbackSecondaryRetryAfterS,
        60,
      ),
      onRateLimit: onLimit("rate limit exhausted"),
      onSecondaryRateLimit: onLimit("secondary rate limit"),
    },
  });
}
