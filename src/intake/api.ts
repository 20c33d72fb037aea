/**
 * The wire shapes of the gateway's participant API (JSON, snake_case), shared by the server and the
 * `proctor submit`/`status` client:
 *
 *   POST /v1/submissions            -> 202 SubmittedView
 *   GET  /v1/submissions/:id        -> 200 SubmissionView     (only to its owner; others get 404)
 *   GET  /v1/submissions            -> 200 SubmissionListView (the caller's own, newest first, + quota)
 *   errors                          -> ErrorBody
 *
 * Private scores never appear in any of them.
 */
import type { Competition, Phase } from "../config/index.js";
import type { QuotaStatus } from "../leaderboard/index.js";
import type { RunStatus } from "../status/index.js";
import type { AttemptRecord, CpuOrGpu, DispatchState, SubmissionRecord, SubmissionState } from "./db.js";

export interface QuotaView {
  used_today: number;
  daily_limit: number | null;
  remaining_today: number | null;
  used_total: number;
  total_limit: number | null;
  remaining_total: number | null;
  /** When the daily count starts over (next UTC midnight); null when there is no daily limit. */
  resets_at: string | null;
}

export interface SubmissionView {
  submission_id: string;
  participant: string;
  cpu_or_gpu: CpuOrGpu;
  submitted_at: string;
  zip_sha256: string;
  zip_bytes: number;
  /** queued (waiting for a runner) -> running (a runner has it) -> final (status holds the outcome). */
  state: SubmissionState;
  /** The outcome once final; null before. */
  status: RunStatus | null;
  reason: string | null;
  public_score: number | null;
  duration_ms: number | null;
  image_digest: string | null;
  started_at: string | null;
  finished_at: string | null;
  /** 1, or 2 after the intake gave up on a stuck run and dispatched it again. */
  attempt: number;
  /** Earlier attempts the intake gave up on. */
  earlier_attempts: AttemptRecord[];
  dispatch: {
    /** sent: a runner was asked to run it; pending: sending failed and is retried (see next_attempt_at). */
    state: DispatchState;
    attempts: number;
    dispatched_at: string | null;
    next_attempt_at: string | null;
    /** Why the last send failed, when it did (no details of the platform's credentials). */
    last_error: string | null;
  };
  /** The program's logs as competition.yml lets participants see them in this phase. */
  logs: { visibility: "full" | "tail" | "none"; stdout: string; stderr: string };
  /** Format problems, when the predictions were output_invalid. */
  problems: string[];
}

export interface SubmittedView {
  submission: SubmissionView;
  quota: QuotaView;
}

export interface SubmissionListView {
  participant: string;
  submissions: SubmissionView[];
  quota: QuotaView;
}

export interface ErrorBody {
  /** Stable code, e.g. unauthorized, invalid_submission, quota_exceeded, upload_too_large, not_found. */
  error: string;
  /** What went wrong and what to do. */
  message: string;
  /** invalid_submission: the rule broken and the zip entry, when there is one. */
  rule?: string;
  entry?: string | null;
  /** quota_exceeded: when the limit resets (null: it does not). */
  resets_at?: string | null;
  quota?: QuotaView;
  /** upload_too_large: the cap in bytes. */
  limit_bytes?: number;
}

export function quotaView(q: QuotaStatus): QuotaView {
  return {
    used_today: q.usedToday,
    daily_limit: q.dailyLimit,
    remaining_today: q.remainingToday,
    used_total: q.usedTotal,
    total_limit: q.totalLimit,
    remaining_total: q.remainingTotal,
    resets_at: q.resetsAt,
  };
}

/** Logs as a phase shows them: full, the last `tail_lines` lines, or nothing. */
export function visibleLog(
  text: string | null,
  visibility: "full" | "tail" | "none",
  tailLines: number,
): string {
  if (text === null || visibility === "none") return "";
  if (visibility === "full") return text;
  return text.replace(/\n$/, "").split("\n").slice(-tailLines).join("\n");
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function submissionView(
  record: SubmissionRecord,
  competition: Competition,
  phase: Phase,
): SubmissionView {
  const visibility = competition.logs[phase];
  const tail = competition.logs.tail_lines;
  return {
    submission_id: record.id,
    participant: record.participant,
    cpu_or_gpu: record.cpuOrGpu,
    submitted_at: record.submittedAt,
    zip_sha256: record.zipSha256,
    zip_bytes: record.zipBytes,
    state: record.state,
    status: record.status,
    reason: record.reason,
    public_score: record.publicScore,
    duration_ms: record.durationMs,
    image_digest: record.imageDigest,
    started_at: iso(record.startedAtMs),
    finished_at: record.finishedAt,
    attempt: record.attempt,
    earlier_attempts: record.history,
    dispatch: {
      state: record.dispatchState,
      attempts: record.dispatchAttempts,
      dispatched_at: record.dispatchedAt,
      next_attempt_at: record.state === "final" ? null : iso(record.nextDispatchAtMs),
      last_error:
        record.dispatchError === null
          ? null
          : "the runners could not be reached yet; the intake retries by itself, nothing to do",
    },
    logs: {
      visibility,
      stdout: visibleLog(record.stdout, visibility, tail),
      stderr: visibleLog(record.stderr, visibility, tail),
    },
    problems: record.problems,
  };
}
