/**
 * The runner's client of the gateway (contract.ts, result-report.ts), authenticated with the runner
 * credential: read a submission, download the zip of one attempt, report its result. Network errors and
 * 5xx answers are retried; a refusal (4xx) never is.
 */
import { downloadSubmission } from "../submission/index.js";
import type { RunnerSubmissionView } from "./contract.js";
import { GatewayApiError, requestJson, type GatewayCredentials } from "./http.js";
import { ResultReportSchema, type ResultReport } from "./result-report.js";

export interface RunnerRequestOptions {
  /** Tries after the first for network errors and 5xx (default 4), waiting retryBaseMs × 2^(n-1). */
  retries?: number;
  retryBaseMs?: number;
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
  options: { maxBytes: number; sha256: string },
): Promise<{ sha256: string; bytes: number }> {
  return downloadSubmission(`${credentials.server}${route(id, `/zip?attempt=${attempt}`)}`, dest, {
    ...options,
    headers: { authorization: `Bearer ${credentials.token}` },
  });
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
