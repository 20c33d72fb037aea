/**
 * The life of a submission, in one table: for each event, the states it may happen in, the state it leads
 * to, and what it does to the record (each column it sets or clears; every other column is kept). It is
 * the only place that decides. The state and event unions are derived from it, and so is each event's
 * guarded UPDATE (`… WHERE id = @id AND state IN (<its from-states>) [AND attempt = @attempt] [fence]`),
 * which db.ts runs with the attempt row's change in one transaction; when the guard does not hold nothing
 * changes and the caller says why (`TransitionRefusedError`). docs/gateway.md shows the table as
 * `renderTable` writes it (a test keeps them equal).
 *
 * A submission's result columns hold its standing result: the attempt whose result counts (on the
 * leaderboard, toward the limits). An attempt's own result is its row in submission_attempts; it takes
 * the standing place only by the rule of the status room (`replacesStanding`), so a failed, cancelled or
 * given-up re-run leaves the earlier score where it was.
 *
 * A re-score is an attempt too, of another job: `rescore` queues a scoring-only job on the predictions the
 * standing attempt left (a runner scores them with the current metric and ground truth; the program does
 * not run), `rescored` records its result on its own row only, and `apply_rescore` (the organizer's, after
 * seeing old and new) makes it stand. So a dry run changes no standing result, and a failed re-score
 * (the scorer's or a runner's fault) never removes one.
 */
import type { SubmissionState } from "../gateway-api/index.js";
import { isParticipantOutcome, RUN_STATUSES, replacesStanding } from "../status/index.js";
import { ResultConflictError } from "./errors.js";

export const STATES = ["queued", "running", "final", "cancelled"] as const;
export type State = (typeof STATES)[number];
/** The wire contract's states are these, no more, no fewer (a compile error otherwise). */
export const SAME_STATES: [State, SubmissionState] extends [SubmissionState, State] ? true : never = true;

export const EVENTS = [
  "claim",
  "unclaim",
  "start",
  "heartbeat",
  "report",
  "retry",
  "give_up",
  "cancel",
  "rerun",
  "rescore",
  "rescored",
  "apply_rescore",
] as const;
export type SubmissionEvent = (typeof EVENTS)[number];

/** The columns of the standing result: written together, by the standing rule only. */
export const STANDING_COLUMNS = [
  "status",
  "reason",
  "public_score",
  "sealed_private_score",
  "duration_ms",
  "image_digest",
  "models_digest",
  "stdout",
  "stderr",
  "problems",
  "usage",
  "results_json",
  "diagnosis",
  "scorer_digest",
  "ground_truth_digest",
  "finished_at",
] as const;

/**
 * What an attempt does: `run` the program (validate and score its predictions), or `rescore` the
 * predictions an earlier attempt left (the gateway keeps them): scoring only, no container of the
 * participant's program. A retry of a lost attempt does the same job again.
 */
export const JOBS = ["run", "rescore"] as const;
export type Job = (typeof JOBS)[number];

/** What happens to the attempt's own row (submission_attempts) in the same transaction. */
export type AttemptRowChange =
  /** a new row for the next attempt */
  | "opens"
  /** the running attempt's runner and start */
  | "starts"
  /** its runner and start taken back: it never started */
  | "unstarts"
  /** its outcome, written once */
  | "ends"
  /** the lost attempt's outcome, then a row for the next */
  | "ends, opens";

export interface Transition {
  from: readonly State[];
  to: State;
  /** Who makes it happen, and why, in words (the docs' table). */
  what: string;
  /** SET assignments besides `state`: column -> SQL over the named parameters (`@…`). */
  set: Readonly<Record<string, string>>;
  /** Only for the attempt named by `@attempt` (a runner's, the sweeper's), else whatever is current. */
  attempt: "required" | "optional" | "none";
  /** Only while `@claim_sha256` holds the claim (required), where the caller names one, or never. */
  claim: "required" | "optional" | "none";
  attemptRow: AttemptRowChange | null;
  /** A condition beyond the state and the fences (the job it is for, what a runner can do), in SQL. */
  guard?: string;
  /** What the caller is told when its event is refused, after the states it needs. */
  refused: string;
}

const NULL = "NULL";
const clearClaim = { claim_sha256: NULL, claimed_by: NULL, lease_expires_at_ms: NULL };
const newDispatch = {
  dispatch_state: "'pending'",
  dispatch_attempts: "0",
  dispatch_error: NULL,
  next_dispatch_at_ms: "@now_ms",
  dispatched_at: NULL,
  dispatched_at_ms: NULL,
};

/** `CASE`: whether `@status` takes the standing place of `status`, from the status room's rule. */
export function standingRuleSql(): string {
  const cases = [null, ...RUN_STATUSES].map((standing) => {
    const replacing = RUN_STATUSES.filter((incoming) => replacesStanding(standing, incoming));
    const when = standing === null ? "status IS NULL" : `status = '${standing}'`;
    return `WHEN ${when} THEN @status IN (${replacing.map((s) => `'${s}'`).join(", ")})`;
  });
  return `(CASE ${cases.join(" ")} ELSE 0 END)`;
}

const standingResult = (): Record<string, string> => {
  const rule = standingRuleSql();
  const set: Record<string, string> = {};
  for (const column of STANDING_COLUMNS) set[column] = `CASE WHEN ${rule} THEN @${column} ELSE ${column} END`;
  set["standing_attempt"] = `CASE WHEN ${rule} THEN attempt ELSE standing_attempt END`;
  return set;
};

/**
 * The attempt whose predictions made the standing result: the standing attempt's own, or where a
 * re-score stands, the run's it re-scored (so a re-score can be re-scored again).
 */
const PREDICTIONS_OF_STANDING =
  "COALESCE((SELECT s.rescore_of FROM submission_attempts s WHERE s.submission_id = submissions.id " +
  "AND s.attempt = submissions.standing_attempt), submissions.standing_attempt)";

/** A column of the attempt `@attempt`'s own row. */
function fromAttempt(column: string): string {
  return `(SELECT a.${column} FROM submission_attempts a WHERE a.submission_id = @id AND a.attempt = @attempt)`;
}

/** An attempt's end with a result (a runner's, or the intake's infrastructure_error): final. */
const endsAttempt = {
  from: ["queued", "running"],
  to: "final",
  set: { ...standingResult(), next_dispatch_at_ms: NULL, lease_expires_at_ms: NULL },
  attempt: "required",
  claim: "optional",
  attemptRow: "ends",
} as const satisfies Omit<Transition, "what" | "refused">;

export const TRANSITIONS: { readonly [E in SubmissionEvent]: Transition } = {
  claim: {
    from: ["queued"],
    to: "running",
    what: "a runner claims it (next of its kind, or by id): a lease, kept by heartbeats",
    set: {
      started_at_ms: "@now_ms",
      claim_sha256: "@claim_sha256",
      claimed_by: "@claimed_by",
      claim_used: "0",
      lease_expires_at_ms: "@lease_until",
      next_dispatch_at_ms: NULL,
    },
    attempt: "optional",
    claim: "none",
    attemptRow: "starts",
    // Only a job the runner says it can do (@jobs, a JSON list): an older runner never gets a re-score.
    guard: "job IN (SELECT value FROM json_each(@jobs))",
    refused: "another runner has it, or it is over: run nothing",
  },
  unclaim: {
    from: ["running"],
    to: "queued",
    what:
      "its claim's lease ran out before the runner made one call (a runner that went away as the claim's " +
      "answer left): nothing ran, so the same attempt is queued again in its place, no try used",
    set: { started_at_ms: NULL, ...clearClaim, next_dispatch_at_ms: "@now_ms" },
    attempt: "required",
    claim: "required",
    attemptRow: "unstarts",
    // Unused: no heartbeat or download since the claim. Never dispatched: an Actions job's lost claim is
    // retried, which dispatches the next attempt.
    guard: "claim_used = 0 AND dispatch_state = 'pending'",
    refused: "its runner called since it claimed, or it was dispatched: the lost attempt is retried instead",
  },
  start: {
    from: ["queued"],
    to: "running",
    what: "a runner without a claim downloads its zip or reports `running`",
    set: { started_at_ms: "@now_ms" },
    attempt: "required",
    claim: "optional",
    attemptRow: "starts",
    guard: "job = 'run'",
    refused: "it started already, or it is over",
  },
  heartbeat: {
    from: ["running"],
    to: "running",
    what: "the claim's runner keeps its lease (its download of what it runs does too)",
    set: { lease_expires_at_ms: "@lease_until", claim_used: "1" },
    attempt: "required",
    claim: "required",
    attemptRow: null,
    refused: "this runner no longer holds it: stop the run and report nothing",
  },
  report: {
    ...endsAttempt,
    guard: "job = 'run'",
    what: "its runner reports the attempt's result; it stands by the standing rule",
    refused: "a result is never replaced: report nothing",
  },
  retry: {
    from: ["queued", "running"],
    to: "queued",
    what:
      "the attempt was lost (lease over, released, stuck, never picked up, the runner's infrastructure " +
      "error) and this run's tries are not used up: the next attempt, uncounted, in its place in the queue",
    set: { attempt: "attempt + 1", started_at_ms: NULL, ...newDispatch, ...clearClaim },
    attempt: "required",
    claim: "optional",
    attemptRow: "ends, opens",
    refused: "its result came in meanwhile",
  },
  give_up: {
    ...endsAttempt,
    what: "the attempt was lost and this run's tries are used up: infrastructure_error, which replaces no result",
    refused: "its result came in meanwhile",
  },
  cancel: {
    from: ["queued", "running"],
    to: "cancelled",
    what: "its participant or an organizer cancels it; the claim stays, so its runner is told to stop",
    set: {
      cancelled_at: "@at",
      cancelled_by: "@by",
      next_dispatch_at_ms: NULL,
      lease_expires_at_ms: NULL,
    },
    attempt: "none",
    claim: "optional",
    attemptRow: "ends",
    refused: "it is over: there is nothing to cancel",
  },
  rerun: {
    from: ["final", "cancelled"],
    to: "queued",
    what: "an organizer runs it again: a new run (its own tries) at the end of the queue; the standing result stays until a newer one stands",
    set: {
      attempt: "attempt + 1",
      run_first_attempt: "attempt + 1",
      started_at_ms: NULL,
      cancelled_at: NULL,
      cancelled_by: NULL,
      queued_at_ms: "@now_ms",
      job: "'run'",
      rescore_of: NULL,
      ...newDispatch,
      ...clearClaim,
    },
    attempt: "none",
    claim: "optional",
    attemptRow: "opens",
    refused: "a run of it is under way: wait for it to end, or cancel it first",
  },
  rescore: {
    from: ["final", "cancelled"],
    to: "queued",
    what:
      "an organizer re-scores it: a scoring-only job (its own tries) on the predictions the standing " +
      "attempt left, which the gateway kept; the program does not run, and the standing result stays",
    set: {
      attempt: "attempt + 1",
      run_first_attempt: "attempt + 1",
      job: "'rescore'",
      rescore_of: PREDICTIONS_OF_STANDING,
      started_at_ms: NULL,
      cancelled_at: NULL,
      cancelled_by: NULL,
      queued_at_ms: "@now_ms",
      ...newDispatch,
      ...clearClaim,
    },
    attempt: "none",
    claim: "optional",
    attemptRow: "opens",
    guard:
      "EXISTS (SELECT 1 FROM submission_attempts a WHERE a.submission_id = @id " +
      `AND a.attempt = ${PREDICTIONS_OF_STANDING} AND a.predictions_sha256 IS NOT NULL)`,
    refused:
      "a run of it is under way, or the attempt that stands left no predictions here (it ran before the " +
      "gateway kept them, or it wrote none): run it again with `proctor admin rerun`",
  },
  rescored: {
    from: ["queued", "running"],
    to: "final",
    what:
      "its runner reports the re-score's result: recorded on the attempt only; the standing result stays " +
      "until `apply_rescore`",
    set: { next_dispatch_at_ms: NULL, lease_expires_at_ms: NULL },
    attempt: "required",
    claim: "optional",
    attemptRow: "ends",
    guard: "job = 'rescore'",
    refused: "a result is never replaced: report nothing",
  },
  apply_rescore: {
    from: ["final"],
    to: "final",
    what:
      "an organizer applies a re-score: its result stands, the run's logs and usage stay; only a " +
      "participant's outcome (a score, or predictions the metric now refuses) is applied, and only while " +
      "nothing happened to the submission since",
    set: {
      status: fromAttempt("status"),
      reason: fromAttempt("reason"),
      public_score: fromAttempt("public_score"),
      sealed_private_score: fromAttempt("sealed_private_score"),
      problems: `COALESCE(${fromAttempt("problems")}, '[]')`,
      diagnosis:
        `json_set(COALESCE(diagnosis, '{"exitCode":null}'), '$.problemCounts', ` +
        `json(COALESCE(${fromAttempt("problem_counts")}, '{}')))`,
      scorer_digest: fromAttempt("scorer_digest"),
      ground_truth_digest: fromAttempt("ground_truth_digest"),
      finished_at: fromAttempt("ended_at"),
      standing_attempt: "@attempt",
    },
    attempt: "required",
    claim: "none",
    attemptRow: null,
    guard: `job = 'rescore' AND ${fromAttempt("status")} IN (${RUN_STATUSES.filter(isParticipantOutcome)
      .map((s) => `'${s}'`)
      .join(", ")})`,
    refused:
      "the re-score is not the latest attempt any more, or its scorer or runner failed (which never " +
      "replaces a result): re-score again",
  },
};

/** Whether `event` may happen to a submission in `state`. */
export const allowed = (state: State, event: SubmissionEvent): boolean =>
  (TRANSITIONS[event].from as readonly State[]).includes(state);

/** Fences beyond the state: the attempt, the claim's token hash, a lease over before this time. */
export interface Fence {
  attempt?: boolean;
  claim?: boolean;
  leaseOver?: boolean;
}

/**
 * The guarded UPDATE of `event`, RETURNING the attempt it leaves current. Named parameters: @id, those
 * of its SET, @attempt / @claim_sha256 / @lease_over_at_ms where fenced.
 */
export function transitionSql(event: SubmissionEvent, fence: Fence = {}): string {
  const t = TRANSITIONS[event];
  if (t.attempt === "required" && !fence.attempt) throw new Error(`${event} needs the attempt fence`);
  if (t.attempt === "none" && fence.attempt) throw new Error(`${event} takes no attempt fence`);
  if (t.claim === "required" && !fence.claim) throw new Error(`${event} needs the claim fence`);
  if (t.claim === "none" && fence.claim) throw new Error(`${event} takes no claim fence`);
  const set = [`state = '${t.to}'`, ...Object.entries(t.set).map(([column, sql]) => `${column} = ${sql}`)];
  const where = [`id = @id`, `state IN (${t.from.map((s) => `'${s}'`).join(", ")})`];
  if (fence.attempt) where.push("attempt = @attempt");
  if (fence.claim) where.push("claim_sha256 = @claim_sha256");
  if (fence.leaseOver) where.push("lease_expires_at_ms < @lease_over_at_ms");
  if (t.guard) where.push(`(${t.guard})`);
  return `UPDATE submissions SET ${set.join(", ")} WHERE ${where.join(" AND ")} RETURNING attempt`;
}

/** An event its submission's state does not allow (409 on the API): names both, and what to do. */
export class TransitionRefusedError extends ResultConflictError {
  override name = "TransitionRefusedError";
  override readonly code = "transition_refused";
  constructor(
    readonly submissionId: string,
    readonly state: State,
    readonly event: SubmissionEvent,
    detail?: string,
  ) {
    const t = TRANSITIONS[event];
    super(
      `submission ${submissionId} is ${state}, and only a ${t.from.join(" or ")} submission can take ` +
        `"${event}" (${detail ?? t.refused})`,
    );
  }
}

/** What an event does to one concern of the record, for the table (and its test). */
export type Effect = "set" | "cleared" | "kept" | "by the standing rule" | "next";

/** The concerns a reader of the table asks about, and the columns that make each. */
const CONCERNS = {
  lease: ["lease_expires_at_ms"],
  claim: ["claim_sha256", "claimed_by"],
  attempt: ["attempt"],
  job: ["job"],
  "standing result": ["status", "public_score", "standing_attempt"],
  "queue place": ["queued_at_ms"],
} as const;
export type Concern = keyof typeof CONCERNS;

export function effect(event: SubmissionEvent, concern: Concern): Effect {
  const sql = CONCERNS[concern].map((column) => TRANSITIONS[event].set[column]);
  if (sql.every((s) => s === undefined)) return "kept";
  if (sql.every((s) => s === NULL)) return "cleared";
  if (sql.every((s) => s?.startsWith("CASE WHEN"))) return "by the standing rule";
  if (sql.every((s) => s === "attempt + 1")) return "next";
  return "set";
}

/** The table as docs/gateway.md shows it (Markdown). */
export function renderTable(): string {
  const concerns = Object.keys(CONCERNS) as Concern[];
  const head = ["event", "from", "to", ...concerns, "attempt row", "what"];
  const rows = EVENTS.map((event) => {
    const t = TRANSITIONS[event];
    return [
      `\`${event}\``,
      t.from.join(", "),
      t.to,
      ...concerns.map((c) => effect(event, c)),
      t.attemptRow ?? "—",
      t.what,
    ];
  });
  return [head, head.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}
