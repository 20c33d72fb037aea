/**
 * The claim protocol, one for every runner (a `proctor runner` slot, `proctor serve --local-runners`, the
 * Actions job a dispatch started). Authorization: Bearer prc_… (the runner credential).
 *
 *   POST /v1/runner/claims                      {kind, runner?, wait_ms?} -> 200 {claim: ClaimView | null}
 *        the next queued submission of that kind, oldest first (a submission whose claim was lost goes back
 *        where it stood); waits up to wait_ms (at most MAX_CLAIM_WAIT_MS) for one to be queued
 *   POST /v1/runner/submissions/:id/claim       {attempt?, runner?} -> 200 ClaimView
 *        that submission (the Actions job); 409 when it is not queued (another runner claimed it first,
 *        it was cancelled or is final, or the attempt moved on): run nothing, write nothing
 *   POST /v1/runner/submissions/:id/heartbeat   {attempt, claim_token} -> 200 HeartbeatAnswer
 *        extends the lease by lease_ms; 409 `cancelled` (stop the run now, report nothing) or 409
 *        `claim_lost` (the lease ran out and the submission was queued again as its next attempt: stop, and
 *        report nothing)
 *   POST /v1/runner/submissions/:id/release     {attempt, claim_token} -> 200 {submission_id, state}
 *        gives the claim back (a runner stopping at once): the submission is queued again, at its place,
 *        as its next attempt, uncounted
 *
 * Jobs: a claim is to run the submission's program, or (where the runner says it can, `jobs: ["run",
 * "rescore"]`) to re-score the predictions an earlier attempt left: the runner downloads them
 * (`GET /v1/runner/submissions/:id/predictions?attempt=N`, with the claim), scores them with the current
 * metric and ground truth, runs no container of the program, and reports as a run does. A runner that does
 * not say so (an older one) is only given runs. A run's runner uploads its predictions
 * (`PUT …/predictions?attempt=N`, a tar, with the claim) before it reports, so they can be re-scored.
 *
 * A claim is a lease: the runner heartbeats every heartbeat_ms; when the heartbeats stop for lease_ms the
 * gateway's sweeper queues the submission again as its next attempt (an infrastructure fault: never
 * counted, never a second leaderboard row). The claim token fences the attempt: the download, heartbeats
 * and the result report (result-report.ts) of a claimed attempt need it, so a runner that lost its claim can
 * write nothing.
 */
import { z } from "zod";
import type { CpuOrGpu, RunnerSubmissionView } from "./contract.js";

/** Claim tokens: `clm_` and 32 random bytes, base64url. Secret to the runner holding the claim. */
export const CLAIM_TOKEN_PATTERN = /^clm_[A-Za-z0-9_-]{43}$/;

/** The longest a claim request waits for a submission (a long poll). */
export const MAX_CLAIM_WAIT_MS = 25_000;

/** A runner's own name for a slot (shown to organizers): letters, digits and `._:/@-`, at most 100. */
const runner = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}$/,
    "must be 1 to 100 letters, digits or ._:/@- (e.g. host/slot-1)",
  )
  .optional();

/** What a claim may be for: run the program, re-score kept predictions (default: run only). */
export const CLAIM_JOBS = ["run", "rescore"] as const;
export type ClaimJob = (typeof CLAIM_JOBS)[number];
const jobs = z
  .array(z.enum(CLAIM_JOBS, { error: 'must be "run" or "rescore"' }))
  .min(1, 'must name a job, e.g. ["run"]')
  .optional();

export const ClaimNextSchema = z
  .object({
    kind: z.enum(["cpu", "gpu"], { error: 'must be "cpu" or "gpu"' }),
    runner,
    jobs,
    wait_ms: z.number().int("must be whole milliseconds").min(0).max(MAX_CLAIM_WAIT_MS).optional(),
  })
  .strict();

export const ClaimByIdSchema = z
  .object({ attempt: z.number().int().positive("must be 1 or more").optional(), runner, jobs })
  .strict();

export const ClaimHoldSchema = z
  .object({
    attempt: z.number().int().positive("must be 1 or more"),
    claim_token: z.string().regex(CLAIM_TOKEN_PATTERN, "must be the claim_token the claim answered"),
  })
  .strict();

export type ClaimNextRequest = z.infer<typeof ClaimNextSchema>;
export type ClaimByIdRequest = z.infer<typeof ClaimByIdSchema>;
export type ClaimHold = z.infer<typeof ClaimHoldSchema>;

/** What a claim answers: the submission, and the token and lease the runner keeps it with. */
export interface ClaimView {
  /** Secret to the runner holding the claim: its heartbeats, release and report carry it. */
  claim_token: string;
  /** How long the claim lasts without a heartbeat. */
  lease_ms: number;
  /** How often to heartbeat (a third of the lease: two may be lost). */
  heartbeat_ms: number;
  lease_expires_at: string;
  submission: RunnerSubmissionView;
  /** What to do (absent from older gateways: run it). */
  job?: ClaimJobView;
}

export type ClaimJobView =
  | { kind: "run" }
  /** Score the predictions attempt `predictions_of` left (download them with this claim); run nothing. */
  | { kind: "rescore"; predictions_of: number; predictions_sha256: string; predictions_bytes: number };

export interface ClaimNextAnswer {
  claim: ClaimView | null;
}

export interface HeartbeatAnswer {
  submission_id: string;
  attempt: number;
  lease_expires_at: string;
}

/** Error codes of a 409 to a heartbeat, release or report: what the runner must do is the same, stop. */
export type ClaimRefusal = "cancelled" | "claim_lost" | "result_conflict";

export type { CpuOrGpu };
