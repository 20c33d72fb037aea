/**
 * The claim desk: runners claim queued submissions (the next of a kind, or one by id), keep them with
 * heartbeats, and give them back. The protocol is gateway-api/claims.ts; the guarded UPDATEs are db.ts's
 * (one statement each, so two runners never hold the same attempt). A claim's token is the fence: only its
 * sha256 is kept, and every later call of the attempt must present it. What happens to a lost attempt
 * (queued again, or ended uncounted) is the intake's (`giveUp`), the same for a lost lease, a release and a
 * stuck run. A claim is for a job the runner says it can do (an older runner says nothing: runs only), and
 * tells it which: run the program, or re-score the predictions an earlier attempt left.
 */
import { EventEmitter, once } from "node:events";
import {
  MAX_CLAIM_WAIT_MS,
  type ClaimByIdRequest,
  type ClaimHold,
  type ClaimJob,
  type ClaimJobView,
  type ClaimNextAnswer,
  type ClaimNextRequest,
  type ClaimView,
  type CpuOrGpu,
  type HeartbeatAnswer,
  type RunnerSubmissionView,
} from "../gateway-api/index.js";
import type { ClaimGuard, IntakeDb, SubmissionRecord } from "./db.js";
import { ClaimLostError, ResultConflictError } from "./errors.js";
import { newClaimToken, sha256Hex } from "./secrets.js";

/** How long a claim lasts without a heartbeat (default); runners heartbeat every third of it. */
export const DEFAULT_LEASE_MS = 30_000;
/**
 * How often a waiting claim looks again when no bell rang (a re-run or re-score by `proctor admin`, from
 * another process, rings none). Not more often: every waiting runner slot re-reads the queue this often.
 */
const RECHECK_MS = 5_000;

export interface ClaimDeskOptions {
  db: IntakeDb;
  clock: () => Date;
  leaseMs: number;
  /** The runner's view of a record (the intake's). */
  view: (record: SubmissionRecord) => RunnerSubmissionView;
  /** Gives up on a lost attempt as the intake does: queued again as the next attempt, or ended uncounted. */
  giveUp: (record: SubmissionRecord, what: string, guard: ClaimGuard) => void;
  log: { info(message: string): void };
}

export class ClaimDesk {
  readonly #o: ClaimDeskOptions;
  /** Rung when a submission of a kind is queued, so the claims waiting for that kind wake at once. */
  readonly #bell = new EventEmitter().setMaxListeners(0);

  constructor(options: ClaimDeskOptions) {
    this.#o = options;
  }

  get leaseMs(): number {
    return this.#o.leaseMs;
  }

  /** Wakes the claims waiting for a submission of `kind` (one was queued); the other kind's sleep on. */
  ring(kind: CpuOrGpu): void {
    this.#bell.emit(`queued:${kind}`);
  }

  /**
   * Claims the next queued submission of the kind for `holder` (the runner credential's holder), waiting
   * up to `wait_ms` for one; {claim: null} when none came (or `signal` aborted: the runner went away).
   */
  async next(holder: string, request: ClaimNextRequest, signal?: AbortSignal): Promise<ClaimNextAnswer> {
    const deadline = Date.now() + Math.min(request.wait_ms ?? 0, MAX_CLAIM_WAIT_MS);
    for (;;) {
      // A runner that went away claims nothing (the claim would wait out its lease for no one).
      if (signal?.aborted) return { claim: null };
      const token = newClaimToken();
      const record = this.#o.db.claimNext(request.kind, this.#newClaim(holder, request, token));
      if (record) return { claim: this.#claimed(record, token) };
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) return { claim: null };
      const waited = AbortSignal.timeout(Math.min(left, RECHECK_MS));
      const wake = signal ? AbortSignal.any([waited, signal]) : waited;
      await once(this.#bell, `queued:${request.kind}`, { signal: wake }).catch(() => undefined);
    }
  }

  /**
   * Claims one submission (the Actions job its dispatch started), at `attempt` when given.
   * ResultConflictError when it is not queued: another runner claimed it first, it was cancelled or is
   * final, or the attempt moved on; the caller runs nothing and writes nothing.
   */
  byId(holder: string, record: SubmissionRecord, request: ClaimByIdRequest): ClaimView {
    const token = newClaimToken();
    const claimed = this.#o.db.claimById(record.id, request.attempt, this.#newClaim(holder, request, token));
    if (claimed) return this.#claimed(claimed, token);
    const now = this.#o.db.getSubmission(record.id)!;
    if (now.state === "queued" && !(request.jobs ?? ["run"]).includes(now.job)) {
      throw new ResultConflictError(
        `submission ${now.id} waits to be re-scored (attempt ${now.attempt}), a job this runner does not ` +
          `do (it claims jobs ${JSON.stringify(request.jobs ?? ["run"])}): run nothing; a runner that ` +
          `re-scores (proctor runner, serve --local-runners) takes it`,
      );
    }
    if (now.state === "queued") {
      throw new ResultConflictError(
        `submission ${now.id} waits for attempt ${now.attempt}, not ${String(request.attempt)}: an earlier ` +
          `attempt was given up on and the submission queued again; run nothing`,
      );
    }
    throw new ResultConflictError(
      `submission ${now.id} is ${now.state}${now.state === "running" ? ` (attempt ${now.attempt}, claimed by ${now.claimedBy ?? "a runner that downloaded it"})` : ""}: ` +
        `another runner claimed it first, or it is over; run nothing and write nothing`,
    );
  }

  /** Extends the claim's lease; ClaimLostError (cancelled, or lost) when it no longer holds the attempt. */
  heartbeat(record: SubmissionRecord, hold: ClaimHold): HeartbeatAnswer {
    const expires = this.#extend(record.id, hold.attempt, hold.claim_token);
    if (expires === undefined) {
      this.check(this.#o.db.getSubmission(record.id)!, hold);
      // It held a moment ago (check passed) and no longer did when extended: a race with the sweeper.
      throw lost(record, hold.attempt);
    }
    return {
      submission_id: record.id,
      attempt: hold.attempt,
      lease_expires_at: new Date(expires).toISOString(),
    };
  }

  /**
   * The claim's runner fetched what it runs (the zip, a re-score's predictions): it holds the claim, so a
   * lease lost from now on costs a try (`retry`), and the lease is extended as a heartbeat extends it.
   */
  used(record: SubmissionRecord, claimToken: string | undefined): void {
    if (claimToken !== undefined && record.state === "running")
      this.#extend(record.id, record.attempt, claimToken);
  }

  /** A new lease for the claim `claimToken` of `attempt` (marked used): its end, or undefined when it does not hold. */
  #extend(id: string, attempt: number, claimToken: string): number | undefined {
    const expires = this.#o.clock().getTime() + this.#o.leaseMs;
    return this.#o.db.heartbeat(id, attempt, sha256Hex(claimToken), expires) ? expires : undefined;
  }

  /** Gives the claim back: the submission is queued again (its next attempt, uncounted). */
  release(record: SubmissionRecord, hold: ClaimHold): void {
    this.check(record, hold);
    this.#o.giveUp(record, `the runner (${record.claimedBy ?? "?"}) gave attempt ${record.attempt} back`, {
      claimSha256: sha256Hex(hold.claim_token),
    });
  }

  /**
   * The fence: throws ClaimLostError unless `hold` is the claim holding the running attempt. An attempt
   * no runner claimed (downloaded by an older runner) needs no token.
   */
  check(record: SubmissionRecord, hold: { attempt: number; claim_token?: string | undefined }): void {
    if (record.state === "cancelled") {
      throw new ClaimLostError(
        "cancelled",
        `submission ${record.id} was cancelled by the ${record.cancelledBy ?? "participant"} at ` +
          `${record.cancelledAt}: stop it now, and report nothing`,
      );
    }
    if (record.claimSha256 === null && record.state !== "final") return;
    const held =
      record.state === "running" &&
      record.attempt === hold.attempt &&
      hold.claim_token !== undefined &&
      sha256Hex(hold.claim_token) === record.claimSha256;
    if (!held) throw lost(record, hold.attempt);
  }

  #newClaim(
    holder: string,
    request: { runner?: string | undefined; jobs?: ClaimJob[] | undefined },
    token: string,
  ) {
    return {
      sha256: sha256Hex(token),
      by: request.runner ? `${holder}/${request.runner}` : holder,
      nowMs: this.#o.clock().getTime(),
      leaseMs: this.#o.leaseMs,
      jobs: request.jobs ?? ["run"],
    };
  }

  #claimed(record: SubmissionRecord, token: string): ClaimView {
    this.#o.log.info(`submission ${record.id}: attempt ${record.attempt} claimed by ${record.claimedBy}`);
    return {
      claim_token: token,
      lease_ms: this.#o.leaseMs,
      heartbeat_ms: Math.floor(this.#o.leaseMs / 3),
      lease_expires_at: new Date(record.leaseExpiresAtMs!).toISOString(),
      submission: this.#o.view(record),
      job: jobView(record),
    };
  }
}

/** What a claimed attempt is for; a re-score names the predictions it scores. */
function jobView(record: SubmissionRecord): ClaimJobView {
  if (record.job === "run") return { kind: "run" };
  const of = record.attempts.find((a) => a.attempt === record.rescoreOf);
  return {
    kind: "rescore",
    predictions_of: record.rescoreOf ?? 0,
    predictions_sha256: of?.predictionsSha256 ?? "",
    predictions_bytes: of?.predictionsBytes ?? 0,
  };
}

function lost(record: SubmissionRecord, attempt: number): ClaimLostError {
  return new ClaimLostError(
    "claim_lost",
    `this runner no longer holds attempt ${attempt} of submission ${record.id} (it is ${record.state}` +
      `${record.state === "final" ? "" : `, at attempt ${record.attempt}`}): its lease ran out or another ` +
      `runner holds it; stop the run, and report nothing`,
  );
}
