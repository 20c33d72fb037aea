/**
 * The gateway's wire contract (JSON, snake_case), shared by the server (src/intake, src/gateway) and its
 * two clients: the participant's (`proctor submit`/`status`, participant-client.ts) and the runner's
 * (the action's run-submission, runner-client.ts). Nothing here opens a database or a socket.
 *
 * Participants (Authorization: Bearer pct_…):
 *   POST /v1/submissions            -> 202 SubmittedView
 *   GET  /v1/submissions/:id        -> 200 SubmissionView     (only to its owner; others get 404)
 *   GET  /v1/submissions            -> 200 SubmissionListView (the caller's own, newest first, + quota)
 *   POST /v1/submissions/:id/cancel -> 200 SubmittedView      (queued: cancelled, not counted; running:
 *                                      its runner stops it, and it counts; 409 not_cancellable once over)
 *   POST /v1/submissions/:id/choice -> 200 SubmissionView     ({"chosen": true|false}: for the final
 *                                      leaderboard, where final_selection is `chosen`)
 *
 * Runners (Authorization: Bearer prc_…, the runner credential: a repository secret, valid only here):
 *   claims, heartbeats and releases (claims.ts)
 *   GET  /v1/runner/submissions/:id            -> 200 RunnerSubmissionView (409 once cancelled: run nothing)
 *   GET  /v1/runner/submissions/:id/zip?attempt=N -> the zip (a claimed attempt: with its claim token in
 *                                      the x-proctor-claim header)
 *   POST /v1/runner/submissions/:id/result     -> ResultReport for one attempt (result-report.ts)
 *
 * Everyone (no credential):
 *   GET  /v1/status                 -> 200 PublicStatusView (the queue and the runners, no participant)
 *
 * Errors everywhere -> ErrorBody. Private scores never appear in any of them, and every score a
 * participant can see is rounded to the competition's `precision`.
 */
import type { ReasonClassKind } from "../logs/index.js";
import type { RunStatus } from "../status/index.js";
import type { Usage } from "./result-report.js";

export type CpuOrGpu = "cpu" | "gpu";
export type SubmissionState = "queued" | "running" | "final" | "cancelled";
export type DispatchState = "pending" | "sent";

/** An earlier attempt the intake gave up on (and re-dispatched). */
export interface AttemptRecord {
  attempt: number;
  status: RunStatus;
  reason: string;
  at: string;
}

/** Submission ids are made by the intake (16 random bytes, base64url), never taken from a user. */
export const SUBMISSION_ID_PATTERN = /^sub-[A-Za-z0-9_-]{22}$/;

export function isSubmissionId(value: unknown): value is string {
  return typeof value === "string" && SUBMISSION_ID_PATTERN.test(value);
}

/** The bearer credential of an `Authorization` header, or undefined. */
export function bearer(header: string | undefined): string | undefined {
  if (typeof header !== "string") return undefined;
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * The `client_payload` of the `repository_dispatch` (event type `submission`) that starts a run. It is
 * public (the runner prints it, anyone reading the run log sees it): identifiers only, never a link, a
 * token or the zip. Knowing it lets nobody download the zip or report a result: both need the runner
 * credential.
 */
export interface DispatchPayload {
  submission_id: string;
  participant: string;
  cpu_or_gpu: CpuOrGpu;
  submission_sha256: string;
  submitted_at: string;
  /** 1, or higher after the intake gave up on an earlier attempt; a report names the attempt it is for. */
  attempt: number;
}

/** What a runner reads about a submission before running it (the gateway's record is the truth). */
export interface RunnerSubmissionView {
  submission_id: string;
  participant: string;
  cpu_or_gpu: CpuOrGpu;
  submission_sha256: string;
  zip_bytes: number;
  submitted_at: string;
  /** The attempt the gateway is waiting for; a runner holding an older one must not run it. */
  attempt: number;
  state: SubmissionState;
  /**
   * The lifecycle phase it was submitted in (its data paths and log visibility), or null where
   * competition.yml has no phases (the runner's `phase` input decides).
   */
  phase: string | null;
  /** The recorded result once final (what the leaderboard branch needs), else null. */
  result: {
    status: RunStatus;
    reason: string;
    public_score: number | null;
    private_score_sealed: string | null;
    duration_ms: number;
    image_digest: string;
    /** The models image it had mounted (sha256:…); null or absent (older gateways) when none. */
    models_digest?: string | null;
  } | null;
}

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
  /**
   * Its current attempt: queued (waiting for a runner) -> running (a runner has it) -> final; or cancelled
   * (free while queued; counted when a runner had started it). An organizer's re-run makes a final
   * submission queued again while its standing result (below) stays (src/intake/transitions.ts).
   */
  state: SubmissionState;
  /** The lifecycle phase it was submitted in (timeline.phases[].name), or null. */
  phase: string | null;
  /** The participant's note, as given at upload. */
  note: string | null;
  /** Set when the organizers took it off the leaderboards: why. */
  disqualified: string | null;
  /** Chosen by its participant for the final (private) leaderboard (final_selection mode `chosen`). */
  chosen: boolean;
  /**
   * The standing outcome: the last scored attempt's, until a newer attempt scores (a failed, cancelled or
   * given-up re-run, an infrastructure error or a scorer's crash never replaces a score); null until one
   * attempt has ended.
   */
  status: RunStatus | null;
  /**
   * Why it ended, as a class (src/logs/diagnostics.ts: exit_code, time_limit, memory_limit, no_output_file,
   * wrong_format, refused, …); null before. Where the phase's logs are `none`, `reason` is this class in
   * words with its numbers only (never text the program produced) and `problems` is empty.
   */
  reason_class: ReasonClassKind | null;
  /**
   * Where logs are shown: the runner's reason, each quoted value in it cut to 60 characters, within
   * logs.max_bytes together with `problems`.
   */
  reason: string | null;
  public_score: number | null;
  /** The competition's precision: how many decimals public_score is shown with (3: 23.820), as on the pages. */
  score_precision: number;
  duration_ms: number | null;
  image_digest: string | null;
  /** When a runner started the current attempt (null while it is queued). */
  started_at: string | null;
  finished_at: string | null;
  /**
   * Queued: its place in its kind's queue, 1 = the next a runner claims (the order claims take them);
   * null when not queued.
   */
  queue_position: number | null;
  /**
   * Queued: about how many seconds until a runner starts it, from the runner slots of its kind online and
   * the recent run times; null when not queued, when no runner of its kind is online (`slots_online` 0), or
   * before any run of its kind has finished to estimate from.
   */
  eta_seconds: number | null;
  /** Queued: the runner slots of its kind online now (0: it waits until a runner comes); null when not queued. */
  slots_online: number | null;
  /** Running: the runner that claimed it (its credential's holder and slot); null otherwise. */
  runner: string | null;
  /** The current attempt's number: each run, re-run and retry after a lost runner is an attempt of its own. */
  attempt: number;
  /** The other ended attempts, each with its own outcome (where logs are `none`, each reason is its class). */
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
  /** Format problems, when the predictions were output_invalid; none where the phase's logs are `none`. */
  problems: string[];
  /** What the run used (coarse: two significant digits, a quantized series), once final; else null. */
  usage: Usage | null;
  /**
   * Grand Challenge's results.json as the program wrote it, where the phase shows its output (its first
   * logs.max_bytes, marked where cut: then it is not JSON); else null.
   */
  results_json: string | null;
}

export interface SubmittedView {
  submission: SubmissionView;
  quota: QuotaView;
}

export interface SubmissionListView {
  participant: string;
  submissions: SubmissionView[];
  /** The current phase's limits and use (each phase counts its own submissions). */
  quota: QuotaView;
  /** The phase uploads go to now, and the next one; null where competition.yml names no phases. */
  phase: PhaseView | null;
}

/** Where the competition stands: the current phase (null between phases), and what comes next. */
export interface PhaseView {
  current: { name: string; title: string; final: boolean; ends_at: string | null } | null;
  next: { name: string; title: string; starts_at: string } | null;
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

/** Durations over a window, in seconds (nearest-rank percentiles); nulls when nothing happened in it. */
export interface DurationSummary {
  count: number;
  median_seconds: number | null;
  p95_seconds: number | null;
}

/** One kind of runner's queue (`GET /v1/status`). */
export interface KindStatus {
  /** Runners that claimed, heartbeated or asked for work lately (a runner's slots share its name). */
  runners_online: number;
  /** Their slots: each runs one submission at a time. */
  slots_online: number;
  queued: number;
  running: number;
  /** Queue wait: from queued to claimed, of the attempts claimed in the window. */
  queue_wait: { last_hour: DurationSummary; last_day: DurationSummary };
  /** Run time: from claimed to the result, of the attempts that ended in the window. */
  run_time: { last_hour: DurationSummary; last_day: DurationSummary };
}

/** The public status (`GET /v1/status`, the /status page): counts and durations, no participant or id. */
export interface PublicStatusView {
  competition: string;
  generated_at: string;
  /** The kinds competition.yml's `runners` lists. */
  kinds: Partial<Record<CpuOrGpu, KindStatus>>;
  /** When a run last ended scored (succeeded); null before the first. */
  last_scored_at: string | null;
}
