/**
 * The intake: takes a participant's zip, keeps it, checks it and their limits, records it, and dispatches
 * it to the runners; takes the runners' downloads and result reports; answers participants' questions;
 * and sweeps runs that never reported. No HTTP here: the gateway edge maps requests onto these methods and
 * the typed errors (errors.ts) onto statuses.
 *
 * A submission's life: queued (recorded; dispatch pending until GitHub accepts it, retried with backoff)
 * -> running (the first download of its zip, or a runner's `running` report) -> final (a runner's result,
 * one of the RunStatus values, never replaced). A run that stays running past the competition's time
 * limit + grace + `runningGraceMs` is given up on: the first time it is dispatched again as attempt 2 (with
 * a new result token), after that it is final as infrastructure_error.
 */
import { createHash } from "node:crypto";
import { createWriteStream, promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Competition, Phase } from "../config/index.js";
import {
  checkQuota,
  rankEntries,
  StoreError,
  type LeaderboardEntry,
  type LeaderboardStore,
  type QuotaStatus,
  type Standings,
} from "../leaderboard/index.js";
import { DEFAULT_ZIP_LIMITS, inspectSubmission, type InspectedSubmission } from "../submission/index.js";
import { formatDuration } from "../units/index.js";
import {
  quotaView,
  submissionView,
  type SubmissionListView,
  type SubmittedView,
  type SubmissionView,
} from "./api.js";
import type { CpuOrGpu, IntakeDb, SubmissionRecord } from "./db.js";
import {
  DownloadLinkError,
  QuotaExceededError,
  ResultAuthError,
  ResultConflictError,
  SubmissionNotFoundError,
  UploadTooLargeError,
} from "./errors.js";
import { lastChars, MAX_STORED_LOG_CHARS, parseResultReport } from "./result-report.js";
import {
  checkDownloadSignature,
  deriveKeys,
  digestsEqual,
  isSubmissionId,
  newSubmissionId,
  resultToken,
  sha256Hex,
  signDownload,
  type ServerKeys,
} from "./secrets.js";
import { StorageNotFoundError, type StoredZip, type SubmissionStorage } from "./storage.js";
import { TokenRegistry } from "./tokens.js";

export type Clock = () => Date;

/**
 * The `client_payload` of the `repository_dispatch` (event type `submission`) that starts a run: 8
 * top-level keys (GitHub allows 10), references only, never the zip. See result-report.ts.
 */
export interface DispatchPayload {
  submission_id: string;
  participant: string;
  cpu_or_gpu: CpuOrGpu;
  submission_url: string;
  submission_sha256: string;
  submitted_at: string;
  result_url: string;
  result_token: string;
}

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
  /** At least 32 bytes; signs download links and derives result tokens. */
  secret: string | Buffer;
  dispatch: Dispatch;
  /** The gateway's base URL as runners reach it (no trailing slash); a function when known only later. */
  publicUrl: string | (() => string);
  clock?: Clock;
  /** Which log visibility of competition.yml applies (default evaluation). */
  phase?: Phase;
  /** How long a download link stays valid (default 24 h: runners may queue for a while). */
  downloadTtlMs?: number;
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
  /** Stuck submissions dispatched again (attempt + 1). */
  redispatched: string[];
  /** Stuck submissions left as infrastructure_error (attempts used up). */
  failed: string[];
  /** Pending dispatches sent this sweep. */
  dispatched: string[];
  /** Pending dispatches that failed again (retried later). */
  dispatchFailed: string[];
}

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
  readonly tokens: TokenRegistry;
  readonly #db: IntakeDb;
  readonly #storage: SubmissionStorage;
  readonly #keys: ServerKeys;
  readonly #dispatch: Dispatch;
  readonly #publicUrl: () => string;
  readonly #clock: Clock;
  readonly #phase: Phase;
  readonly #downloadTtlMs: number;
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
    this.#keys = deriveKeys(options.secret);
    this.#dispatch = options.dispatch;
    const base = options.publicUrl;
    this.#publicUrl = () => (typeof base === "string" ? base : base()).replace(/\/+$/, "");
    this.#clock = options.clock ?? (() => new Date());
    this.#phase = options.phase ?? "evaluation";
    this.#downloadTtlMs = options.downloadTtlMs ?? 24 * 3600_000;
    this.#runningGraceMs = options.runningGraceMs ?? 15 * 60_000;
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 2);
    this.#backoff = options.dispatchBackoffMs ?? { initial: 5_000, max: 10 * 60_000 };
    this.#tmpDir = options.tmpDir ?? os.tmpdir();
    this.#dispatchWaitMs = options.dispatchWaitMs ?? 0;
    this.#inspections = new Semaphore(Math.max(1, options.maxConcurrentInspections ?? 2));
    this.#log = options.logger ?? quiet;
    this.tokens = new TokenRegistry(this.#db, this.#clock);
    this.#quotaStore = this.#readOnlyStore();
  }

  /** The cap on an upload's size, from competition.yml (limits.zip.max_size). */
  get maxZipBytes(): number {
    return this.competition.zipLimits.maxZipBytes ?? DEFAULT_ZIP_LIMITS.maxZipBytes;
  }

  /** Where a stuck run is given up on: time limit + grace + the intake's own grace. */
  get stuckAfterMs(): number {
    return this.competition.limits.timeLimitMs + this.competition.limits.graceMs + this.#runningGraceMs;
  }

  // ---- participants -------------------------------------------------------------------------------

  async quota(participant: string): Promise<QuotaStatus> {
    return checkQuota(this.#quotaStore, participant, this.competition.leaderboard, this.#clock());
  }

  /**
   * Takes an upload: streams it to storage with the size cap enforced on the way (past the cap the stream
   * fails with UploadTooLargeError and nothing is kept) and its sha256 computed; inspects the zip with the
   * same checks as `proctor run` (InvalidSubmissionError); checks the limits and records it atomically per
   * participant (QuotaExceededError); then dispatches it (a failed dispatch is retried, not an error).
   */
  async accept(input: { participant: string; cpuOrGpu: CpuOrGpu; data: Readable }): Promise<SubmittedView> {
    const { participant, cpuOrGpu } = input;
    const id = newSubmissionId();
    const stored = await this.#store(id, input.data);
    try {
      const inspected = await this.#inspections.run(() => this.#inspect(id));
      if (inspected.sha256 !== stored.sha256) {
        throw new Error(`submission ${id}: the stored zip's sha256 differs from what was received`);
      }
    } catch (error) {
      await this.#storage.remove(id);
      throw error;
    }

    const result = await this.#locks
      .run(participant, async () => {
        const quota = await this.quota(participant);
        if (!quota.allowed) throw new QuotaExceededError(quota);
        const record = {
          id,
          participant,
          cpuOrGpu,
          zipSha256: stored.sha256,
          zipBytes: stored.bytes,
          submittedAtMs: this.#clock().getTime(),
          resultTokenSha256: sha256Hex(resultToken(this.#keys, id, 1)),
        };
        this.#db.insertSubmission(record);
        return record;
      })
      .catch(async (error: unknown) => {
        await this.#storage.remove(id);
        throw error;
      });
    this.#log.info(`submission ${id} from ${participant}: ${stored.bytes} bytes, sha256 ${stored.sha256}`);

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
    const record = isSubmissionId(id) ? this.#db.getSubmission(id) : undefined;
    if (!record || record.participant !== participant) throw new SubmissionNotFoundError(id);
    return this.#view(record);
  }

  async list(participant: string): Promise<SubmissionListView> {
    return {
      participant,
      submissions: this.#db.listByParticipant(participant).map((r) => this.#view(r)),
      quota: quotaView(await this.quota(participant)),
    };
  }

  /** Final results as leaderboard entries (private scores only ever sealed). */
  entries(): LeaderboardEntry[] {
    return this.#db.listFinal().map(toEntry);
  }

  /** Public standings from the intake's records. */
  standings(): Standings {
    return rankEntries(this.entries(), this.competition.leaderboard, { mode: "public" });
  }

  // ---- runners ------------------------------------------------------------------------------------

  /** The signed download link of a submission (what the dispatch carries). */
  downloadUrl(id: string): string {
    const expires = Math.floor((this.#clock().getTime() + this.#downloadTtlMs) / 1000);
    const signature = signDownload(this.#keys, id, expires);
    return `${this.#publicUrl()}/v1/submissions/${id}/zip?expires=${expires}&signature=${signature}`;
  }

  /**
   * A runner's download: checks the link (DownloadLinkError when tampered or expired), opens the zip and
   * marks a queued submission running.
   */
  async openZip(id: string, expires: unknown, signature: unknown): Promise<StoredZip & { sha256: string }> {
    if (!isSubmissionId(id)) throw new SubmissionNotFoundError(id);
    const now = this.#clock();
    const check = checkDownloadSignature(this.#keys, id, expires, signature, now);
    if (check !== "ok") throw new DownloadLinkError(check);
    const record = this.#db.getSubmission(id);
    if (!record) throw new SubmissionNotFoundError(id);
    const zip = await this.#storage.open(id).catch((error: unknown) => {
      if (error instanceof StorageNotFoundError) throw new SubmissionNotFoundError(id);
      throw error;
    });
    if (record.state === "queued" && this.#db.markRunning(id, record.attempt, now.getTime())) {
      this.#log.info(`submission ${id}: attempt ${record.attempt} running (zip downloaded)`);
    }
    return { ...zip, sha256: record.zipSha256 };
  }

  /**
   * A runner's report (see result-report.ts for the contract). Authenticates the result token first
   * (ResultAuthError), then validates the body (ResultReportError), then applies it: `running` marks a
   * queued submission running; a final result is recorded once (ResultConflictError after that).
   */
  report(
    id: string,
    token: string | undefined,
    body: unknown,
  ): { submission_id: string; state: string; status: string | null } {
    const record = isSubmissionId(id) ? this.#db.getSubmission(id) : undefined;
    const presented = sha256Hex(token ?? "");
    if (!record || !digestsEqual(record.resultTokenSha256, presented)) {
      if (record) {
        for (let attempt = 1; attempt < record.attempt; attempt += 1) {
          if (digestsEqual(sha256Hex(resultToken(this.#keys, id, attempt)), presented)) {
            throw new ResultConflictError(
              `attempt ${attempt} of submission ${id} was given up on and the submission dispatched again ` +
                `(attempt ${record.attempt}); this report is not recorded`,
            );
          }
        }
      }
      throw new ResultAuthError();
    }
    const report = parseResultReport(body);
    const now = this.#clock();
    if (record.state === "final") {
      throw new ResultConflictError(
        `submission ${id} already has its final result (${record.status}, recorded at ${record.finishedAt}); ` +
          `a result is never replaced`,
      );
    }
    if (report.status === "running") {
      this.#db.markRunning(id, record.attempt, now.getTime());
    } else {
      const recorded = this.#db.finalize(id, record.attempt, {
        status: report.status,
        reason: report.reason,
        publicScore: report.public_score,
        sealedPrivateScore: report.private_score_sealed ?? null,
        durationMs: report.duration_ms,
        imageDigest: report.image_digest,
        stdout: report.stdout === undefined ? null : lastChars(report.stdout, MAX_STORED_LOG_CHARS),
        stderr: report.stderr === undefined ? null : lastChars(report.stderr, MAX_STORED_LOG_CHARS),
        problems: report.problems ?? [],
        finishedAt: now.toISOString(),
      });
      if (!recorded) {
        throw new ResultConflictError(
          `submission ${id} already has its final result; a result is never replaced`,
        );
      }
      this.#log.info(`submission ${id}: ${report.status} (${report.reason})`);
    }
    const after = this.#db.getSubmission(id)!;
    return { submission_id: id, state: after.state, status: after.status };
  }

  // ---- the sweeper's work -------------------------------------------------------------------------

  /** Gives up on stuck runs (re-dispatching them once) and sends pending dispatches that are due. */
  async sweep(): Promise<SweepReport> {
    const report: SweepReport = { redispatched: [], failed: [], dispatched: [], dispatchFailed: [] };
    const now = this.#clock();
    const limit = this.stuckAfterMs;
    for (const record of this.#db.stuckRunning(now.getTime() - limit)) {
      const reason =
        `no result came ${formatDuration(limit)} after attempt ${record.attempt} started (the time limit, ` +
        `its grace and the intake's grace): the runner was lost; this is not your fault and does not count ` +
        `against your limits`;
      if (record.attempt < this.#maxAttempts) {
        const next = record.attempt + 1;
        const requeued = this.#db.requeue(record.id, record.attempt, {
          history: [
            ...record.history,
            { attempt: record.attempt, status: "infrastructure_error", reason, at: now.toISOString() },
          ],
          resultTokenSha256: sha256Hex(resultToken(this.#keys, record.id, next)),
          nowMs: now.getTime(),
        });
        if (requeued) {
          this.#log.warn(
            `submission ${record.id}: attempt ${record.attempt} stuck; dispatching attempt ${next}`,
          );
          report.redispatched.push(record.id);
        }
      } else {
        const failed = this.#db.finalize(record.id, record.attempt, {
          status: "infrastructure_error",
          reason: `${reason} (attempt ${record.attempt} of ${this.#maxAttempts}; given up)`,
          publicScore: null,
          sealedPrivateScore: null,
          durationMs: 0,
          imageDigest: "",
          stdout: null,
          stderr: null,
          problems: [],
          finishedAt: now.toISOString(),
        });
        if (failed) {
          this.#log.warn(
            `submission ${record.id}: attempt ${record.attempt} stuck; left as infrastructure_error`,
          );
          report.failed.push(record.id);
        }
      }
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

  /** Sends one dispatch and records the outcome; true sent, false failed, undefined already in flight. */
  async #dispatchOne(record: SubmissionRecord): Promise<boolean | undefined> {
    if (this.#dispatching.has(record.id)) return undefined;
    this.#dispatching.add(record.id);
    try {
      const payload: DispatchPayload = {
        submission_id: record.id,
        participant: record.participant,
        cpu_or_gpu: record.cpuOrGpu,
        submission_url: this.downloadUrl(record.id),
        submission_sha256: record.zipSha256,
        submitted_at: record.submittedAt,
        result_url: `${this.#publicUrl()}/v1/submissions/${record.id}/result`,
        result_token: resultToken(this.#keys, record.id, record.attempt),
      };
      try {
        await this.#dispatch(payload);
        this.#db.recordDispatch(record.id, record.attempt, { ok: true, at: this.#clock().toISOString() });
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

  async #inspect(id: string): Promise<InspectedSubmission> {
    const local = this.#storage.localPath?.(id);
    if (local !== undefined) return inspectSubmission(local, this.competition.zipLimits);
    const dir = await fsp.mkdtemp(path.join(this.#tmpDir, "proctor-intake-"));
    try {
      const file = path.join(dir, "submission.zip");
      const { stream } = await this.#storage.open(id);
      await pipeline(stream, createWriteStream(file, { mode: 0o600 }));
      return await inspectSubmission(file, this.competition.zipLimits);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  }

  #view(record: SubmissionRecord): SubmissionView {
    return submissionView(record, this.competition, this.#phase);
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
        return record && record.state === "final" ? toEntry(record) : undefined;
      },
      list: async () => db.listFinal().map(toEntry),
      countSubmissions: async (participant, since, countFailed) =>
        db.countForQuota(participant, since?.getTime(), countFailed),
      close: async () => {},
    };
  }
}

function toEntry(record: SubmissionRecord): LeaderboardEntry {
  const succeeded = record.status === "succeeded";
  return {
    submissionId: record.id,
    participant: record.participant,
    submittedAt: record.submittedAt,
    status: record.status ?? "infrastructure_error",
    publicScore: succeeded ? record.publicScore : null,
    privateScore: null,
    sealedPrivateScore: succeeded ? record.sealedPrivateScore : null,
    durationMs: record.durationMs ?? 0,
    imageDigest: record.imageDigest ?? "",
    zipSha256: record.zipSha256,
  };
}
