/**
 * The result-report contract between a runner and the intake.
 *
 * A runner claims a submission (claims.ts: the next of its kind, or by id for the Actions job a public
 * `repository_dispatch` payload started), with its runner credential (`Authorization: Bearer prc_…`);
 * downloads the zip of the claimed attempt (`GET /v1/runner/submissions/:id/zip?attempt=N`), heartbeats
 * while it runs, and reports to
 * `POST /v1/runner/submissions/:id/result` a JSON body (`Content-Type: application/json`, at most 1 MiB)
 * that is either
 *
 *   { "attempt": N, "claim_token": "clm_…", "status": "running" }  optional; the claim marks it running
 *
 * or the final result:
 *
 *   {
 *     "attempt": N,                         // the attempt of the claim (or of the dispatch)
 *     "claim_token": "clm_…",               // the claim's token (claims.ts); a report without the token
 *                                           // that holds a claimed attempt is refused (409 claim_lost)
 *     "status": RunStatus,                  // succeeded | failed | timed_out | oom_killed | invalid_submission
 *                                           // | output_missing | output_invalid | output_too_large
 *                                           // | scoring_failed | infrastructure_error
 *     "reason": string,                     // one line for the participant, at most 4000 characters
 *     "public_score": number | null,        // null unless status is succeeded
 *     "private_score_sealed"?: string|null, // sealScore() output; stored, never shown; null unless succeeded
 *     "duration_ms": integer >= 0,
 *     "image_digest": string,               // "" when no container ran
 *     "models_digest"?: string | null,      // the models image the run had at /code_execution/models:
 *                                           // sha256:<64 hex> (runtime/models.yml's digest); null or left
 *                                           // out when it had none (runners send it only when it had one,
 *                                           // so a gateway older than the field still takes their reports)
 *     "scorer_digest"?: string,             // what scored it, 64 hex each (scoring/setup-digest.ts): the metric
 *     "ground_truth_digest"?: string,       // (a built-in's name, or the custom scorer's files and command,
 *                                           // with the direction and usage column) and the ground truth;
 *                                           // sent when it was scored; organizer-only, the ground truth's
 *     "stdout"?: string, "stderr"?: string, // the logs as the phase lets the participant see them; at most
 *                                           // 256 KiB each (the intake keeps the last 64 KiB, applies the
 *                                           // phase's visibility and byte cap again when showing them, and
 *                                           // shows none of an infrastructure_error)
 *     "problems"?: string[],                // output_invalid details, at most 200 lines of 1000 characters
 *     "usage"?: Usage,                      // what the run used (usageReport): runtime, peaks, a coarse series
 *     "results_json"?: string,              // Grand Challenge's /output/results.json (a *.json format file), as
 *                                           // text, at most 64 KiB; sent only where the phase shows logs: it is
 *                                           // the program's output and can carry what it read
 *     "diagnosis"?: {                       // the facts of how it ended, no text of the program's: where the
 *       "exit_code": integer | null,        // phase shows no logs its owner sees the status and a class made
 *       "problem_counts": { rule: count }   // of these (src/logs/diagnostics.ts); rules: scoring/problems.ts
 *     }
 *   }
 *
 * Unknown keys are refused. Answers: 200 `{ submission_id, state, status }` when recorded (a repeated
 * `running` report is answered 200 too); 400 when the body breaks this contract (the message names the
 * field); 401 without a valid runner credential; 404 for an unknown submission; 409 when the submission
 * already has a final result, or when the attempt is not the one the intake waits for (it gave up on it
 * and dispatched the submission again). The runner must not retry a 4xx; it may retry 5xx and network
 * errors.
 */
import { z } from "zod";
import { MODELS_DIGEST_PATTERN, MODELS_DIGEST_RULE } from "../leaderboard/entry.js";
import type { Diagnosis } from "../logs/index.js";
import type { RunMetrics } from "../sandbox/metrics.js";
import { PROBLEM_RULES } from "../scoring/problems.js";
import { RUN_STATUSES, type RunStatus } from "../status/index.js";
import { CLAIM_TOKEN_PATTERN } from "./claims.js";

/** Largest accepted stdout/stderr in a report (characters). */
export const MAX_REPORTED_LOG_CHARS = 256 * 1024;
/** What the intake keeps of each log: the last this many characters. */
export const MAX_STORED_LOG_CHARS = 64 * 1024;
/** Largest results.json a report carries (characters). */
export const MAX_RESULTS_JSON_CHARS = 64 * 1024;
/** Largest accepted report body. */
export const MAX_REPORT_BODY_BYTES = 1024 * 1024;

const attempt = z.number().int("must be a whole number").positive("must be 1 or more");
/** The claim's token (claims.ts): required of a claimed attempt, whose report only its holder may send. */
const claim_token = z
  .string()
  .regex(CLAIM_TOKEN_PATTERN, "must be the claim_token the claim answered")
  .optional();

export const RunningReportSchema = z.object({ attempt, claim_token, status: z.literal("running") }).strict();

/** Points of the usage series a report carries (one every few seconds of a long run). */
export const MAX_USAGE_SAMPLES = 60;
/** Steps the series is quantized to: a fraction of the memory limit, of a core. */
const MEMORY_STEPS = 100;
const CPU_STEP = 0.05;

const nonNegative = z.number().nonnegative();

/**
 * What a run used, as its owner and the organizers see it. Coarse on purpose: a program controls its own
 * memory and CPU over time, so a fine series would be a channel for reading the hidden data out; peaks
 * keep two significant digits, the series 100 memory steps and 0.05-core CPU steps at most 60 points.
 */
export const UsageSchema = z
  .object({
    runtime: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "must be an OCI runtime name"),
    peak_memory_bytes: nonNegative.nullable(),
    cpu_seconds: nonNegative.nullable(),
    memory_limit_bytes: z.number().positive(),
    cpus: z.number().positive(),
    samples: z
      .array(z.object({ t_ms: nonNegative, memory_bytes: nonNegative, cpu_cores: nonNegative }).strict())
      .max(MAX_USAGE_SAMPLES),
  })
  .strict();
export type Usage = z.infer<typeof UsageSchema>;

/** Two significant digits. */
const coarse = (n: number | null) => (n === null ? null : Number(n.toPrecision(2)));

/** The run's metrics as a report carries them: quantized (see UsageSchema), at most MAX_USAGE_SAMPLES points. */
export function usageReport(
  metrics: RunMetrics,
  run: { runtime: string; memoryLimitBytes: number; cpus: number },
): Usage {
  const step = run.memoryLimitBytes / MEMORY_STEPS;
  const every = Math.max(1, Math.ceil(metrics.samples.length / MAX_USAGE_SAMPLES));
  return {
    runtime: run.runtime,
    peak_memory_bytes: coarse(metrics.peakMemoryBytes),
    cpu_seconds: coarse(metrics.cpuSeconds),
    memory_limit_bytes: run.memoryLimitBytes,
    cpus: run.cpus,
    samples: metrics.samples
      .filter((_, i) => i % every === 0)
      .slice(0, MAX_USAGE_SAMPLES)
      .map((sample) => ({
        t_ms: Math.round(sample.tMs / 1000) * 1000,
        memory_bytes: Math.round(Math.round(sample.memoryBytes / step) * step),
        cpu_cores: Number((Math.round(sample.cpu / CPU_STEP) * CPU_STEP).toFixed(2)),
      })),
  };
}

/** The run's diagnosis on the wire (Diagnosis, snake_case). */
export const DiagnosisSchema = z
  .object({
    exit_code: z.number().int("must be a whole number").nullable(),
    problem_counts: z.partialRecord(z.enum(PROBLEM_RULES), z.number().int().positive()),
  })
  .strict();
export type DiagnosisReport = z.infer<typeof DiagnosisSchema>;

export const diagnosisReport = (d: Diagnosis): DiagnosisReport => ({
  exit_code: d.exitCode,
  problem_counts: d.problemCounts,
});
export const diagnosisOf = (r: DiagnosisReport): Diagnosis => ({
  exitCode: r.exit_code,
  problemCounts: r.problem_counts,
});

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "must be a sha256 digest: 64 lowercase hex digits");

export const FinalReportSchema = z
  .object({
    attempt,
    claim_token,
    status: z.enum(RUN_STATUSES),
    reason: z.string().max(4000, "must be at most 4000 characters"),
    public_score: z.number({ error: "must be a finite number or null" }).nullable(),
    private_score_sealed: z.string().min(1).max(8192).nullable().optional(),
    duration_ms: z.number().int("must be whole milliseconds").nonnegative(),
    image_digest: z.string().max(300, "must be at most 300 characters"),
    models_digest: z
      .string()
      .regex(MODELS_DIGEST_PATTERN, `${MODELS_DIGEST_RULE}, or null when the run mounted no models`)
      .nullable()
      .optional(),
    scorer_digest: sha256Hex.optional(),
    ground_truth_digest: sha256Hex.optional(),
    stdout: z.string().max(MAX_REPORTED_LOG_CHARS).optional(),
    stderr: z.string().max(MAX_REPORTED_LOG_CHARS).optional(),
    problems: z.array(z.string().max(1000)).max(200).optional(),
    usage: UsageSchema.optional(),
    results_json: z.string().max(MAX_RESULTS_JSON_CHARS).optional(),
    diagnosis: DiagnosisSchema.optional(),
  })
  .strict()
  .superRefine((report, ctx) => {
    if (report.status === "infrastructure_error") {
      for (const key of ["stdout", "stderr"] as const) {
        if (report[key] === undefined) continue;
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: "an infrastructure_error shows the participant nothing of the run; leave the logs out",
        });
      }
    }
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

/** The body of `POST /v1/runner/submissions/:id/result`. */
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
  attempt: number;
  /** The claim that holds the attempt (absent only for an attempt no runner claimed). */
  claimToken?: string;
  status: RunStatus;
  reason: string;
  publicScore: number | null;
  sealedPrivateScore: string | null;
  durationMs: number;
  imageDigest: string;
  /** The models image the run had mounted (sha256:…); absent when it had none. */
  modelsDigest?: string;
  /** What scored it (scoring/setup-digest.ts); absent when it was not scored. */
  scorerDigest?: string;
  groundTruthDigest?: string;
  stdout?: string;
  stderr?: string;
  problems?: string[];
  usage?: Usage;
  resultsJson?: string;
  diagnosis?: Diagnosis;
}

/** The last `max` characters of `text`. */
export const lastChars = (text: string, max: number): string =>
  text.length > max ? text.slice(text.length - max) : text;

/**
 * Builds a valid final report from an outcome: scores dropped unless succeeded, logs dropped from an
 * infrastructure_error, the reason and logs cut to what the contract accepts (logs keep their end),
 * problems capped.
 */
export function finalReport(outcome: ReportableOutcome): FinalReport {
  const succeeded = outcome.status === "succeeded";
  // An infrastructure fault is never the participant's: it is retried, and shows them nothing of the run.
  const logs = outcome.status !== "infrastructure_error";
  return {
    attempt: outcome.attempt,
    ...(outcome.claimToken !== undefined && { claim_token: outcome.claimToken }),
    status: outcome.status,
    reason: outcome.reason.length > 4000 ? `${outcome.reason.slice(0, 3997)}...` : outcome.reason,
    public_score:
      succeeded && outcome.publicScore !== null && Number.isFinite(outcome.publicScore)
        ? outcome.publicScore
        : null,
    private_score_sealed: succeeded ? outcome.sealedPrivateScore : null,
    duration_ms: Math.max(0, Math.round(outcome.durationMs)),
    image_digest: outcome.imageDigest.slice(0, 300),
    ...(outcome.modelsDigest !== undefined && { models_digest: outcome.modelsDigest }),
    ...(outcome.scorerDigest !== undefined && { scorer_digest: outcome.scorerDigest }),
    ...(outcome.groundTruthDigest !== undefined && { ground_truth_digest: outcome.groundTruthDigest }),
    ...(logs &&
      outcome.stdout !== undefined && { stdout: lastChars(outcome.stdout, MAX_REPORTED_LOG_CHARS) }),
    ...(logs &&
      outcome.stderr !== undefined && { stderr: lastChars(outcome.stderr, MAX_REPORTED_LOG_CHARS) }),
    ...(outcome.usage !== undefined && { usage: outcome.usage }),
    ...(logs &&
      outcome.resultsJson !== undefined &&
      outcome.resultsJson.length <= MAX_RESULTS_JSON_CHARS && { results_json: outcome.resultsJson }),
    ...(outcome.diagnosis !== undefined && { diagnosis: diagnosisReport(outcome.diagnosis) }),
    ...(outcome.problems !== undefined && {
      problems: outcome.problems.slice(0, 200).map((p) => p.slice(0, 1000)),
    }),
  };
}
