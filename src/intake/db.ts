/**
 * The intake's records: participant tokens (hashed) and submissions with their state, dispatch bookkeeping
 * and results. One SQLite file, opened by the sqlite room (0600, WAL, busy timeout, migrations under the
 * write lock). `proctor tokens` and `proctor serve` may open it at the same time.
 *
 * State changes are the transition table's (transitions.ts): one guarded UPDATE each, with the attempt's
 * own row (submission_attempts: appended, its outcome written once) in the same transaction, so a
 * transition happens once even when a runner's report, a cancel, a download and the sweeper race.
 */
import type { CpuOrGpu, DispatchState, SubmissionState, Usage } from "../gateway-api/index.js";
import { countedStatusesSql } from "../leaderboard/index.js";
import { openSqlite, type SqliteDatabase, type SqliteStatement } from "../sqlite/index.js";
import type { Diagnosis } from "../logs/index.js";
import type { RunStatus } from "../status/index.js";
import type { TokenKind } from "./secrets.js";
import { TRANSITIONS, transitionSql, type Job, type SubmissionEvent } from "./transitions.js";

export const INTAKE_SCHEMA_VERSION = 11;

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE tokens (
     id            TEXT PRIMARY KEY NOT NULL,
     participant   TEXT NOT NULL,
     secret_sha256 TEXT NOT NULL,
     created_at    TEXT NOT NULL,
     revoked_at    TEXT
   ) STRICT;
   CREATE TABLE submissions (
     id                   TEXT PRIMARY KEY NOT NULL,
     participant          TEXT NOT NULL,
     cpu_or_gpu           TEXT NOT NULL,
     zip_sha256           TEXT NOT NULL,
     zip_bytes            INTEGER NOT NULL,
     submitted_at         TEXT NOT NULL,
     submitted_at_ms      INTEGER NOT NULL,
     state                TEXT NOT NULL,
     status               TEXT,
     reason               TEXT,
     public_score         REAL,
     sealed_private_score TEXT,
     duration_ms          INTEGER,
     image_digest         TEXT,
     stdout               TEXT,
     stderr               TEXT,
     problems             TEXT NOT NULL DEFAULT '[]',
     attempt              INTEGER NOT NULL DEFAULT 1,
     result_token_sha256  TEXT NOT NULL,
     dispatch_state       TEXT NOT NULL,
     dispatch_attempts    INTEGER NOT NULL DEFAULT 0,
     dispatch_error       TEXT,
     next_dispatch_at_ms  INTEGER,
     dispatched_at        TEXT,
     started_at_ms        INTEGER,
     finished_at          TEXT,
     history              TEXT NOT NULL DEFAULT '[]'
   ) STRICT;
   CREATE INDEX submissions_by_participant ON submissions (participant, submitted_at_ms);
   CREATE INDEX submissions_by_state ON submissions (state, dispatch_state);`,
  // Runner credentials beside participant tokens; dispatches carry no secret, so no result token is kept;
  // the dispatch time in ms, for the pickup deadline.
  `ALTER TABLE tokens RENAME COLUMN participant TO holder;
   ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'participant';
   ALTER TABLE submissions DROP COLUMN result_token_sha256;
   ALTER TABLE submissions ADD COLUMN dispatched_at_ms INTEGER;`,
  // The lifecycle and the web pages: the phase a submission was made in, the participant's note and final
  // choice, cancellation and disqualification; browser sessions (sha256 of their id, so a copy of the file
  // opens none); disqualified participants; a counter of what changes the leaderboard, shared by the
  // gateway and \`proctor admin\`; the cookie-signing secret.
  `ALTER TABLE submissions ADD COLUMN phase TEXT;
   ALTER TABLE submissions ADD COLUMN note TEXT;
   ALTER TABLE submissions ADD COLUMN chosen INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE submissions ADD COLUMN cancelled_at TEXT;
   ALTER TABLE submissions ADD COLUMN cancelled_by TEXT;
   ALTER TABLE submissions ADD COLUMN disqualified TEXT;
   CREATE TABLE sessions (
     id_sha256     TEXT PRIMARY KEY NOT NULL,
     token_id      TEXT NOT NULL,
     created_at_ms INTEGER NOT NULL,
     expires_at_ms INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE disqualified_participants (
     participant TEXT PRIMARY KEY NOT NULL,
     reason      TEXT NOT NULL,
     at          TEXT NOT NULL
   ) STRICT;
   CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) STRICT;
   INSERT INTO meta (key, value) VALUES ('results_version', '0');`,
  // What a run used (the runner's coarse usage report, JSON), for the result views.
  `ALTER TABLE submissions ADD COLUMN usage TEXT;`,
  // Grand Challenge's results.json, where the phase shows the program's output.
  `ALTER TABLE submissions ADD COLUMN results_json TEXT;`,
  // The run's structured diagnosis (exit code, problem counts: JSON), for the participant's reason class.
  `ALTER TABLE submissions ADD COLUMN diagnosis TEXT;`,
  // Claims (runner.ts): a queued submission's place in its queue (a lost claim keeps it, so the attempt
  // after it runs next), and the claim of the running attempt: the sha256 of its token (the fence every
  // heartbeat and report must pass), who holds it, and its lease.
  `ALTER TABLE submissions ADD COLUMN queued_at_ms INTEGER;
   UPDATE submissions SET queued_at_ms = submitted_at_ms;
   ALTER TABLE submissions ADD COLUMN claim_sha256 TEXT;
   ALTER TABLE submissions ADD COLUMN claimed_by TEXT;
   ALTER TABLE submissions ADD COLUMN lease_expires_at_ms INTEGER;
   CREATE INDEX submissions_queue ON submissions (state, cpu_or_gpu, queued_at_ms, id);`,
  // Attempts as rows of their own (transitions.ts), appended, their outcome written once; the submission's
  // result columns become its standing result (`standing_attempt` says whose), and `run_first_attempt`
  // starts each run's tries (an upload's, an organizer's re-run's). Every attempt the counter counted
  // becomes a row: the current one from the record, earlier ones from the history JSON, gaps as unknown.
  `CREATE TABLE submission_attempts (
     submission_id        TEXT NOT NULL REFERENCES submissions (id),
     attempt              INTEGER NOT NULL,
     run                  INTEGER NOT NULL,
     why                  TEXT NOT NULL,
     queued_at_ms         INTEGER,
     runner               TEXT,
     claim_sha256         TEXT,
     started_at_ms        INTEGER,
     ended_at             TEXT,
     status               TEXT,
     reason               TEXT,
     public_score         REAL,
     sealed_private_score TEXT,
     duration_ms          INTEGER,
     image_digest         TEXT,
     PRIMARY KEY (submission_id, attempt)
   ) STRICT;
   ALTER TABLE submissions ADD COLUMN run_first_attempt INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE submissions ADD COLUMN standing_attempt INTEGER;
   UPDATE submissions SET run_first_attempt = attempt,
     standing_attempt = CASE WHEN status IS NULL THEN NULL ELSE attempt END;
   INSERT INTO submission_attempts (submission_id, attempt, run, why, queued_at_ms, runner, claim_sha256,
       started_at_ms, ended_at, status, reason, public_score, sealed_private_score, duration_ms, image_digest)
     SELECT id, attempt, attempt, CASE WHEN attempt = 1 THEN 'upload' ELSE 'retry' END, queued_at_ms,
       claimed_by, claim_sha256, started_at_ms,
       CASE state WHEN 'final' THEN finished_at WHEN 'cancelled' THEN cancelled_at END,
       CASE state WHEN 'final' THEN status WHEN 'cancelled' THEN 'cancelled' END,
       CASE state WHEN 'final' THEN reason WHEN 'cancelled' THEN 'cancelled by the ' || cancelled_by END,
       public_score, sealed_private_score, duration_ms, image_digest
     FROM submissions;
   INSERT OR IGNORE INTO submission_attempts (submission_id, attempt, run, why, ended_at, status, reason)
     SELECT s.id, json_extract(h.value, '$.attempt'), 1,
       CASE WHEN json_extract(h.value, '$.attempt') = 1 THEN 'upload' ELSE 'retry' END,
       json_extract(h.value, '$.at'), json_extract(h.value, '$.status'), json_extract(h.value, '$.reason')
     FROM submissions s, json_each(s.history) h
     WHERE json_extract(h.value, '$.attempt') BETWEEN 1 AND s.attempt - 1;
   WITH RECURSIVE k (id, n, last) AS (
       SELECT id, 1, attempt FROM submissions WHERE attempt > 1
       UNION ALL SELECT id, n + 1, last FROM k WHERE n + 1 < last)
     INSERT OR IGNORE INTO submission_attempts (submission_id, attempt, run, why, ended_at, reason)
     SELECT id, n, 1, CASE WHEN n = 1 THEN 'upload' ELSE 'retry' END, '',
       'not recorded (it ended before attempts were kept apart)' FROM k;
   ALTER TABLE submissions DROP COLUMN history;`,
  // The models image a run had at /code_execution/models (sha256:…; null: none), beside its runtime image:
  // the standing result's and each attempt's. Results from before have none recorded.
  `ALTER TABLE submissions ADD COLUMN models_digest TEXT;
   ALTER TABLE submission_attempts ADD COLUMN models_digest TEXT;`,
  // Re-scoring without re-running (transitions.ts `rescore`): each attempt's job (run the program, or
  // re-score the predictions of attempt `rescore_of`), the predictions a scored attempt left (kept by the
  // gateway: their sha256 and size), what scored it (the metric's or scorer's digest, the ground truth's),
  // and its format problems, so a re-score's result can be applied whole.
  `ALTER TABLE submissions ADD COLUMN job TEXT NOT NULL DEFAULT 'run';
   ALTER TABLE submissions ADD COLUMN rescore_of INTEGER;
   ALTER TABLE submissions ADD COLUMN scorer_digest TEXT;
   ALTER TABLE submissions ADD COLUMN ground_truth_digest TEXT;
   ALTER TABLE submission_attempts ADD COLUMN job TEXT NOT NULL DEFAULT 'run';
   ALTER TABLE submission_attempts ADD COLUMN rescore_of INTEGER;
   ALTER TABLE submission_attempts ADD COLUMN predictions_sha256 TEXT;
   ALTER TABLE submission_attempts ADD COLUMN predictions_bytes INTEGER;
   ALTER TABLE submission_attempts ADD COLUMN scorer_digest TEXT;
   ALTER TABLE submission_attempts ADD COLUMN ground_truth_digest TEXT;
   ALTER TABLE submission_attempts ADD COLUMN problems TEXT;
   ALTER TABLE submission_attempts ADD COLUMN problem_counts TEXT;`,
  // Whether the claim's runner has called since it claimed (a heartbeat, a download): a lost claim it
  // never used is queued again at the same attempt (transitions.ts `unclaim`). Claims held at the upgrade
  // count as used.
  `ALTER TABLE submissions ADD COLUMN claim_used INTEGER NOT NULL DEFAULT 0;
   UPDATE submissions SET claim_used = 1 WHERE state = 'running';`,
];

/**
 * The order claims take a kind's queued submissions in (`claimNext`): the oldest place in the queue first
 * (a lost claim keeps its place). Queue positions (src/queue-status) count in this same order.
 */
export const CLAIM_ORDER = "queued_at_ms, id";

/** Every submission column, and its attempts (oldest first) as JSON: what fromRow reads. */
const SELECT_SUBMISSIONS = `SELECT submissions.*,
  (SELECT json_group_array(json_object('attempt', attempt, 'run', run, 'why', why,
     'queued_at_ms', queued_at_ms, 'runner', runner, 'started_at_ms', started_at_ms, 'ended_at', ended_at,
     'status', status, 'reason', reason, 'public_score', public_score, 'duration_ms', duration_ms,
     'image_digest', image_digest, 'models_digest', models_digest, 'job', job, 'rescore_of', rescore_of,
     'predictions_sha256', predictions_sha256, 'predictions_bytes', predictions_bytes,
     'scorer_digest', scorer_digest, 'ground_truth_digest', ground_truth_digest) ORDER BY attempt)
   FROM submission_attempts a WHERE a.submission_id = submissions.id) AS attempts_json
  FROM submissions`;

export type { CpuOrGpu, DispatchState, SubmissionState };

/** One attempt of a submission (submission_attempts), as recorded. */
export interface AttemptRow {
  attempt: number;
  /** The first attempt of the run it belongs to (the upload's, or an organizer's re-run's). */
  run: number;
  /** What started it: the upload, a retry after a lost attempt, an organizer's re-run. */
  why: "upload" | "retry" | "rerun";
  queuedAtMs: number | null;
  /** Who claimed it (credential holder/runner name); null when no runner claimed it. */
  runner: string | null;
  startedAtMs: number | null;
  /** When it ended; null while under way ("" when it ended before this was recorded). */
  endedAt: string | null;
  /** Its own outcome; null while under way (or unknown, for attempts older than this table). */
  status: RunStatus | "cancelled" | null;
  reason: string | null;
  publicScore: number | null;
  durationMs: number | null;
  imageDigest: string | null;
  /** The models image it had mounted (sha256:…); null: none (or not recorded). */
  modelsDigest: string | null;
  /** Run the program, or re-score the predictions attempt `rescoreOf` left. */
  job: Job;
  rescoreOf: number | null;
  /** The predictions it left, kept by the gateway (organizer-only); null: none kept. */
  predictionsSha256: string | null;
  predictionsBytes: number | null;
  /** What scored it: the metric's (or custom scorer's) digest and the ground truth's; null: not recorded. */
  scorerDigest: string | null;
  groundTruthDigest: string | null;
}

export interface SubmissionRecord {
  id: string;
  participant: string;
  cpuOrGpu: CpuOrGpu;
  zipSha256: string;
  zipBytes: number;
  submittedAt: string;
  submittedAtMs: number;
  /** The current attempt's state. */
  state: SubmissionState;
  /**
   * The standing result, from here to `finishedAt` (the attempt `standingAttempt`'s): what counts on the
   * leaderboard and toward the limits; null until an attempt ended. A re-run's own outcome is its row in
   * `attempts`; it takes this place by the standing rule (status room: a score stays until a newer one).
   */
  status: RunStatus | null;
  reason: string | null;
  publicScore: number | null;
  sealedPrivateScore: string | null;
  durationMs: number | null;
  imageDigest: string | null;
  /** The models image the standing result's run had mounted (sha256:…); null: none. */
  modelsDigest: string | null;
  /** What scored the standing result: the metric's (or custom scorer's) digest, the ground truth's. */
  scorerDigest: string | null;
  groundTruthDigest: string | null;
  /** The current attempt's job: run the program, or re-score the predictions of attempt `rescoreOf`. */
  job: Job;
  rescoreOf: number | null;
  stdout: string | null;
  stderr: string | null;
  problems: string[];
  /** What the run used, as the runner reported it (coarse); null before, or when no container ran. */
  usage: Usage | null;
  resultsJson: string | null;
  /** The facts the participant's reason class is made of; null before, or when the runner sent none. */
  diagnosis: Diagnosis | null;
  attempt: number;
  dispatchState: DispatchState;
  dispatchAttempts: number;
  dispatchError: string | null;
  nextDispatchAtMs: number | null;
  dispatchedAt: string | null;
  dispatchedAtMs: number | null;
  startedAtMs: number | null;
  finishedAt: string | null;
  /** Every attempt, oldest first (the last is the current one). */
  attempts: AttemptRow[];
  /** The attempt whose result stands; null when none ended yet. */
  standingAttempt: number | null;
  /** The first attempt of the current run: its tries are counted from there (`maxAttempts`). */
  runFirstAttempt: number;
  /** The lifecycle phase it was submitted in (null: no phases configured). */
  phase: string | null;
  note: string | null;
  /** Picked by its participant for the final (private) leaderboard. */
  chosen: boolean;
  cancelledAt: string | null;
  /** "participant" or "organizer". */
  cancelledBy: string | null;
  /** Why an organizer disqualified it; null when not. */
  disqualified: string | null;
  /** Its place in the queue of its kind (lower runs first). */
  queuedAtMs: number;
  /** The sha256 of the running attempt's claim token; null when no runner claimed it (or not running). */
  claimSha256: string | null;
  /** Who holds the claim: the runner credential's holder and the runner's own name for the slot. */
  claimedBy: string | null;
  /** When the claim's lease ends unless a heartbeat extends it. */
  leaseExpiresAtMs: number | null;
}

export interface TokenRecord {
  id: string;
  kind: TokenKind;
  /** The participant's name, or the runner's. */
  holder: string;
  secretSha256: string;
  createdAt: string;
  revokedAt: string | null;
}

interface SubmissionRow {
  id: string;
  participant: string;
  cpu_or_gpu: string;
  zip_sha256: string;
  zip_bytes: number;
  submitted_at: string;
  submitted_at_ms: number;
  state: string;
  status: string | null;
  reason: string | null;
  public_score: number | null;
  sealed_private_score: string | null;
  duration_ms: number | null;
  image_digest: string | null;
  models_digest: string | null;
  scorer_digest: string | null;
  ground_truth_digest: string | null;
  job: string;
  rescore_of: number | null;
  stdout: string | null;
  stderr: string | null;
  problems: string;
  usage: string | null;
  results_json: string | null;
  diagnosis: string | null;
  attempt: number;
  dispatch_state: string;
  dispatch_attempts: number;
  dispatch_error: string | null;
  next_dispatch_at_ms: number | null;
  dispatched_at: string | null;
  dispatched_at_ms: number | null;
  started_at_ms: number | null;
  finished_at: string | null;
  attempts_json: string;
  standing_attempt: number | null;
  run_first_attempt: number;
  phase: string | null;
  note: string | null;
  chosen: number;
  cancelled_at: string | null;
  cancelled_by: string | null;
  disqualified: string | null;
  queued_at_ms: number;
  claim_sha256: string | null;
  claimed_by: string | null;
  lease_expires_at_ms: number | null;
}

interface TokenRow {
  id: string;
  kind: string;
  holder: string;
  secret_sha256: string;
  created_at: string;
  revoked_at: string | null;
}

function fromRow(row: SubmissionRow): SubmissionRecord {
  return {
    id: row.id,
    participant: row.participant,
    cpuOrGpu: row.cpu_or_gpu as CpuOrGpu,
    zipSha256: row.zip_sha256,
    zipBytes: row.zip_bytes,
    submittedAt: row.submitted_at,
    submittedAtMs: row.submitted_at_ms,
    state: row.state as SubmissionState,
    status: row.status as RunStatus | null,
    reason: row.reason,
    publicScore: row.public_score,
    sealedPrivateScore: row.sealed_private_score,
    durationMs: row.duration_ms,
    imageDigest: row.image_digest,
    modelsDigest: row.models_digest,
    scorerDigest: row.scorer_digest,
    groundTruthDigest: row.ground_truth_digest,
    job: row.job as Job,
    rescoreOf: row.rescore_of,
    stdout: row.stdout,
    stderr: row.stderr,
    problems: JSON.parse(row.problems) as string[],
    usage: row.usage === null ? null : (JSON.parse(row.usage) as Usage),
    resultsJson: row.results_json,
    diagnosis: row.diagnosis === null ? null : (JSON.parse(row.diagnosis) as Diagnosis),
    attempt: row.attempt,
    dispatchState: row.dispatch_state as DispatchState,
    dispatchAttempts: row.dispatch_attempts,
    dispatchError: row.dispatch_error,
    nextDispatchAtMs: row.next_dispatch_at_ms,
    dispatchedAt: row.dispatched_at,
    dispatchedAtMs: row.dispatched_at_ms,
    startedAtMs: row.started_at_ms,
    finishedAt: row.finished_at,
    attempts: (JSON.parse(row.attempts_json) as AttemptJson[]).map(attemptFromJson),
    standingAttempt: row.standing_attempt,
    runFirstAttempt: row.run_first_attempt,
    phase: row.phase,
    note: row.note,
    chosen: row.chosen === 1,
    cancelledAt: row.cancelled_at,
    cancelledBy: row.cancelled_by,
    disqualified: row.disqualified,
    queuedAtMs: row.queued_at_ms,
    claimSha256: row.claim_sha256,
    claimedBy: row.claimed_by,
    leaseExpiresAtMs: row.lease_expires_at_ms,
  };
}

interface AttemptJson {
  attempt: number;
  run: number;
  why: string;
  queued_at_ms: number | null;
  runner: string | null;
  started_at_ms: number | null;
  ended_at: string | null;
  status: string | null;
  reason: string | null;
  public_score: number | null;
  duration_ms: number | null;
  image_digest: string | null;
  models_digest: string | null;
  job: string;
  rescore_of: number | null;
  predictions_sha256: string | null;
  predictions_bytes: number | null;
  scorer_digest: string | null;
  ground_truth_digest: string | null;
}

const attemptFromJson = (a: AttemptJson): AttemptRow => ({
  attempt: a.attempt,
  run: a.run,
  why: a.why as AttemptRow["why"],
  queuedAtMs: a.queued_at_ms,
  runner: a.runner,
  startedAtMs: a.started_at_ms,
  endedAt: a.ended_at,
  status: a.status as AttemptRow["status"],
  reason: a.reason,
  publicScore: a.public_score,
  durationMs: a.duration_ms,
  imageDigest: a.image_digest,
  modelsDigest: a.models_digest,
  job: a.job as Job,
  rescoreOf: a.rescore_of,
  predictionsSha256: a.predictions_sha256,
  predictionsBytes: a.predictions_bytes,
  scorerDigest: a.scorer_digest,
  groundTruthDigest: a.ground_truth_digest,
});

const tokenFromRow = (row: TokenRow): TokenRecord => ({
  id: row.id,
  kind: row.kind as TokenKind,
  holder: row.holder,
  secretSha256: row.secret_sha256,
  createdAt: row.created_at,
  revokedAt: row.revoked_at,
});

export class IntakeDbError extends Error {
  override name = "IntakeDbError";
}

export interface NewSubmission {
  id: string;
  participant: string;
  cpuOrGpu: CpuOrGpu;
  zipSha256: string;
  zipBytes: number;
  submittedAtMs: number;
  phase?: string | null;
  note?: string | null;
}

/** A claim being made: the sha256 of its token, who makes it, when, and for how long. */
export interface NewClaim {
  sha256: string;
  by: string;
  nowMs: number;
  leaseMs: number;
  /** The jobs the runner can do (default: run only, as older runners). */
  jobs?: readonly Job[];
}

/**
 * Narrows a transition of a running attempt to one claim: only while `claimSha256` still holds it (a
 * runner's report or release), or only while its lease is still over before `leaseOverAtMs` (the
 * sweeper: a heartbeat that came in meanwhile wins). Empty: whoever holds it.
 */
export interface ClaimGuard {
  claimSha256?: string;
  leaseOverAtMs?: number;
}

/** How an attempt ended, for its row. */
interface AttemptEnd {
  at: string;
  status: RunStatus | "cancelled";
  reason: string;
  publicScore?: number | null;
  sealedPrivateScore?: string | null;
  durationMs?: number | null;
  imageDigest?: string | null;
  modelsDigest?: string | null;
  scorerDigest?: string | null;
  groundTruthDigest?: string | null;
  problems?: string[];
  problemCounts?: Record<string, number> | null;
}

const claimValues = (claim: NewClaim) => ({
  now_ms: claim.nowMs,
  claim_sha256: claim.sha256,
  claimed_by: claim.by,
  lease_until: claim.nowMs + claim.leaseMs,
  jobs: JSON.stringify(claim.jobs ?? ["run"]),
});

/** The attempt rows' changes of a transition (transitions.ts `attemptRow`). */
const OPEN_ATTEMPT = `INSERT INTO submission_attempts (submission_id, attempt, run, why, queued_at_ms, job,
    rescore_of)
  SELECT id, attempt, run_first_attempt, @why, @now_ms, job, rescore_of FROM submissions WHERE id = @id`;
const START_ATTEMPT = `UPDATE submission_attempts SET started_at_ms = @now_ms, runner = @runner,
  claim_sha256 = @claim_sha256 WHERE submission_id = @id AND attempt = @attempt`;
const UNSTART_ATTEMPT = `UPDATE submission_attempts SET started_at_ms = NULL, runner = NULL,
  claim_sha256 = NULL WHERE submission_id = @id AND attempt = @attempt AND ended_at IS NULL`;
const END_ATTEMPT = `UPDATE submission_attempts SET ended_at = @ended_at, status = @status, reason = @reason,
  public_score = @public_score, sealed_private_score = @sealed_private_score, duration_ms = @duration_ms,
  image_digest = @image_digest, models_digest = @models_digest, scorer_digest = @scorer_digest,
  ground_truth_digest = @ground_truth_digest, problems = @problems, problem_counts = @problem_counts
  WHERE submission_id = @id AND attempt = @attempt AND ended_at IS NULL`;

export interface FinalFields {
  status: RunStatus;
  reason: string;
  publicScore: number | null;
  sealedPrivateScore: string | null;
  durationMs: number;
  imageDigest: string;
  /** The models image the run had mounted (sha256:…); default none. */
  modelsDigest?: string | null;
  /** What scored it (default none): the metric's or custom scorer's digest, the ground truth's. */
  scorerDigest?: string | null;
  groundTruthDigest?: string | null;
  stdout: string | null;
  stderr: string | null;
  problems: string[];
  usage: Usage | null;
  resultsJson: string | null;
  /** Default none: the participant's reason class then has no numbers. */
  diagnosis?: Diagnosis | null;
  finishedAt: string;
}

/** A result with nothing measured (a run given up, a test's record): blank but for what is given. */
export function blankResult(
  fields: Pick<FinalFields, "status" | "reason" | "finishedAt"> & Partial<FinalFields>,
): FinalFields {
  return {
    publicScore: null,
    sealedPrivateScore: null,
    durationMs: 0,
    imageDigest: "",
    stdout: null,
    stderr: null,
    problems: [],
    usage: null,
    resultsJson: null,
    ...fields,
  };
}

export class IntakeDb {
  readonly path: string;
  readonly #db: SqliteDatabase;
  readonly #statements = new Map<string, SqliteStatement>();
  #closed = false;

  constructor(path: string, options: { busyTimeoutMs?: number } = {}) {
    this.path = path;
    this.#db = openSqlite(path, {
      what: "the intake database",
      schema: { version: INTAKE_SCHEMA_VERSION, migrations: MIGRATIONS },
      error: (message) => new IntakeDbError(message),
      ...(options.busyTimeoutMs !== undefined && { busyTimeoutMs: options.busyTimeoutMs }),
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  // ---- tokens -------------------------------------------------------------------------------------

  insertToken(token: TokenRecord): void {
    this.#db
      .prepare(
        `INSERT INTO tokens (id, kind, holder, secret_sha256, created_at, revoked_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(token.id, token.kind, token.holder, token.secretSha256, token.createdAt, token.revokedAt);
  }

  getToken(id: string): TokenRecord | undefined {
    const row = this.#statement<[string], TokenRow>("SELECT * FROM tokens WHERE id = ?").get(id);
    return row && tokenFromRow(row);
  }

  listTokens(kind: TokenKind): TokenRecord[] {
    return this.#db
      .prepare<[string], TokenRow>("SELECT * FROM tokens WHERE kind = ? ORDER BY created_at, id")
      .all(kind)
      .map(tokenFromRow);
  }

  /** Marks a token revoked; false when there is no such token or it already was. */
  revokeToken(id: string, at: string): boolean {
    return (
      this.#db.prepare("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(at, id)
        .changes === 1
    );
  }

  // ---- submissions --------------------------------------------------------------------------------

  insertSubmission(s: NewSubmission): void {
    this.#db
      .transaction(() => {
        this.#db
          .prepare(
            `INSERT INTO submissions (id, participant, cpu_or_gpu, zip_sha256, zip_bytes, submitted_at,
               submitted_at_ms, state, dispatch_state, next_dispatch_at_ms, phase, note, queued_at_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', 'pending', ?, ?, ?, ?)`,
          )
          .run(
            s.id,
            s.participant,
            s.cpuOrGpu,
            s.zipSha256,
            s.zipBytes,
            new Date(s.submittedAtMs).toISOString(),
            s.submittedAtMs,
            s.submittedAtMs,
            s.phase ?? null,
            s.note ?? null,
            s.submittedAtMs,
          );
        this.#statement(OPEN_ATTEMPT).run({ id: s.id, why: "upload", now_ms: s.submittedAtMs });
      })
      .immediate();
  }

  getSubmission(id: string): SubmissionRecord | undefined {
    const row = this.#statement<[string], SubmissionRow>(`${SELECT_SUBMISSIONS} WHERE id = ?`).get(id);
    return row && fromRow(row);
  }

  /** A participant's submissions, newest first. */
  listByParticipant(participant: string): SubmissionRecord[] {
    return this.#db
      .prepare<[string], SubmissionRow>(
        `${SELECT_SUBMISSIONS} WHERE participant = ? ORDER BY submitted_at_ms DESC, id DESC`,
      )
      .all(participant)
      .map(fromRow);
  }

  /**
   * Every submission with a standing result, oldest first: what the leaderboard ranks. A re-run under
   * way, cancelled or failed keeps its submission here with the earlier result.
   */
  listStanding(): SubmissionRecord[] {
    return this.#db
      .prepare<[], SubmissionRow>(
        `${SELECT_SUBMISSIONS} WHERE status IS NOT NULL ORDER BY submitted_at_ms, id`,
      )
      .all()
      .map(fromRow);
  }

  /**
   * Submissions that count toward the participant's limits: those not final yet (they may succeed), those
   * whose standing status counts (`countedStatuses`, the leaderboard's rule), and cancelled ones a runner
   * had started (they used a runner; one cancelled while queued is free).
   */
  countForQuota(
    participant: string,
    sinceMs: number | undefined,
    countFailed: boolean,
    /** Only submissions of this phase (each phase has its own quota); undefined: of any. */
    phase?: string,
  ): number {
    const counted = countedStatusesSql("status", countFailed);
    const sql =
      "SELECT COUNT(*) AS n FROM submissions WHERE participant = ? AND (state IN ('queued', 'running') OR " +
      `(status IS NOT NULL AND ${counted.sql}) OR (state = 'cancelled' AND started_at_ms IS NOT NULL))` +
      (sinceMs !== undefined ? " AND submitted_at_ms >= ?" : "") +
      (phase !== undefined ? " AND phase = ?" : "");
    const params = [
      participant,
      ...counted.params,
      ...(sinceMs !== undefined ? [sinceMs] : []),
      ...(phase !== undefined ? [phase] : []),
    ];
    return this.#statement<(string | number)[], { n: number }>(sql).get(...params)?.n ?? 0;
  }

  // ---- transitions (transitions.ts: each one guarded UPDATE, with its attempt row, in one transaction) --

  /**
   * Applies `event` to a submission: the table's guarded UPDATE, then its attempt row's change (`ended`:
   * how the attempt ended, where it ends one). Returns the attempt it leaves current, or undefined when
   * the guard did not hold (another state, attempt or claim): nothing changed.
   */
  #apply(
    event: SubmissionEvent,
    id: string,
    values: Record<string, string | number | null>,
    fence: ClaimGuard & { attempt?: number } = {},
    ended?: AttemptEnd,
  ): number | undefined {
    const t = TRANSITIONS[event];
    const sql = transitionSql(event, {
      attempt: fence.attempt !== undefined,
      claim: fence.claimSha256 !== undefined,
      leaseOver: fence.leaseOverAtMs !== undefined,
    });
    const params = {
      ...values,
      id,
      ...(fence.attempt !== undefined && { attempt: fence.attempt }),
      ...(fence.claimSha256 !== undefined && { claim_sha256: fence.claimSha256 }),
      ...(fence.leaseOverAtMs !== undefined && { lease_over_at_ms: fence.leaseOverAtMs }),
    };
    return this.#db
      .transaction(() => {
        const done = this.#statement(sql).get(params) as { attempt: number } | undefined;
        if (!done) return undefined;
        const opens = t.attemptRow === "opens" || t.attemptRow === "ends, opens";
        if (t.attemptRow === "starts") {
          this.#statement(START_ATTEMPT).run({
            id,
            attempt: done.attempt,
            now_ms: values["now_ms"] ?? null,
            runner: values["claimed_by"] ?? null,
            claim_sha256: values["claim_sha256"] ?? null,
          });
        }
        if (t.attemptRow === "unstarts") this.#statement(UNSTART_ATTEMPT).run({ id, attempt: done.attempt });
        if (t.attemptRow === "ends" || t.attemptRow === "ends, opens") {
          if (!ended) throw new Error(`${event} ends an attempt: say how`);
          this.#statement(END_ATTEMPT).run({
            id,
            attempt: opens ? done.attempt - 1 : done.attempt,
            ended_at: ended.at,
            status: ended.status,
            reason: ended.reason,
            public_score: ended.publicScore ?? null,
            sealed_private_score: ended.sealedPrivateScore ?? null,
            duration_ms: ended.durationMs ?? null,
            image_digest: ended.imageDigest ?? null,
            models_digest: ended.modelsDigest ?? null,
            scorer_digest: ended.scorerDigest ?? null,
            ground_truth_digest: ended.groundTruthDigest ?? null,
            problems: ended.problems ? JSON.stringify(ended.problems) : null,
            problem_counts: ended.problemCounts ? JSON.stringify(ended.problemCounts) : null,
          });
        }
        if (opens) {
          this.#statement(OPEN_ATTEMPT).run({
            id,
            why: event === "rerun" || event === "rescore" ? event : "retry",
            now_ms: values["now_ms"] ?? null,
          });
        }
        return done.attempt;
      })
      .immediate();
  }

  /** A prepared statement, compiled once per SQL text: compiling on every call cost a hot path ~10% (bench runners). */
  #statement<P extends unknown[] | object = unknown[], R = unknown>(sql: string): SqliteStatement<P, R> {
    let statement = this.#statements.get(sql);
    if (!statement) this.#statements.set(sql, (statement = this.#db.prepare(sql)));
    return statement as SqliteStatement<P, R>;
  }

  /** `start`: queued -> running for this attempt; false when it was not queued (already running, or final). */
  markRunning(id: string, attempt: number, atMs: number): boolean {
    return this.#apply("start", id, { now_ms: atMs }, { attempt }) !== undefined;
  }

  /**
   * `report` (or `give_up`, for the intake's infrastructure_error): queued|running -> final for this
   * attempt, its result standing by the standing rule; false when it is final already (or the attempt
   * moved on), or when `guard` does not hold (see ClaimGuard). `rescored`: a re-score's result, on its
   * attempt's row only.
   */
  finalize(
    id: string,
    attempt: number,
    f: FinalFields,
    guard: ClaimGuard = {},
    event: "report" | "give_up" | "rescored" = "report",
  ): boolean {
    const standing = {
      status: f.status,
      reason: f.reason,
      public_score: f.publicScore,
      sealed_private_score: f.sealedPrivateScore,
      duration_ms: f.durationMs,
      image_digest: f.imageDigest,
      models_digest: f.modelsDigest ?? null,
      scorer_digest: f.scorerDigest ?? null,
      ground_truth_digest: f.groundTruthDigest ?? null,
      stdout: f.stdout,
      stderr: f.stderr,
      problems: JSON.stringify(f.problems),
      usage: f.usage === null ? null : JSON.stringify(f.usage),
      results_json: f.resultsJson,
      diagnosis: f.diagnosis ? JSON.stringify(f.diagnosis) : null,
      finished_at: f.finishedAt,
    };
    const ended: AttemptEnd = {
      at: f.finishedAt,
      status: f.status,
      reason: f.reason,
      publicScore: f.publicScore,
      sealedPrivateScore: f.sealedPrivateScore,
      durationMs: f.durationMs,
      imageDigest: f.imageDigest,
      modelsDigest: f.modelsDigest ?? null,
      scorerDigest: f.scorerDigest ?? null,
      groundTruthDigest: f.groundTruthDigest ?? null,
      problems: f.problems,
      problemCounts: f.diagnosis?.problemCounts ?? null,
    };
    // A re-score's result is its attempt's only (`rescored`): what stands is the organizer's to apply.
    const values = event === "rescored" ? {} : standing;
    return this.#apply(event, id, values, { ...guard, attempt }, ended) !== undefined;
  }

  // ---- claims (one guarded UPDATE each: two runners never hold the same attempt) ----------------------

  /**
   * `claim` of the next queued submission of `kind` (CLAIM_ORDER): one write transaction, so two runners
   * asking at once get different submissions (or one gets none).
   */
  claimNext(kind: CpuOrGpu, claim: NewClaim): SubmissionRecord | undefined {
    const id = this.#db
      .transaction(() => {
        const next = this.#statement<[string, string], { id: string }>(
          `SELECT id FROM submissions WHERE state = 'queued' AND cpu_or_gpu = ?
               AND job IN (SELECT value FROM json_each(?))
             ORDER BY ${CLAIM_ORDER} LIMIT 1`,
        ).get(kind, claimValues(claim).jobs);
        return next && this.#apply("claim", next.id, claimValues(claim)) !== undefined ? next.id : undefined;
      })
      .immediate();
    return id === undefined ? undefined : this.getSubmission(id);
  }

  /** `claim` of a queued submission (at `attempt`, when given); undefined when it is not queued. */
  claimById(id: string, attempt: number | undefined, claim: NewClaim): SubmissionRecord | undefined {
    const done = this.#apply("claim", id, claimValues(claim), attempt === undefined ? {} : { attempt });
    return done === undefined ? undefined : this.getSubmission(id);
  }

  /**
   * `unclaim`: a lost claim of `attempt` that its runner never used (no heartbeat, no download), queued
   * again at that attempt; false when it was used, dispatched, or no longer holds.
   */
  unclaim(id: string, attempt: number, guard: Required<ClaimGuard>): boolean {
    return this.#apply("unclaim", id, { now_ms: guard.leaseOverAtMs }, { ...guard, attempt }) !== undefined;
  }

  /** `heartbeat`: extends the lease of a claim that still holds its running attempt; false when it does not. */
  heartbeat(id: string, attempt: number, claimSha256: string, leaseExpiresAtMs: number): boolean {
    return (
      this.#apply("heartbeat", id, { lease_until: leaseExpiresAtMs }, { attempt, claimSha256 }) !== undefined
    );
  }

  /** Running submissions whose claim's lease ended before `nowMs` (their runner stopped heartbeating). */
  expiredLeases(nowMs: number): SubmissionRecord[] {
    return this.#db
      .prepare<[number], SubmissionRow>(
        `${SELECT_SUBMISSIONS} WHERE state = 'running' AND lease_expires_at_ms < ?
         ORDER BY lease_expires_at_ms, id`,
      )
      .all(nowMs)
      .map(fromRow);
  }

  /** Records one dispatch try of this attempt: sent, or failed with the next try scheduled. */
  recordDispatch(
    id: string,
    attempt: number,
    outcome: { ok: true; atMs: number } | { ok: false; error: string; nextAtMs: number },
  ): void {
    if (outcome.ok) {
      this.#db
        .prepare(
          `UPDATE submissions SET dispatch_state = 'sent', dispatch_attempts = dispatch_attempts + 1,
             dispatch_error = NULL, next_dispatch_at_ms = NULL, dispatched_at = ?, dispatched_at_ms = ?
           WHERE id = ? AND attempt = ?`,
        )
        .run(new Date(outcome.atMs).toISOString(), outcome.atMs, id, attempt);
    } else {
      this.#db
        .prepare(
          `UPDATE submissions SET dispatch_attempts = dispatch_attempts + 1, dispatch_error = ?,
             next_dispatch_at_ms = ?
           WHERE id = ? AND attempt = ? AND dispatch_state = 'pending'`,
        )
        .run(outcome.error, outcome.nextAtMs, id, attempt);
    }
  }

  /** Queued submissions whose dispatch is pending and due (a claimed one needs none). */
  dueDispatches(nowMs: number): SubmissionRecord[] {
    return this.#db
      .prepare<[number], SubmissionRow>(
        `${SELECT_SUBMISSIONS} WHERE state = 'queued' AND dispatch_state = 'pending' AND job = 'run'
           AND next_dispatch_at_ms IS NOT NULL AND next_dispatch_at_ms <= ?
         ORDER BY next_dispatch_at_ms, id`,
      )
      .all(nowMs)
      .map(fromRow);
  }

  /** Submissions running since before `beforeMs`. */
  stuckRunning(beforeMs: number): SubmissionRecord[] {
    return this.#db
      .prepare<[number], SubmissionRow>(
        `${SELECT_SUBMISSIONS} WHERE state = 'running' AND started_at_ms < ? ORDER BY started_at_ms, id`,
      )
      .all(beforeMs)
      .map(fromRow);
  }

  /** Submissions dispatched before `beforeMs` that no runner has picked up (still queued). */
  neverPickedUp(beforeMs: number): SubmissionRecord[] {
    return this.#db
      .prepare<[number], SubmissionRow>(
        `${SELECT_SUBMISSIONS} WHERE state = 'queued' AND dispatch_state = 'sent'
           AND dispatched_at_ms < ? ORDER BY dispatched_at_ms, id`,
      )
      .all(beforeMs)
      .map(fromRow);
  }

  /**
   * `retry`: gives up on an attempt (running, or dispatched and never picked up; `reason` says why, on its
   * row) and queues the next one (dispatch pending, due now) where the submission stood in its queue;
   * false when the attempt is no longer queued or running (its result came in meanwhile), or when `guard`
   * does not hold (see ClaimGuard).
   */
  requeue(
    id: string,
    attempt: number,
    next: { reason: string; nowMs: number },
    guard: ClaimGuard = {},
  ): boolean {
    const ended: AttemptEnd = {
      at: new Date(next.nowMs).toISOString(),
      status: "infrastructure_error",
      reason: next.reason,
    };
    return this.#apply("retry", id, { now_ms: next.nowMs }, { ...guard, attempt }, ended) !== undefined;
  }

  /** Submissions queued or running of a participant (for `max_active_runs`). */
  countActive(participant: string): number {
    return (
      this.#db
        .prepare<[string], { n: number }>(
          // An organizers' re-score is theirs: it never holds a participant's upload back.
          `SELECT COUNT(*) AS n FROM submissions WHERE participant = ? AND state IN ('queued', 'running')
             AND job = 'run'`,
        )
        .get(participant)?.n ?? 0
    );
  }

  /** Submissions queued or running, everyone's. */
  countAllActive(): number {
    return (
      this.#db
        .prepare<[], { n: number }>(
          "SELECT COUNT(*) AS n FROM submissions WHERE state IN ('queued', 'running')",
        )
        .get()?.n ?? 0
    );
  }

  /** Every submission, newest first (the organizer's queue); `active` keeps queued and running ones. */
  listAll(options: { active?: boolean; limit?: number } = {}): SubmissionRecord[] {
    const where = options.active ? "WHERE state IN ('queued', 'running')" : "";
    return this.#db
      .prepare<[number], SubmissionRow>(
        `${SELECT_SUBMISSIONS} ${where} ORDER BY submitted_at_ms DESC, id DESC LIMIT ?`,
      )
      .all(options.limit ?? 1000)
      .map(fromRow);
  }

  /**
   * `cancel`: queued or running -> cancelled; false when it is neither (final, or cancelled already). The
   * claim stays recorded, so its runner's next heartbeat is told to stop; `started_at_ms` says whether it
   * counts. The standing result of an earlier run stays.
   */
  cancel(id: string, by: "participant" | "organizer", at: string): boolean {
    const ended: AttemptEnd = { at, status: "cancelled", reason: `cancelled by the ${by}` };
    return this.#apply("cancel", id, { at, by }, {}, ended) !== undefined;
  }

  /**
   * `rerun`: a final or cancelled submission queued again as the next attempt and a new run (dispatch
   * pending, due now, at the end of the queue); its standing result stays until a newer one stands. False
   * when it is queued or running already.
   */
  rerun(id: string, nowMs: number): boolean {
    return this.#apply("rerun", id, { now_ms: nowMs }) !== undefined;
  }

  /**
   * `rescore`: a final or cancelled submission queued again as a scoring-only job (its next attempt, a
   * run of its own) on the predictions its standing attempt left. Never dispatched to GitHub: pull runners
   * that say they re-score claim it. False when a run of it is under way, or the standing attempt left no
   * predictions here.
   */
  rescore(id: string, nowMs: number): boolean {
    return this.#apply("rescore", id, { now_ms: nowMs }) !== undefined;
  }

  /**
   * `apply_rescore`: the finished re-score `attempt` (still the latest attempt) stands; false when it is
   * not the latest, or ended by a scorer's or runner's fault.
   */
  applyRescore(id: string, attempt: number): boolean {
    return this.#apply("apply_rescore", id, {}, { attempt }) !== undefined;
  }

  /** `apply_rescore` of each (submission, attempt), all in one transaction: which were applied. */
  applyRescores(items: readonly { id: string; attempt: number }[]): boolean[] {
    return this.#db.transaction(() => items.map((i) => this.applyRescore(i.id, i.attempt))).immediate();
  }

  /**
   * Records the predictions the running `attempt` left (stored by the gateway): false when the attempt
   * is not running (or not the current one) or `claimSha256` does not hold it.
   */
  recordPredictions(
    id: string,
    attempt: number,
    predictions: { sha256: string; bytes: number },
    claimSha256: string | null,
  ): boolean {
    return (
      this.#db
        .prepare(
          `UPDATE submission_attempts SET predictions_sha256 = @sha256, predictions_bytes = @bytes
           WHERE submission_id = @id AND attempt = @attempt AND ended_at IS NULL AND job = 'run'
             AND EXISTS (SELECT 1 FROM submissions s WHERE s.id = @id AND s.state = 'running'
               AND s.attempt = @attempt AND s.claim_sha256 IS @claim)`,
        )
        .run({ id, attempt, ...predictions, claim: claimSha256 }).changes === 1
    );
  }

  /** Marks a submission disqualified (reason) or clears it (null). */
  setDisqualified(id: string, reason: string | null): boolean {
    return (
      this.#db.prepare("UPDATE submissions SET disqualified = ? WHERE id = ?").run(reason, id).changes === 1
    );
  }

  disqualifyParticipant(participant: string, reason: string, at: string): void {
    this.#db
      .prepare(
        `INSERT INTO disqualified_participants (participant, reason, at) VALUES (?, ?, ?)
         ON CONFLICT (participant) DO UPDATE SET reason = excluded.reason, at = excluded.at`,
      )
      .run(participant, reason, at);
  }

  /** Why a participant is disqualified, or undefined. */
  participantDisqualified(participant: string): string | undefined {
    return this.#statement<[string], { reason: string }>(
      "SELECT reason FROM disqualified_participants WHERE participant = ?",
    ).get(participant)?.reason;
  }

  disqualifiedParticipants(): Map<string, string> {
    const rows = this.#db
      .prepare<[], { participant: string; reason: string }>(
        "SELECT participant, reason FROM disqualified_participants",
      )
      .all();
    return new Map(rows.map((r) => [r.participant, r.reason]));
  }

  /**
   * Marks one of a participant's scored submissions chosen for the final leaderboard (or not); choosing
   * fails (false) when `max` are chosen already. One transaction, so two tabs cannot pass the cap.
   */
  setChosen(participant: string, id: string, chosen: boolean, max: number): boolean {
    return this.#db
      .transaction(() => {
        if (chosen) {
          const n =
            this.#db
              .prepare<[string, string], { n: number }>(
                "SELECT COUNT(*) AS n FROM submissions WHERE participant = ? AND chosen = 1 AND id <> ?",
              )
              .get(participant, id)?.n ?? 0;
          if (n >= max) return false;
        }
        this.#db
          .prepare("UPDATE submissions SET chosen = ? WHERE participant = ? AND id = ?")
          .run(chosen ? 1 : 0, participant, id);
        return true;
      })
      .immediate();
  }

  /** The ids of submissions their participants chose for the final leaderboard. */
  chosenIds(): Set<string> {
    const rows = this.#db.prepare<[], { id: string }>("SELECT id FROM submissions WHERE chosen = 1").all();
    return new Set(rows.map((r) => r.id));
  }

  // ---- what changes the leaderboard, and settings -------------------------------------------------

  /** A counter bumped by everything that changes the leaderboard (results, re-runs, disqualifications). */
  resultsVersion(): number {
    const row = this.#db
      .prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'results_version'")
      .get();
    return Number(row?.value ?? 0);
  }

  bumpResultsVersion(): void {
    this.#db
      .prepare(
        "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'results_version'",
      )
      .run();
  }

  /** A setting kept in the database, made by `make` the first time it is asked for. */
  setting(key: string, make: () => string): string {
    this.#db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)").run(key, make());
    return this.#db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?").get(key)!
      .value;
  }

  // ---- browser sessions ---------------------------------------------------------------------------

  insertSession(s: { idSha256: string; tokenId: string; createdAtMs: number; expiresAtMs: number }): void {
    this.#db
      .prepare("INSERT INTO sessions (id_sha256, token_id, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?)")
      .run(s.idSha256, s.tokenId, s.createdAtMs, s.expiresAtMs);
  }

  /** The session's token, when the session exists, has not expired and its token is not revoked. */
  sessionToken(idSha256: string, nowMs: number): TokenRecord | undefined {
    const row = this.#db
      .prepare<[string, number], TokenRow>(
        `SELECT tokens.* FROM sessions JOIN tokens ON tokens.id = sessions.token_id
         WHERE sessions.id_sha256 = ? AND sessions.expires_at_ms > ? AND tokens.revoked_at IS NULL`,
      )
      .get(idSha256, nowMs);
    return row && tokenFromRow(row);
  }

  deleteSession(idSha256: string): void {
    this.#db.prepare("DELETE FROM sessions WHERE id_sha256 = ?").run(idSha256);
  }

  deleteExpiredSessions(nowMs: number): number {
    return this.#db.prepare("DELETE FROM sessions WHERE expires_at_ms <= ?").run(nowMs).changes;
  }
}
