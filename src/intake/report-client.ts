/**
 * The runner's side of the result-report contract (result-report.ts): POSTs a report to the dispatch's
 * `result_url` with its `result_token`, retrying network errors and 5xx answers, never a 4xx.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { ResultReportSchema, type ResultReport } from "./result-report.js";

export interface SendResultOptions {
  resultUrl: string;
  resultToken: string;
  report: ResultReport;
  /** Retries of network errors and 5xx answers (default 4), waiting 1 s, 2 s, 4 s, ... × `retryBaseMs`/1000. */
  retries?: number;
  retryBaseMs?: number;
  /** Per-attempt timeout (default 30 s). */
  timeoutMs?: number;
}

export type SendResultOutcome =
  /** The intake recorded it. */
  | { outcome: "recorded"; state: string; status: string | null }
  /** 409: the submission already had a final result (e.g. a retried post that did arrive), or the attempt was superseded. */
  | { outcome: "conflict"; message: string };

export class ResultSendError extends Error {
  override name = "ResultSendError";
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

export async function sendResultReport(options: SendResultOptions): Promise<SendResultOutcome> {
  const report = ResultReportSchema.parse(options.report);
  const retries = options.retries ?? 4;
  const base = options.retryBaseMs ?? 1000;
  let lastError: ResultSendError | undefined;
  for (let attempt = 0; attempt <= retries; attempt += 1) {
    if (attempt > 0) await sleep(base * 2 ** (attempt - 1));
    let response: Response;
    try {
      response = await fetch(options.resultUrl, {
        method: "POST",
        headers: { authorization: `Bearer ${options.resultToken}`, "content-type": "application/json" },
        body: JSON.stringify(report),
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      lastError = new ResultSendError(
        `could not reach the intake to report the result: ${(error as Error).message}`,
        undefined,
      );
      continue;
    }
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // not JSON: keep the status
    }
    const message = typeof body["message"] === "string" ? body["message"] : text.slice(0, 500);
    if (response.ok) {
      return {
        outcome: "recorded",
        state: String(body["state"]),
        status: (body["status"] as string | null) ?? null,
      };
    }
    if (response.status === 409) return { outcome: "conflict", message };
    lastError = new ResultSendError(
      `the intake refused the result report (${response.status}): ${message}`,
      response.status,
    );
    if (response.status < 500) throw lastError;
  }
  throw lastError!;
}
