/**
 * The result-report contract between a runner and the intake.
 *
 * The `repository_dispatch` a runner receives (event type `submission`) carries, in `client_payload`:
 *
 *   submission_id      "sub-…" (letters, digits, "_", "-")
 *   participant        who submitted
 *   cpu_or_gpu         "cpu" | "gpu"
 *   submission_url     signed, expiring GET URL of the zip on the gateway (no other credential needed)
 *   submission_sha256  64 lowercase hex: the download must match it
 *   submitted_at       ISO 8601 instant (UTC)
 *   result_url         where to POST the result: <gateway>/v1/submissions/<id>/result
 *   result_token       the bearer secret for result_url; treat it as a secret (mask it in logs)
 *
 * The runner then reports to `result_url` with `Authorization: Bearer <result_token>` and a JSON body
 * (`Content-Type: application/json`, at most 1 MiB) that is either
 *
 *   { "status": "running" }      optional; the first zip download marks the submission running anyway
 *
 * or the final result:
 *
 *   {
 *     "status": RunStatus,                  // succeeded | failed | timed_out | oom_killed | invalid_submission
 *                                           // | output_missing | output_invalid | output_too_large
 *                                           // | scoring_failed | infrastructure_error
 *     "reason": string,                     // one line for the participant, at most 4000 characters
 *     "public_score": number | null,        // null unless status is succeeded
 *     "private_score_sealed"?: string|null, // sealScore() output; stored, never shown; null unless succeeded
 *     "duration_ms": integer >= 0,
 *     "image_digest": string,               // "" when no container ran
 *     "stdout"?: string, "stderr"?: string, // the logs as the runner may show them; at most 256 KiB each
 *                                           // (the intake keeps the last 64 KiB and applies competition.yml's
 *                                           // log visibility for the evaluation phase again when showing them)
 *     "problems"?: string[]                 // output_invalid details, at most 200 lines of 1000 characters
 *   }
 *
 * Unknown keys are refused. Answers: 200 `{ submission_id, state, status }` when recorded (a repeated
 * `running` report is answered 200 too); 400 when the body breaks this contract (the message names the
 * field); 401 when the token is not this submission's (forged, or for another submission); 409 when the
 * submission already has a final result, or when the token belongs to an earlier attempt that the intake
 * gave up on and re-dispatched. The runner must not retry a 4xx; it may retry 5xx and network errors.
 */
import { z } from "zod";
import { RUN_STATUSES, type RunStatus } from "../status/index.js";

/** Largest accepted stdout/stderr in a report (characters). */
export const MAX_REPORTED_LOG_CHARS = 256 * 1024;
/** What the intake keeps of each log: the last this many characters. */
export const MAX_STORED_LOG_CHARS = 64 * 1024;
/** Largest accepted report body. */
export const MAX_REPORT_BODY_BYTES = 1024 * 1024;

export const RunningReportSchema = z.object({ status: z.literal("running") }).strict();

export const FinalReportSchema = z
  .object({
    status: z.enum(RUN_STATUSES),
    reason: z.string().max(4000, "must be at most 4000 characters"),
    public_score: z.number({ error: "must be a finite number or null" }).nullable(),
    private_score_sealed: z.string().min(1).max(8192).nullable().optional(),
    duration_ms: z.number().int("must be whole milliseconds").nonnegative(),
    image_digest: z.string().max(300, "must be at most 300 characters"),
    stdout: z.string().max(MAX_REPORTED_LOG_CHARS).optional(),
    stderr: z.string().max(MAX_REPORTED_LOG_CHARS).optional(),
    problems: z.array(z.string().max(1000)).max(200).optional(),
  })
  .strict()
  .superRefine((report, ctx) => {
    if (report.status === "succeeded") return;
    if (report.public_score !== null) {
      ctx.addIssue({
        code: "custom",
        path: ["public_score"],
        message: `only succeeded runs carry scores, but status is ${report.status}; send null`,
      });
    }
    if (report.private_score_sealed != null) {
      ctx.addIssue({
        code: "custom",
        path: ["private_score_sealed"],
        message: `only succeeded runs carry scores, but status is ${report.status}; send null or leave it out`,
      });
    }
  });

/** The body of `POST /v1/submissions/:id/result`. */
export const ResultReportSchema = z.union([RunningReportSchema, FinalReportSchema]);

export type RunningReport = z.infer<typeof RunningReportSchema>;
export type FinalReport = z.infer<typeof FinalReportSchema>;
export type ResultReport = RunningReport | FinalReport;

export class ResultReportError extends Error {
  override name = "ResultReportError";
}

/** Validates a report body; throws ResultReportError naming each offending field and the rule. */
export function parseResultReport(body: unknown): ResultReport {
  const isRunning =
    typeof body === "object" && body !== null && (body as { status?: unknown }).status === "running";
  const result = (isRunning ? RunningReportSchema : FinalReportSchema).safeParse(body);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(body)"}: ${issue.message}`,
  );
  throw new ResultReportError(`the result report is invalid: ${problems.join("; ")}`);
}

/** The fields of a runner's evaluation a final report is made of (see `finalReport`). */
export interface ReportableOutcome {
  status: RunStatus;
  reason: string;
  publicScore: number | null;
  sealedPrivateScore: string | null;
  durationMs: number;
  imageDigest: string;
  stdout?: string;
  stderr?: string;
  problems?: string[];
}

/** The last `max` characters of `text`. */
export const lastChars = (text: string, max: number): string =>
  text.length > max ? text.slice(text.length - max) : text;

/**
 * Builds a valid final report from an outcome: scores dropped unless succeeded, the reason and logs cut to
 * what the contract accepts (logs keep their end), problems capped.
 */
export function finalReport(outcome: ReportableOutcome): FinalReport {
  const succeeded = outcome.status === "succeeded";
  return {
    status: outcome.status,
    reason: outcome.reason.length > 4000 ? `${outcome.reason.slice(0, 3997)}...` : outcome.reason,
    public_score:
      succeeded && outcome.publicScore !== null && Number.isFinite(outcome.publicScore)
        ? outcome.publicScore
        : null,
    private_score_sealed: succeeded ? outcome.sealedPrivateScore : null,
    duration_ms: Math.max(0, Math.round(outcome.durationMs)),
    image_digest: outcome.imageDigest.slice(0, 300),
    ...(outcome.stdout !== undefined && { stdout: lastChars(outcome.stdout, MAX_REPORTED_LOG_CHARS) }),
    ...(outcome.stderr !== undefined && { stderr: lastChars(outcome.stderr, MAX_REPORTED_LOG_CHARS) }),
    ...(outcome.problems !== undefined && {
      problems: outcome.problems.slice(0, 200).map((p) => p.slice(0, 1000)),
    }),
  };
}
