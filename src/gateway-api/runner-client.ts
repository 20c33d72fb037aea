/**
 * The runner's client of the gateway (contract.ts, claims.ts, result-report.ts), authenticated with the
 * runner credential: claim a submission (the next of a kind, or by id), keep the claim (heartbeats) or give
 * it back, read a submission, download the zip (and an image's model tarball) of the claimed attempt, report
 * its result, upload the predictions a run left and download those a re-score scores. Network errors
 * and 5xx answers are retried; a refusal (4xx) never is.
 */
import { openAsBlob } from "node:fs";
import { downloadSubmission, SubmissionFetchError } from "../submission/index.js";
import type {
  ClaimByIdRequest,
  ClaimHold,
  ClaimNextAnswer,
  ClaimNextRequest,
  ClaimView,
  HeartbeatAnswer,
} from "./claims.js";
import type { RunnerSubmissionView } from "./contract.js";
import { GatewayApiError, requestJson, type GatewayCredentials } from "./http.js";
import { ResultReportSchema, type ResultReport } from "./result-report.js";

export interface RunnerRequestOptions {
  /** Tries after the first for network errors and 5xx (default 4), waiting retryBaseMs × 2^(n-1). */
  retries?: number;
  retryBaseMs?: number;
  signal?: AbortSignal;
}

const route = (id: string, rest = "") => `/v1/runner/submissions/${encodeURIComponent(id)}${rest}`;

export function runnerSubmission(
  credentials: GatewayCredentials,
  id: string,
  options: RunnerRequestOptions = {},
): Promise<RunnerSubmissionView> {
  return requestJson(credentials, route(id), { retries: options.retries ?? 4, ...options });
}

/**
 * Downloads the zip of `attempt` to `dest` (size-capped while streaming, sha256 checked; see
 * downloadSubmission). The credential goes only to the gateway's own origin.
 */
export function downloadAttempt(
  credentials: GatewayCredentials,
  id: string,
  attempt: number,
  dest: string,
  options: { maxBytes: number; sha256: string; claimToken?: string },
): Promise<{ sha256: string; bytes: number }> {
  return downloadPart(credentials, route(id, `/zip?attempt=${attempt}`), dest, options);
}

/**
 * Downloads the model tarball uploaded with the image of `attempt` to `dest` (size-capped while streaming);
 * null when the submission has none (404 `no_model`).
 */
export async function downloadModel(
  credentials: GatewayCredentials,
  id: string,
  attempt: number,
  dest: string,
  options: { maxBytes: number; claimToken?: string },
): Promise<{ bytes: number } | null> {
  try {
    return await downloadPart(credentials, route(id, `/model?attempt=${attempt}`), dest, options);
  } catch (error) {
    if (error instanceof SubmissionFetchError && error.httpStatus === 404) return null;
    throw error;
  }
}

function downloadPart(
  credentials: GatewayCredentials,
  path: string,
  dest: string,
  options: { maxBytes: number; sha256?: string; claimToken?: string },
): Promise<{ sha256: string; bytes: number }> {
  const { claimToken, ...download } = options;
  return downloadSubmission(`${credentials.server}${path}`, dest, {
    ...download,
    headers: {
      authorization: `Bearer ${credentials.token}`,
      ...(claimToken !== undefined && { [CLAIM_HEADER]: claimToken }),
    },
  });
}

/**
 * Downloads the predictions a claimed re-score scores (those of attempt `predictions_of`, a tar) to
 * `dest`: size-capped while streaming, sha256 checked against the claim's.
 */
export function downloadPredictions(
  credentials: GatewayCredentials,
  id: string,
  attempt: number,
  dest: string,
  options: { maxBytes: number; sha256: string; claimToken: string },
): Promise<{ sha256: string; bytes: number }> {
  return downloadPart(credentials, route(id, `/predictions?attempt=${attempt}`), dest, options);
}

/**
 * Uploads the predictions the claimed run `attempt` left (`file`, a tar) so an organizer can re-score
 * them without running the program again; before the result report, while the claim holds. Network
 * errors and 5xx are retried; a refusal (4xx: too large, the claim lost) is thrown.
 */
export async function uploadPredictions(
  credentials: GatewayCredentials,
  id: string,
  attempt: number,
  file: string,
  options: RunnerRequestOptions & { claimToken: string },
): Promise<{ sha256: string; bytes: number }> {
  const { claimToken, ...rest } = options;
  return requestJson(credentials, route(id, `/predictions?attempt=${attempt}`), {
    method: "PUT",
    blob: { type: "application/x-tar", data: await openAsBlob(file) },
    headers: { [CLAIM_HEADER]: claimToken },
    timeoutMs: 300_000,
    retries: 2,
    ...rest,
  });
}

/** The header a claimed attempt's download carries its claim token in (never the URL: URLs get logged). */
export const CLAIM_HEADER = "x-proctor-claim";

/**
 * The next queued submission of a kind, waiting up to `wait_ms` on the gateway for one (a long poll); null
 * when none came.
 */
export async function claimNext(
  credentials: GatewayCredentials,
  request: ClaimNextRequest,
  options: RunnerRequestOptions = {},
): Promise<ClaimView | null> {
  const answer = await requestJson<ClaimNextAnswer>(credentials, "/v1/runner/claims", {
    method: "POST",
    body: request,
    // The gateway holds the request up to wait_ms before answering.
    timeoutMs: (request.wait_ms ?? 0) + 30_000,
    retries: options.retries ?? 4,
    ...options,
  });
  return answer.claim;
}

export type ClaimOutcome = { outcome: "claimed"; claim: ClaimView } | { outcome: "lost"; message: string };

/** Claims one submission (the Actions job its dispatch started); `lost` (409) when it is not to be run here. */
export async function claimById(
  credentials: GatewayCredentials,
  id: string,
  request: ClaimByIdRequest,
  options: RunnerRequestOptions = {},
): Promise<ClaimOutcome> {
  try {
    const claim = await requestJson<ClaimView>(credentials, route(id, "/claim"), {
      method: "POST",
      body: request,
      retries: options.retries ?? 4,
      ...options,
    });
    return { outcome: "claimed", claim };
  } catch (error) {
    if (error instanceof GatewayApiError && error.status === 409)
      return { outcome: "lost", message: error.message };
    throw error;
  }
}

export type HeartbeatOutcome =
  | { outcome: "held"; answer: HeartbeatAnswer }
  /** 409: stop the run now and report nothing (`cancelled`, or `claim_lost`: the lease ran out). */
  | { outcome: "stop"; why: string; message: string };

/** One heartbeat of a claim (no retries: the next heartbeat is the retry). */
export async function heartbeatClaim(
  credentials: GatewayCredentials,
  id: string,
  hold: ClaimHold,
): Promise<HeartbeatOutcome> {
  try {
    const answer = await requestJson<HeartbeatAnswer>(credentials, route(id, "/heartbeat"), {
      method: "POST",
      body: hold,
      timeoutMs: 10_000,
    });
    return { outcome: "held", answer };
  } catch (error) {
    if (error instanceof GatewayApiError && error.status === 409)
      return { outcome: "stop", why: error.body?.error ?? "claim_lost", message: error.message };
    throw error;
  }
}

/** Gives a claim back (the submission is queued again); false when it was not held any more (409). */
export async function releaseClaim(
  credentials: GatewayCredentials,
  id: string,
  hold: ClaimHold,
  options: RunnerRequestOptions = {},
): Promise<boolean> {
  try {
    await requestJson(credentials, route(id, "/release"), {
      method: "POST",
      body: hold,
      retries: options.retries ?? 1,
      ...options,
    });
    return true;
  } catch (error) {
    if (error instanceof GatewayApiError && error.status === 409) return false;
    throw error;
  }
}

export type SendResultOutcome =
  /** The intake recorded it. */
  | { outcome: "recorded"; state: string; status: string | null }
  /** 409: the submission already had a final result (e.g. a retried post that did arrive), or the attempt was superseded. */
  | { outcome: "conflict"; message: string };

export async function sendResultReport(
  credentials: GatewayCredentials,
  id: string,
  report: ResultReport,
  options: RunnerRequestOptions = {},
): Promise<SendResultOutcome> {
  const body = ResultReportSchema.parse(report);
  try {
    const answer = await requestJson<{ state: string; status: string | null }>(
      credentials,
      route(id, "/result"),
      { method: "POST", body, retries: options.retries ?? 4, ...options },
    );
    return { outcome: "recorded", state: answer.state, status: answer.status };
  } catch (error) {
    if (error instanceof GatewayApiError && error.status === 409)
      return { outcome: "conflict", message: error.message };
    throw error;
  }
}
