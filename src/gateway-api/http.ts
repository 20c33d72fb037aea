/**
 * The HTTP plumbing both gateway clients share: bearer-authenticated JSON requests, the gateway's error
 * bodies turned into GatewayApiError, and retries of what may pass (network errors, 429, 5xx) but never
 * of a refusal.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ErrorBody } from "./contract.js";

export interface GatewayCredentials {
  /** Base URL, e.g. https://submit.example.org (see credentials.ts). */
  server: string;
  /** A participant token (pct_…) or a runner credential (prc_…). */
  token: string;
}

/** The gateway answered with an error (or could not be reached: status undefined). */
export class GatewayApiError extends Error {
  override name = "GatewayApiError";
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly body: ErrorBody | undefined,
  ) {
    super(message);
  }

  /** Worth trying again: the gateway was unreachable, busy or failing, not refusing. */
  get transient(): boolean {
    return this.status === undefined || this.status === 429 || this.status >= 500;
  }
}

export function apiError(status: number, text: string): GatewayApiError {
  let body: ErrorBody | undefined;
  try {
    const parsed = JSON.parse(text) as ErrorBody;
    if (typeof parsed?.error === "string" && typeof parsed.message === "string") body = parsed;
  } catch {
    // not our JSON (e.g. a proxy's page)
  }
  const message = body
    ? body.message
    : `the gateway answered ${status}${text ? `: ${text.slice(0, 300)}` : ""}`;
  return new GatewayApiError(message, status, body);
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT";
  body?: unknown;
  /** A body sent as it is, instead of `body` as JSON (e.g. a file, with `fs.openAsBlob`). */
  blob?: { type: string; data: Blob };
  /** More headers (e.g. a claim's). */
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Tries after the first for transient failures (default 0), waiting retryBaseMs × 2^(n-1) (default 1 s). */
  retries?: number;
  retryBaseMs?: number;
  /** Aborts the request (and its retries): a GatewayApiError with no status. */
  signal?: AbortSignal;
}

export async function requestJson<T>(
  credentials: GatewayCredentials,
  route: string,
  options: RequestOptions = {},
): Promise<T> {
  const retries = options.retries ?? 0;
  const base = options.retryBaseMs ?? 1000;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await requestOnce<T>(credentials, route, options);
    } catch (error) {
      if (!(error instanceof GatewayApiError) || !error.transient || attempt >= retries) throw error;
      if (options.signal?.aborted) throw error;
      await sleep(base * 2 ** attempt);
    }
  }
}

async function requestOnce<T>(
  credentials: GatewayCredentials,
  route: string,
  options: RequestOptions,
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${credentials.server}${route}`, {
      method: options.method ?? "GET",
      headers: {
        authorization: `Bearer ${credentials.token}`,
        accept: "application/json",
        ...(options.body !== undefined && { "content-type": "application/json" }),
        ...(options.blob !== undefined && { "content-type": options.blob.type }),
        ...options.headers,
      },
      ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
      ...(options.blob !== undefined && { body: options.blob.data }),
      signal: options.signal
        ? AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs ?? 30_000)])
        : AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (error) {
    throw new GatewayApiError(
      `could not reach the gateway at ${credentials.server}: ${(error as Error).message}`,
      undefined,
      undefined,
    );
  }
  const text = await response.text();
  if (!response.ok) throw apiError(response.status, text);
  return JSON.parse(text) as T;
}
