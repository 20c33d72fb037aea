/**
 * What the intake refuses, as typed errors with a stable `code`; the gateway maps codes to HTTP statuses.
 * (A zip refused by the checks is the submission room's InvalidSubmissionError.)
 */
import type { QuotaStatus } from "../leaderboard/index.js";
import { formatBytes } from "../units/index.js";

export abstract class IntakeError extends Error {
  abstract readonly code: string;
}

/** The upload passed the competition's size cap (zip or image archive); it was cut off and nothing was kept. */
export class UploadTooLargeError extends IntakeError {
  override name = "UploadTooLargeError";
  readonly code = "upload_too_large";
  constructor(readonly limitBytes: number) {
    super(
      `the upload is larger than this competition's size limit of ${formatBytes(limitBytes)} ` +
        `(limits.zip.max_size in competition.yml, or submission.image.max_size where it takes images); it ` +
        `was cut off and nothing was kept. Make it smaller (leave out training data and caches; gzip an ` +
        `image archive) and submit again`,
    );
  }
}

/** The participant's daily or total limit is used up. */
export class QuotaExceededError extends IntakeError {
  override name = "QuotaExceededError";
  readonly code = "quota_exceeded";
  constructor(readonly quota: QuotaStatus) {
    super(quota.reason ?? "submission limit reached");
  }
}

/** A submission that does not exist, or not for this participant (the two are not told apart). */
export class SubmissionNotFoundError extends IntakeError {
  override name = "SubmissionNotFoundError";
  readonly code = "not_found";
  constructor(id: string) {
    super(`no submission ${JSON.stringify(id)} of yours; \`proctor status\` lists your submissions`);
  }
}

/** A runner request without a valid runner credential. */
export class RunnerAuthError extends IntakeError {
  override name = "RunnerAuthError";
  readonly code = "unauthorized";
  constructor() {
    super(
      "no valid runner credential: send `Authorization: Bearer <runner credential>` with a credential made " +
        "by `proctor runners add <runner>` (kept as the repository secret PROCTOR_RUNNER_CREDENTIAL)",
    );
  }
}

/** An upload for a kind of runner (cpu/gpu) the competition has none of. */
export class NoRunnersError extends IntakeError {
  override name = "NoRunnersError";
  readonly code = "no_runners";
  constructor(kind: string, available: readonly string[]) {
    super(
      `this competition has no ${kind} runners, so a ${kind} submission would never run; submit with ` +
        `cpu_or_gpu ${available.map((k) => JSON.stringify(k)).join(" or ")} (runners in competition.yml)`,
    );
  }
}

/** A download or report for a submission that already has a final result, or for a superseded attempt. */
export class ResultConflictError extends IntakeError {
  override name = "ResultConflictError";
  readonly code: string = "result_conflict";
}

/** A heartbeat, release, download or report of a claim that no longer holds its attempt: stop, write nothing. */
export class ClaimLostError extends ResultConflictError {
  override name = "ClaimLostError";
  override readonly code: "claim_lost" | "cancelled";
  constructor(code: "claim_lost" | "cancelled", message: string) {
    super(message);
    this.code = code;
  }
}

/** An upload outside the competition's dates (timeline in competition.yml). */
export class SubmissionsClosedError extends IntakeError {
  override name = "SubmissionsClosedError";
  readonly code = "submissions_closed";
  constructor(
    reason: string,
    readonly opensAt: Date | null,
  ) {
    super(reason);
  }
}

/** An upload by a participant an organizer disqualified. */
export class DisqualifiedError extends IntakeError {
  override name = "DisqualifiedError";
  readonly code = "disqualified";
  constructor(participant: string, reason: string) {
    super(
      `${participant} was disqualified by the organizers (${reason}) and cannot submit; write to the ` +
        `organizers if you think this is a mistake`,
    );
  }
}

/** An upload while the participant already has `max_active_runs` submissions queued or running. */
export class ActiveRunsError extends IntakeError {
  override name = "ActiveRunsError";
  readonly code = "active_run_limit";
  constructor(
    readonly max: number,
    readonly active: number,
  ) {
    super(
      `you already have ${active} submission${active === 1 ? "" : "s"} queued or running, and this ` +
        `competition runs at most ${max} at once per participant (max_active_runs in competition.yml): ` +
        `wait for it to finish, or cancel one that has not started, then submit again`,
    );
  }
}

/** A cancel of a submission that is finished (final, or cancelled already). */
export class NotCancellableError extends IntakeError {
  override name = "NotCancellableError";
  readonly code = "not_cancellable";
  constructor(id: string, state: string, why?: string) {
    super(why ?? `submission ${id} is ${state}: only a queued or running submission can be cancelled`);
  }
}

/** A final-selection choice that breaks the rule (not scored, or more than the competition allows). */
export class ChoiceError extends IntakeError {
  override name = "ChoiceError";
  readonly code = "choice_refused";
}
