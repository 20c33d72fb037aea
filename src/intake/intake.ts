/**
 * The intake: takes a participant's zip, keeps it, checks it and their limits, records it, and dispatches
 * it to the runners; takes the runners' downloads and result reports (authenticated with a runner
 * credential); answers participants' questions; and sweeps runs that were lost. No HTTP here: the gateway
 * edge maps requests onto these methods and the typed errors (errors.ts) onto statuses.
 *
 * A submission's life is the transition table's (transitions.ts): queued (recorded; dispatch pending
 * until GitHub accepts it, retried with backoff) -> running (claimed by a runner, or its zip downloaded)
 * -> final (a runner's result; it stands unless an earlier score does), or cancelled. An attempt is given
 * up on when its claim's lease runs out, when it stays running past the competition's time limit + grace
 * + `runningGraceMs`, or when no runner picks it up within `pickupDeadlineMs` of its dispatch: while the
 * run's tries last (`maxAttempts`, counted per run: the upload's, or each re-run's) it is queued again as
 * the next attempt, after that it ends as infrastructure_error, which never counts against the limits and
 * never replaces a standing result.
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  imageMountFolders,
  phaseLimits,
  submissionLimits,
  type Competition,
  type Phase,
} from "../config/index.js";
import { DEFAULT_MODEL_LIMITS } from "../config/submission.js";
import { finalPhase, phaseAt, uploadWindow, type LifecyclePhase } from "../lifecycle/index.js";
import {
  checkQuota,
  rankEntries,
  StoreError,
  type LeaderboardEntry,
  type LeaderboardStore,
  type QuotaStatus,
  type Standings,
} from "../leaderboard/index.js";
import {
  isSubmissionId,
  lastChars,
  MAX_STORED_LOG_CHARS,
  parseResultReport,
  type ClaimByIdRequest,
  type ClaimHold,
  type ClaimNextAnswer,
  type ClaimNextRequest,
  type ClaimView,
  type CpuOrGpu,
  type DispatchPayload,
  type HeartbeatAnswer,
  type RunnerSubmissionView,
  type SubmissionListView,
  type SubmissionView,
  type SubmittedView,
  diagnosisOf,
} from "../gateway-api/index.js";
import {
  DEFAULT_IMAGE_LIMITS,
  DEFAULT_ZIP_LIMITS,
  checkImageConfig,
  extractModelArchive,
  inspectImageArchive,
  inspectSubmission,
} from "../submission/index.js";
import { formatDuration } from "../units/index.js";
import { ClaimDesk, DEFAULT_LEASE_MS } from "./claims.js";
import {
  blankResult,
  type ClaimGuard,
  type FinalFields,
  type IntakeDb,
  type SubmissionRecord,
} from "./db.js";
import {
  ActiveRunsError,
  ChoiceError,
  DisqualifiedError,
  NoRunnersError,
  NotCancellableError,
  QuotaExceededError,
  ResultConflictError,
  SubmissionNotFoundError,
  SubmissionsClosedError,
  UploadTooLargeError,
} from "./errors.js";
import { newSubmissionId } from "./secrets.js";
import { allowed } from "./transitions.js";
import {
  LocalDirectoryStorage,
  StorageNotFoundError,
  type StoredPart,
  type StoredZip,
  type SubmissionStorage,
} from "./storage.js";
import { maxPredictionsBytes, PREDICTIONS_DIR, PredictionDesk, PredictionFiles } from "./predictions.js";
import { Organizer } from "./organizer.js";
import { Sessions } from "./sessions.js";
import { TokenRegistry } from "./tokens.js";
import { exportSubmissions, type ExportDocument } from "./export.js";
import { privateStandings, type RevealedBoard } from "./reveal.js";
import { rankableEntries, toEntry } from "./standing.js";
import { phaseView, quotaView, submissionView } from "./views.js";

export type Clock = () => Date;

/** Sends one dispatch; throws when it was not accepted (the intake retries later). */
export type Dispatch = (payload: DispatchPayload) => Promise<void>;

export interface IntakeLogger {
  info(message: string): void;
  warn(message: string): void;
}

export interface IntakeOptions {
  competition: Competition;
  db: IntakeDb;
  storage: SubmissionStorage;
  /** Where the predictions of scored attempts are kept (default: `predictions/` beside the storage's folder). */
  predictionsDir?: string;
  /** Where runs are dispatched (GitHub); null: nowhere, pull runners claim them (`proctor runner`). */
  dispatch: Dispatch | null;
  clock?: Clock;
  /** How long a runner's claim lasts without a heartbeat (default 30 s). */
  leaseMs?: number;
  /** Which log visibility of competition.yml applies (default evaluation). */
  phase?: Phase;
  /**
   * How long a dispatched attempt may wait for a runner to pick it up (download its zip) before it is
   * given up on (default 6 h: runners of a busy competition queue; a kind of runner that is down, a
   * cancelled job or a payload the workflow refused never pick it up).
   */
  pickupDeadlineMs?: number;
  /** Extra time, beyond the time limit and grace, before a running submission counts as stuck (default 15 min). */
  runningGraceMs?: number;
  /** Attempts before a stuck submission is left as infrastructure_error (default 2: one re-dispatch). */
  maxAttempts?: number;
  /** Dispatch retry backoff: the n-th retry waits initial × 2^(n-1), at most max (default 5 s, 10 min). */
  dispatchBackoffMs?: { initial: number; max: number };
  /**
   * How long an upload's answer waits for its dispatch before answering with the dispatch still pending
   * (default 0: not at all). GitHub paces dispatches (about one a second per token), so under load they
   * queue, and an upload must not hang on that queue. The dispatch goes on either way; the participant
   * sees it in the submission's `dispatch` state.
   */
  dispatchWaitMs?: number;
  /**
   * Zip inspections at once (default 2): each reads its whole zip (hash, central directory), so more at
   * once only add memory, not speed.
   */
  maxConcurrentInspections?: number;
  /** Temporary folder for storages without local files (default the OS one). */
  tmpDir?: string;
  logger?: IntakeLogger;
}

export interface SweepReport {
  /** Stuck, lost (lease over) or never picked-up submissions queued again (attempt + 1). */
  redispatched: string[];
  /** Lost claims their runners never used, queued again at the same attempt (no try used). */
  unclaimed: string[];
  /** Stuck or never picked-up submissions left as infrastructure_error (attempts used up). */
  failed: string[];
  /** Pending dispatches sent this sweep. */
  dispatched: string[];
  /** Pending dispatches that failed again (retried later). */
  dispatchFailed: string[];
}

const emptySweep = (): SweepReport => ({
  redispatched: [],
  unclaimed: [],
  failed: [],
  dispatched: [],
  dispatchFailed: [],
});

const quiet: IntakeLogger = { info: () => {}, warn: () => {} };

/** Runs at most `limit` tasks at once. */
class Semaphore {
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#active += 1;
    try {
      return await task();
    } finally {
      this.#active -= 1;
      this.#waiting.shift()?.();
    }
  }
}

/** Runs tasks one at a time per key (here: check the quota and record, per participant). */
class KeyedMutex {
  readonly #tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => undefined);
    this.#tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}

export class Intake {
  readonly competition: Competition;
  /** Participant tokens. */
  readonly tokens: TokenRegistry;
  /** Runner credentials. */
  readonly runners: TokenRegistry;
  /** Organizers' admin tokens (the organizer's page). */
  readonly admins: TokenRegistry;
  /** Browser sessions of the gateway's pages. */
  readonly sessions: Sessions;
  /** The organizer's actions on the queue. */
  readonly organizer: Organizer;
  /** The predictions runs left (kept for re-scoring) and re-scores fetch (predictions.ts). */
  readonly predictions: PredictionDesk;
  readonly #db: IntakeDb;
  readonly #storage: SubmissionStorage;
  readonly #dispatch: Dispatch | null;
  /** The runners' claims (claims.ts). */
  readonly #claims: ClaimDesk;
  readonly #clock: Clock;
  readonly #phase: Phase;
  readonly #pickupDeadlineMs: number;
  readonly #runningGraceMs: number;
  readonly #maxAttempts: number;
  readonly #backoff: { initial: number; max: number };
  readonly #tmpDir: string;
  readonly #log: IntakeLogger;
  readonly #locks = new KeyedMutex();
  readonly #dispatching = new Set<string>();
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #dispatchWaitMs: number;
  readonly #inspections: Semaphore;
  readonly #quotaStore: LeaderboardStore;

  constructor(options: IntakeOptions) {
    this.competition = options.competition;
    this.#db = options.db;
    this.#storage = options.storage;
    this.#dispatch = options.dispatch;
    this.#clock = options.clock ?? (() => new Date());
    this.#phase = options.phase ?? "evaluation";
    this.#pickupDeadlineMs = options.pickupDeadlineMs ?? 6 * 3600_000;
    this.#runningGraceMs = options.runningGraceMs ?? 15 * 60_000;
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 2);
    this.#backoff = options.dispatchBackoffMs ?? { initial: 5_000, max: 10 * 60_000 };
    this.#tmpDir = options.tmpDir ?? os.tmpdir();
    this.#dispatchWaitMs = options.dispatchWaitMs ?? 0;
    this.#inspections = new Semaphore(Math.max(1, options.maxConcurrentInspections ?? 2));
    this.#log = options.logger ?? quiet;
    this.tokens = new TokenRegistry(this.#db, "participant", this.#clock);
    this.runners = new TokenRegistry(this.#db, "runner", this.#clock);
    this.admins = new TokenRegistry(this.#db, "admin", this.#clock);
    this.sessions = new Sessions(this.#db, { participant: this.tokens, admin: this.admins }, this.#clock);
    const predictionsDir =
      options.predictionsDir ??
      (this.#storage instanceof LocalDirectoryStorage
        ? path.join(path.dirname(this.#storage.dir), PREDICTIONS_DIR)
        : undefined);
    if (predictionsDir === undefined)
      throw new Error("the intake needs predictionsDir: where the predictions of scored attempts are kept");
    const predictionFiles = new PredictionFiles(predictionsDir);
    this.organizer = new Organizer(this.#db, this.#clock, predictionFiles);
    this.#quotaStore = this.#readOnlyStore();
    this.#claims = new ClaimDesk({
      db: this.#db,
      clock: this.#clock,
      leaseMs: options.leaseMs ?? DEFAULT_LEASE_MS,
      view: (record) => this.#runnerView(record),
      giveUp: (record, what, guard) => this.#giveUpAndDispatch(record, what, guard),
      log: this.#log,
    });
    this.predictions = new PredictionDesk({
      db: this.#db,
      claims: this.#claims,
      files: predictionFiles,
      maxBytes: maxPredictionsBytes(this.competition.limits),
    });
  }

  /**
   * The cap on an upload's size, from competition.yml: limits.zip.max_size, or submission.image.max_size
   * when participants submit their own images.
   */
  get maxZipBytes(): number {
    const submission = this.competition.submission;
    if (submission.kind === "image")
      return submission.image.limits.maxArchiveBytes ?? DEFAULT_IMAGE_LIMITS.maxArchiveBytes;
    return this.competition.zipLimits.maxZipBytes ?? DEFAULT_ZIP_LIMITS.maxZipBytes;
  }

  /** The cap on a model tarball uploaded with an image (submission.image.max_model); null: no model is taken. */
  get maxModelBytes(): number | null {
    const submission = this.competition.submission;
    if (submission.kind !== "image") return null;
    return (submission.image.perCase ?? DEFAULT_MODEL_LIMITS).maxModelBytes;
  }

  /**
   * Grows each time the leaderboard changes (a result, a re-run, a disqualification, here or by
   * `proctor admin` on the same database): what a cached leaderboard is keyed on.
   */
  get resultsVersion(): number {
    return this.#db.resultsVersion();
  }

  get now(): Date {
    return this.#clock();
  }

  /** A secret kept in the database (made once): what the gateway signs its cookies with. */
  get cookieSecret(): string {
    return this.#db.setting("cookie_secret", () => randomBytes(32).toString("base64url"));
  }

  /** The lifecycle phase in effect now (undefined when competition.yml configures none, or between). */
  currentPhase(): LifecyclePhase | undefined {
    return phaseAt(this.competition.lifecycle, this.#clock());
  }

  /**
   * Whether a participant may upload now: SubmissionsClosedError outside the timeline's dates,
   * DisqualifiedError for a disqualified participant, ActiveRunsError past `max_active_runs`.
   */
  checkOpen(participant: string): void {
    const window = uploadWindow(this.competition.lifecycle, this.#clock());
    if (!window.open) throw new SubmissionsClosedError(window.reason, window.opensAt);
    const disqualified = this.#db.participantDisqualified(participant);
    if (disqualified !== undefined) throw new DisqualifiedError(participant, disqualified);
    const max = submissionLimits(this.competition, this.currentPhase()).maxActiveRuns;
    if (max !== null) {
      const active = this.#db.countActive(participant);
      if (active >= max) throw new ActiveRunsError(max, active);
    }
  }

  /** Where a stuck run is given up on: time limit + grace + the intake's own grace. */
  get stuckAfterMs(): number {
    // The longest of any phase: a phase may give its runs more time than competition.yml's `limits`.
    const { competition } = this;
    const all = [
      competition.limits,
      ...competition.lifecycle.phases.map((p) => phaseLimits(competition, p.name)),
    ];
    return Math.max(...all.map((l) => l.timeLimitMs + l.graceMs)) + this.#runningGraceMs;
  }

  // ---- participants -------------------------------------------------------------------------------

  /**
   * The participant's limits now: the current phase's, where it sets its own, counting that phase's
   * submissions only (practice never uses up the final phase's quota).
   */
  async quota(participant: string): Promise<QuotaStatus> {
    const phase = this.currentPhase();
    const { dailyLimit, totalLimit } = submissionLimits(this.competition, phase);
    const rules = { ...this.competition.leaderboard, dailyLimit, totalLimit };
    const store: LeaderboardStore = {
      ...this.#quotaStore,
      countSubmissions: async (who, since, countFailed) =>
        this.#db.countForQuota(who, since?.getTime(), countFailed, phase?.name),
    };
    return checkQuota(store, participant, rules, this.#clock());
  }

  /** The participant's limits now, or QuotaExceededError when one is used up. */
  async checkQuota(participant: string): Promise<QuotaStatus> {
    const quota = await this.quota(participant);
    if (!quota.allowed) throw new QuotaExceededError(quota);
    return quota;
  }

  /**
   * Takes an upload: streams it to storage with the size cap enforced on the way (past the cap the stream
   * fails with UploadTooLargeError and nothing is kept) and its sha256 computed; inspects the zip (or the
   * image archive, when the competition takes images) with the same checks as `proctor run`
   * (InvalidSubmissionError); stores and checks the model tarball `model` gives, if any (before the record
   * exists, so no runner claims it without its model); checks the limits and records it atomically per
   * participant (QuotaExceededError); then dispatches it (a failed dispatch is retried, not an error).
   */
  async accept(input: {
    participant: string;
    cpuOrGpu: CpuOrGpu;
    data: Readable;
    note?: string | undefined;
    /** The rest of the upload, read once the submission is stored: a model tarball, or null for none. */
    model?: () => Promise<Readable | null>;
  }): Promise<SubmittedView> {
    const { participant, cpuOrGpu } = input;
    this.checkRunnerKind(cpuOrGpu);
    this.checkOpen(participant);
    const id = newSubmissionId();
    const stored = await this.#store(id, input.data);
    try {
      const inspected = await this.#inspections.run(() => this.#inspect(id));
      if (inspected.sha256 !== stored.sha256) {
        throw new Error(`submission ${id}: the stored zip's sha256 differs from what was received`);
      }
      const model = await input.model?.();
      if (model) {
        await this.#storage.put(id, model, "model");
        await this.#inspections.run(() => this.#checkModel(id));
      }
    } catch (error) {
      await this.#storage.remove(id);
      throw error;
    }

    const result = await this.#locks
      .run(participant, async () => {
        this.checkOpen(participant);
        await this.checkQuota(participant);
        const record = {
          id,
          participant,
          cpuOrGpu,
          zipSha256: stored.sha256,
          zipBytes: stored.bytes,
          submittedAtMs: this.#clock().getTime(),
          phase: this.currentPhase()?.name ?? null,
          note: input.note?.trim() ? input.note.trim().slice(0, MAX_NOTE_CHARS) : null,
        };
        this.#db.insertSubmission(record);
        return record;
      })
      .catch(async (error: unknown) => {
        await this.#storage.remove(id);
        throw error;
      });
    this.#log.info(`submission ${id} from ${participant}: ${stored.bytes} bytes, sha256 ${stored.sha256}`);
    this.#claims.ring(cpuOrGpu);

    const dispatching = this.#track(this.#dispatchOne(this.#db.getSubmission(result.id)!));
    if (this.#dispatchWaitMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        dispatching,
        new Promise((resolve) => (timer = setTimeout(resolve, this.#dispatchWaitMs))),
      ]);
      clearTimeout(timer);
    }
    return {
      submission: this.#view(this.#db.getSubmission(id)!),
      quota: quotaView(await this.quota(participant)),
    };
  }

  /** One of the participant's submissions; SubmissionNotFoundError for anyone else's (or none). */
  get(participant: string, id: string): SubmissionView {
    const record = this.#record(id);
    if (record.participant !== participant) throw new SubmissionNotFoundError(id);
    return this.#view(record);
  }

  async list(participant: string): Promise<SubmissionListView> {
    return {
      participant,
      submissions: this.#db.listByParticipant(participant).map((r) => this.#view(r)),
      quota: quotaView(await this.quota(participant)),
      phase: phaseView(this.competition.lifecycle, this.#clock()),
    };
  }

  /**
   * Cancels a participant's queued or running submission (NotCancellableError once it is over). Cancelled
   * while queued it does not count against their limits; cancelled running it does (it used a runner), and
   * its runner is told to stop at its next heartbeat (409 `cancelled`, as any later download or report).
   */
  async cancel(participant: string, id: string): Promise<SubmittedView> {
    const record = this.#record(id);
    if (record.participant !== participant) throw new SubmissionNotFoundError(id);
    if (record.standingAttempt !== null && allowed(record.state, "cancel")) {
      // An organizers' re-run (a re-score) is theirs: cancelling it would keep a score they mean to check.
      throw new NotCancellableError(
        id,
        record.state,
        `submission ${id} is being run again by the organizers (attempt ${record.attempt}); its result so ` +
          `far stands until then, and only the organizers can cancel their re-run`,
      );
    }
    if (!this.#db.cancel(id, "participant", this.#clock().toISOString())) {
      throw new NotCancellableError(id, this.#db.getSubmission(id)!.state);
    }
    this.#log.info(`submission ${id}: cancelled by ${participant}`);
    return {
      submission: this.#view(this.#db.getSubmission(id)!),
      quota: quotaView(await this.quota(participant)),
    };
  }

  /**
   * Chooses (or unchooses) one of the participant's scored submissions for the final (private)
   * leaderboard, where competition.yml's final_selection is `chosen`: at most `count` at once (ChoiceError).
   */
  async choose(participant: string, id: string, chosen: boolean): Promise<SubmissionView> {
    const record = this.#record(id);
    if (record.participant !== participant) throw new SubmissionNotFoundError(id);
    const rule = this.competition.lifecycle.finalSelection;
    if (rule.mode !== "chosen") {
      throw new ChoiceError(
        `this competition picks final entries by itself (final_selection: best ${rule.count} in ` +
          `competition.yml): there is nothing to choose`,
      );
    }
    if (chosen && (record.status !== "succeeded" || record.disqualified !== null)) {
      throw new ChoiceError(
        `submission ${id} has no score to count (${record.state}${record.status ? `, ${record.status}` : ""}` +
          `${record.disqualified ? ", disqualified" : ""}): choose a scored submission`,
      );
    }
    const final = finalPhase(this.competition.lifecycle);
    if (chosen && final && record.phase !== final.name) {
      throw new ChoiceError(
        `submission ${id} was made in phase ${record.phase ?? "(none)"}; only entries of the final phase ` +
          `(${final.title}) count in the final ranking: choose one of those`,
      );
    }
    if (!this.#db.setChosen(participant, id, chosen, rule.count)) {
      throw new ChoiceError(
        `you have chosen ${rule.count} submission${rule.count === 1 ? "" : "s"} already, the most this ` +
          `competition counts (final_selection.count): unchoose one first`,
      );
    }
    return this.#view(this.#db.getSubmission(id)!);
  }

  /** The ids participants chose for the final leaderboard (final_selection mode `chosen`). */
  chosenIds(): Set<string> {
    return this.#db.chosenIds();
  }

  /**
   * Final results as leaderboard entries (private scores only ever sealed), without disqualified
   * submissions or participants.
   */
  entries(phase: string | null = null): LeaderboardEntry[] {
    return rankableEntries(this.#db, phase);
  }

  /** The final ranking from a reveal (reveal.ts), without anyone disqualified since. */
  privateStandings(board: RevealedBoard): Standings {
    return privateStandings(board, this.#db, this.competition.leaderboard);
  }

  /** Every submission for the organizers (export.ts); private scores only from a reveal. */
  exportSubmissions(revealed: RevealedBoard | null): ExportDocument {
    return exportSubmissions(this.#db, this.competition.name, revealed, this.#clock());
  }

  /** How many submissions wait for a runner or are running (the leaderboard says so). */
  activeCount(): number {
    return this.#db.countAllActive();
  }

  /** Public standings from the intake's records: of `phase` (null: of every entry, where there are no phases). */
  standings(phase: string | null = null): Standings {
    return rankEntries(this.entries(phase), this.competition.leaderboard, { mode: "public" });
  }

  // ---- runners ------------------------------------------------------------------------------------

  /** Refuses a kind of runner the competition has none of (NoRunnersError): it would never run. */
  checkRunnerKind(cpuOrGpu: CpuOrGpu): void {
    if (!this.competition.runners.includes(cpuOrGpu))
      throw new NoRunnersError(cpuOrGpu, this.competition.runners);
  }

  /** What a runner reads before running a submission (SubmissionNotFoundError when there is none). */
  runnerView(id: string): RunnerSubmissionView {
    const record = this.#record(id);
    if (record.state === "cancelled") throw cancelledConflict(record);
    return this.#runnerView(record);
  }

  /** How long a claim lasts without a heartbeat. */
  get leaseMs(): number {
    return this.#claims.leaseMs;
  }

  /**
   * Claims the next queued submission of a kind for a runner (`holder`: its credential's holder), waiting
   * up to `wait_ms` for one (gateway-api/claims.ts).
   */
  claimNext(holder: string, request: ClaimNextRequest, signal?: AbortSignal): Promise<ClaimNextAnswer> {
    return this.#claims.next(holder, request, signal);
  }

  /** Claims one submission by id (the Actions job); ResultConflictError when it is not queued. */
  claimById(holder: string, id: string, request: ClaimByIdRequest): ClaimView {
    return this.#claims.byId(holder, this.#record(id), request);
  }

  /** Extends a claim's lease; ClaimLostError (409 cancelled or claim_lost) when the runner must stop. */
  heartbeat(id: string, hold: ClaimHold): HeartbeatAnswer {
    return this.#claims.heartbeat(this.#record(id), hold);
  }

  /** Gives a claim back (its runner stops at once): queued again as the next attempt, uncounted. */
  release(id: string, hold: ClaimHold): { submission_id: string; state: string } {
    this.#claims.release(this.#record(id), hold);
    return { submission_id: id, state: this.#db.getSubmission(id)!.state };
  }

  #runnerView(record: SubmissionRecord): RunnerSubmissionView {
    const final = record.state === "final" && record.status !== null;
    return {
      submission_id: record.id,
      participant: record.participant,
      cpu_or_gpu: record.cpuOrGpu,
      submission_sha256: record.zipSha256,
      zip_bytes: record.zipBytes,
      submitted_at: record.submittedAt,
      attempt: record.attempt,
      state: record.state,
      phase: (record.phase as RunnerSubmissionView["phase"]) ?? null,
      result: final
        ? {
            status: record.status!,
            reason: record.reason ?? "",
            public_score: record.publicScore,
            private_score_sealed: record.sealedPrivateScore,
            duration_ms: record.durationMs ?? 0,
            image_digest: record.imageDigest ?? "",
            models_digest: record.modelsDigest,
          }
        : null,
    };
  }

  /**
   * A runner's download of the zip for `attempt` (the gateway authenticated the runner): opens the zip
   * and marks the queued attempt running. ResultConflictError when the submission is final or the attempt
   * is not the current one (it was given up on; a newer dispatch is under way).
   */
  async openZip(id: string, attempt: unknown, claimToken?: string): Promise<StoredZip & { sha256: string }> {
    const record = this.#record(id);
    this.#checkAttempt(record, attempt);
    this.#claims.check(record, { attempt: record.attempt, claim_token: claimToken });
    this.#claims.used(record, claimToken);
    const zip = await this.#storage.open(id).catch((error: unknown) => {
      if (error instanceof StorageNotFoundError) throw new SubmissionNotFoundError(id);
      throw error;
    });
    if (record.state === "queued") {
      if (this.#db.markRunning(id, record.attempt, this.#clock().getTime())) {
        this.#log.info(`submission ${id}: attempt ${record.attempt} running (zip downloaded)`);
      } else {
        // Cancelled (or given up on) between the check and now: hand out nothing.
        const now = this.#db.getSubmission(id)!;
        if (now.state === "cancelled" || now.attempt !== record.attempt) {
          zip.stream.destroy();
          this.#checkAttempt(now, record.attempt);
        }
      }
    }
    return { ...zip, sha256: record.zipSha256 };
  }

  /**
   * A runner's download of the model tarball stored with the submission (same checks as openZip, which the
   * runner calls first); null when the submission has none.
   */
  async openModel(id: string, attempt: unknown, claimToken?: string): Promise<StoredZip | null> {
    const record = this.#record(id);
    this.#checkAttempt(record, attempt);
    this.#claims.check(record, { attempt: record.attempt, claim_token: claimToken });
    return this.#storage.open(id, "model").catch((error: unknown) => {
      if (error instanceof StorageNotFoundError) return null;
      throw error;
    });
  }

  /**
   * A runner's report (see gateway-api/result-report.ts; the gateway authenticated the runner): validates
   * the body (ResultReportError), checks its attempt is the current one (ResultConflictError), then applies
   * it: `running` marks a queued submission running; a final result is recorded once.
   */
  report(id: string, body: unknown): { submission_id: string; state: string; status: string | null } {
    const record = this.#record(id);
    const report = parseResultReport(body);
    try {
      this.#apply(record, report);
    } catch (error) {
      // Expected after a lost lease, a cancel or a second runner: refused (409), and noted for the organizers.
      if (error instanceof ResultConflictError) {
        this.#log.info(
          `submission ${id}: a report for attempt ${report.attempt} was refused: ${error.message}`,
        );
      }
      throw error;
    }
    const after = this.#db.getSubmission(id)!;
    return { submission_id: id, state: after.state, status: after.status };
  }

  /** Applies a parsed report to its attempt (`report`, or `start`/`retry`/`give_up` by its status). */
  #apply(record: SubmissionRecord, report: ReturnType<typeof parseResultReport>): void {
    const id = record.id;
    this.#checkAttempt(record, report.attempt);
    this.#claims.check(record, report);
    // A claimed attempt is written only while its claim holds it (the lease may run out meanwhile).
    const guard: ClaimGuard = record.claimSha256 === null ? {} : { claimSha256: record.claimSha256 };
    const now = this.#clock();
    if (report.status === "running") {
      this.#db.markRunning(id, record.attempt, now.getTime());
    } else if (report.status === "infrastructure_error") {
      // Not the participant's fault: run it again while attempts remain, then end it uncounted.
      this.#giveUpAndDispatch(
        record,
        `the runner could not run attempt ${record.attempt} (${report.reason})`,
        guard,
      );
    } else {
      this.#finalize(
        record,
        {
          status: report.status,
          reason: report.reason,
          publicScore: report.public_score,
          sealedPrivateScore: report.private_score_sealed ?? null,
          durationMs: report.duration_ms,
          imageDigest: report.image_digest,
          modelsDigest: report.models_digest ?? null,
          stdout: report.stdout === undefined ? null : lastChars(report.stdout, MAX_STORED_LOG_CHARS),
          stderr: report.stderr === undefined ? null : lastChars(report.stderr, MAX_STORED_LOG_CHARS),
          problems: report.problems ?? [],
          usage: report.usage ?? null,
          resultsJson: report.results_json ?? null,
          diagnosis: report.diagnosis ? diagnosisOf(report.diagnosis) : null,
          scorerDigest: report.scorer_digest ?? null,
          groundTruthDigest: report.ground_truth_digest ?? null,
          finishedAt: now.toISOString(),
        },
        guard,
        // A re-score's result is its attempt's only, until the organizer applies it.
        record.job === "rescore" ? "rescored" : "report",
      );
      this.#log.info(`submission ${id}: ${report.status} (${report.reason})`);
    }
  }

  // ---- the sweeper's work -------------------------------------------------------------------------

  /**
   * Gives up on lost attempts (running too long, or never picked up), re-dispatching each submission once,
   * and sends pending dispatches that are due.
   */
  async sweep(): Promise<SweepReport> {
    const report = emptySweep();
    const now = this.#clock().getTime();
    for (const record of this.#db.expiredLeases(now)) {
      const guard = { claimSha256: record.claimSha256!, leaseOverAtMs: now };
      if (this.#db.unclaim(record.id, record.attempt, guard)) {
        // Nothing ran: a runner that went away as the claim's answer left it (a long poll it abandoned).
        this.#log.warn(
          `submission ${record.id}: attempt ${record.attempt}'s claim (${record.claimedBy ?? "?"}) was never ` +
            "used: its lease ran out before the runner called; queued again at the same attempt, in its place",
        );
        report.unclaimed.push(record.id);
        this.#claims.ring(record.cpuOrGpu);
        continue;
      }
      this.#giveUp(
        record,
        report,
        `the runner holding attempt ${record.attempt} (${record.claimedBy ?? "?"}) stopped heartbeating: ` +
          `its claim's lease ran out at ${new Date(record.leaseExpiresAtMs!).toISOString()}`,
        { leaseOverAtMs: now },
      );
    }
    const stuck = this.stuckAfterMs;
    for (const record of this.#db.stuckRunning(now - stuck)) {
      this.#giveUp(
        record,
        report,
        `no result came ${formatDuration(stuck)} after attempt ${record.attempt} started (the time limit, ` +
          `its grace and the intake's grace): the runner was lost`,
      );
    }
    const pickup = this.#pickupDeadlineMs;
    for (const record of this.#db.neverPickedUp(now - pickup)) {
      this.#giveUp(
        record,
        report,
        `no ${record.cpuOrGpu} runner picked up attempt ${record.attempt} within ${formatDuration(pickup)} ` +
          `of its dispatch`,
      );
    }
    for (const record of this.#db.dueDispatches(this.#clock().getTime())) {
      const sent = await this.#dispatchOne(record);
      if (sent === true) report.dispatched.push(record.id);
      else if (sent === false) report.dispatchFailed.push(record.id);
    }
    return report;
  }

  /**
   * Resolves when the dispatches started by uploads so far have settled (for shutdown and tests), or
   * after `timeoutMs`. A dispatch cut short by a shutdown stays pending in the records and is sent by the
   * sweeper after the restart.
   */
  async idle(timeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#inFlight.size > 0 && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      const wait = Number.isFinite(timeoutMs)
        ? new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))))
        : new Promise(() => {});
      await Promise.race([Promise.allSettled([...this.#inFlight]), wait]);
      clearTimeout(timer);
    }
  }

  // ---- internals ----------------------------------------------------------------------------------

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inFlight.add(promise);
    void promise.finally(() => this.#inFlight.delete(promise)).catch(() => undefined);
    return promise;
  }

  /** The record of a submission id; SubmissionNotFoundError when there is none. */
  #record(id: string): SubmissionRecord {
    const record = isSubmissionId(id) ? this.#db.getSubmission(id) : undefined;
    if (!record) throw new SubmissionNotFoundError(id);
    return record;
  }

  /** A runner acts on the current attempt of an unfinished submission only. */
  #checkAttempt(record: SubmissionRecord, attempt: unknown): void {
    if (record.state === "cancelled") throw cancelledConflict(record);
    if (record.state === "final") {
      throw new ResultConflictError(
        `submission ${record.id} already has its final result (${record.status}, recorded at ` +
          `${record.finishedAt}); a result is never replaced`,
      );
    }
    if (String(attempt) !== String(record.attempt)) {
      throw new ResultConflictError(
        `submission ${record.id} is at attempt ${record.attempt}, not ${JSON.stringify(attempt)}: an ` +
          `earlier attempt was given up on and the submission dispatched again; do not run or report it`,
      );
    }
  }

  /** `report` (or `give_up`) of the record's attempt; ResultConflictError when it is not queued or running. */
  #finalize(
    record: SubmissionRecord,
    fields: FinalFields,
    guard: ClaimGuard = {},
    event: "report" | "give_up" | "rescored" = "report",
  ): void {
    if (!this.#db.finalize(record.id, record.attempt, fields, guard, event)) {
      const now = this.#db.getSubmission(record.id);
      if (now?.state === "cancelled") throw cancelledConflict(now);
      if (now && guard.claimSha256 !== undefined) this.#claims.check(now, { attempt: record.attempt });
      throw new ResultConflictError(
        `submission ${record.id} already has its result for attempt ${record.attempt}; a result is never replaced`,
      );
    }
    // A re-score's result changes no board until it is applied.
    if (event !== "rescored") this.#db.bumpResultsVersion();
  }

  /**
   * Gives up on a lost attempt (while `guard` holds): `retry` (the next attempt queued where the
   * submission stood, and dispatched) while this run's tries last, else `give_up` (infrastructure_error,
   * uncounted; a standing result stays). Tries count per run: the upload's, or each re-run's.
   */
  #giveUp(record: SubmissionRecord, report: SweepReport, what: string, guard: ClaimGuard = {}): void {
    const now = this.#clock();
    const reason = `${what}; this is not your fault and does not count against your limits`;
    const tries = record.attempt - record.runFirstAttempt + 1;
    if (tries < this.#maxAttempts) {
      if (this.#db.requeue(record.id, record.attempt, { reason, nowMs: now.getTime() }, guard)) {
        this.#log.warn(`submission ${record.id}: ${what}; queueing attempt ${record.attempt + 1}`);
        report.redispatched.push(record.id);
        this.#claims.ring(record.cpuOrGpu);
      } else {
        this.#log.info(
          `submission ${record.id}: attempt ${record.attempt} not retried: ${refusedWhy(this.#db, record)}`,
        );
      }
      return;
    }
    try {
      this.#finalize(
        record,
        blankResult({
          status: "infrastructure_error",
          reason: `${reason} (try ${tries} of ${this.#maxAttempts} of this run; given up)`,
          finishedAt: now.toISOString(),
        }),
        guard,
        "give_up",
      );
    } catch (error) {
      if (!(error instanceof ResultConflictError)) throw error;
      // Expected: its result (or a cancel, or a heartbeat) came in meanwhile.
      this.#log.info(`submission ${record.id}: attempt ${record.attempt} not given up on: ${error.message}`);
      return;
    }
    this.#log.warn(`submission ${record.id}: ${what}; left as infrastructure_error`);
    report.failed.push(record.id);
  }

  /** #giveUp outside a sweep: the next attempt's dispatch is sent now. */
  #giveUpAndDispatch(record: SubmissionRecord, what: string, guard: ClaimGuard) {
    const swept = emptySweep();
    this.#giveUp(record, swept, what, guard);
    if (swept.redispatched.length > 0) this.#track(this.#dispatchOne(this.#db.getSubmission(record.id)!));
  }

  /** Sends one dispatch and records the outcome; true sent, false failed, undefined already in flight. */
  async #dispatchOne(record: SubmissionRecord): Promise<boolean | undefined> {
    if (this.#dispatch === null || this.#dispatching.has(record.id)) return undefined;
    this.#dispatching.add(record.id);
    try {
      const payload: DispatchPayload = {
        submission_id: record.id,
        participant: record.participant,
        cpu_or_gpu: record.cpuOrGpu,
        submission_sha256: record.zipSha256,
        submitted_at: record.submittedAt,
        attempt: record.attempt,
      };
      try {
        await this.#dispatch(payload);
        this.#db.recordDispatch(record.id, record.attempt, { ok: true, atMs: this.#clock().getTime() });
        this.#log.info(`submission ${record.id}: attempt ${record.attempt} dispatched`);
        return true;
      } catch (error) {
        const tries = record.dispatchAttempts + 1;
        const wait = Math.min(this.#backoff.initial * 2 ** (tries - 1), this.#backoff.max);
        const message = error instanceof Error ? error.message : String(error);
        try {
          this.#db.recordDispatch(record.id, record.attempt, {
            ok: false,
            error: message,
            nextAtMs: this.#clock().getTime() + wait,
          });
        } catch (recordError) {
          // The records closed under us (shutdown): the dispatch stays pending and is retried after a restart.
          this.#log.warn(
            `submission ${record.id}: could not record the failed dispatch: ${String(recordError)}`,
          );
        }
        this.#log.warn(
          `submission ${record.id}: dispatch ${tries} failed (${message}); retrying in ${formatDuration(wait)}`,
        );
        return false;
      }
    } finally {
      this.#dispatching.delete(record.id);
    }
  }

  /** Streams the upload into storage, metered: sha256 on the way, cut off past the size cap. */
  async #store(id: string, data: Readable): Promise<{ bytes: number; sha256: string }> {
    const max = this.maxZipBytes;
    const hash = createHash("sha256");
    let bytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        if (bytes > max) return callback(new UploadTooLargeError(max));
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    const feed = pipeline(data, meter).catch((error: unknown) => {
      meter.destroy(error as Error);
    });
    try {
      await this.#storage.put(id, meter);
    } catch (error) {
      data.destroy();
      await feed;
      throw error;
    }
    await feed;
    return { bytes, sha256: hash.digest("hex") };
  }

  /** The zip checks, or the image archive's and its config's (the base-image allow-list is checked on the runner). */
  async #inspect(id: string): Promise<{ sha256: string }> {
    const submission = this.competition.submission;
    const inspect = (file: string): Promise<{ sha256: string }> =>
      submission.kind === "image"
        ? inspectImageArchive(file, {
            limits: submission.image.limits,
            platform: submission.image.platform,
            name: "the uploaded archive",
          }).then((image) => {
            checkImageConfig(image, { platformFolders: imageMountFolders(submission.image) });
            return image;
          })
        : inspectSubmission(file, this.competition.zipLimits, { name: "the uploaded zip" });
    const local = this.#storage.localPath?.(id);
    if (local !== undefined) return inspect(local);
    return this.#localCopy(
      id,
      "submission",
      submission.kind === "image" ? "algorithm.tar" : "submission.zip",
      inspect,
    );
  }

  /** The model tarball's checks (no link, no name out of its folder, the caps), as the runner extracts it. */
  async #checkModel(id: string): Promise<void> {
    const submission = this.competition.submission;
    const limits = (submission.kind === "image" && submission.image.perCase) || DEFAULT_MODEL_LIMITS;
    // Under the name the participant knows (the refusal names it), without copying a local file.
    const local = this.#storage.localPath?.(id, "model");
    await this.#localCopy(
      id,
      "model",
      "model.tar.gz",
      (file) => extractModelArchive(file, null, limits),
      local,
    );
  }

  /** `use` on a stored part as a file named `name` in a temporary folder: a link to `local`, else a copy. */
  async #localCopy<T>(
    id: string,
    part: StoredPart,
    name: string,
    use: (file: string) => Promise<T>,
    local?: string,
  ): Promise<T> {
    const dir = await fsp.mkdtemp(path.join(this.#tmpDir, "proctor-intake-"));
    try {
      const file = path.join(dir, name);
      if (local !== undefined) await fsp.symlink(local, file);
      else {
        const { stream } = await this.#storage.open(id, part);
        await pipeline(stream, createWriteStream(file, { mode: 0o600 }));
      }
      return await use(file);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  }

  #view(record: SubmissionRecord): SubmissionView {
    return submissionView(record, this.competition, (record.phase as Phase | null) ?? this.#phase);
  }

  /** The intake's records seen as a leaderboard store, for checkQuota; it cannot be written to. */
  #readOnlyStore(): LeaderboardStore {
    const db = this.#db;
    return {
      record: async () => {
        throw new StoreError("the intake's records are written by the intake only");
      },
      get: async (id) => {
        const record = db.getSubmission(id);
        return record && record.status !== null ? toEntry(record) : undefined;
      },
      list: async () => db.listStanding().map(toEntry),
      countSubmissions: async (participant, since, countFailed) =>
        db.countForQuota(participant, since?.getTime(), countFailed),
      close: async () => {},
    };
  }
}

/** Longest note kept with a submission. */
export const MAX_NOTE_CHARS = 500;

function cancelledConflict(record: SubmissionRecord): ResultConflictError {
  return new ResultConflictError(
    `submission ${record.id} was cancelled by the ${record.cancelledBy ?? "participant"} at ` +
      `${record.cancelledAt}: do not run it, and report nothing`,
  );
}

/** Why a transition of the record's attempt found it moved on (for the log of an expected race). */
function refusedWhy(db: IntakeDb, record: SubmissionRecord): string {
  const now = db.getSubmission(record.id);
  return now ? `it is ${now.state} at attempt ${now.attempt}` : "it is gone";
}
