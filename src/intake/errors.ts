/**
 * What the intake refuses, as typed errors with a stable `code`; the gateway maps codes to HTTP statuses.
 * (A zip refused by the checks is the submission room's InvalidSubmissionError.)
 */
import type { QuotaStatus } from "../leaderboard/index.js";
import { formatBytes } from "../units/index.js";

export abstract class IntakeError extends Error {
  abstract readonly code: string;
}

/** The upload passed the competition's zip size cap; it was cut off and nothing was kept. */
export class UploadTooLargeError extends IntakeError {
  override name = "UploadTooLargeError";
  readonly code = "upload_too_large";
  constructor(readonly limitBytes: number) {
    super(
      `the upload is larger than this competition's zip size limit of ${formatBytes(limitBytes)} ` +
        `(limits.zip.max_size in competition.yml); it was cut off and nothing was kept. Make the zip ` +
        `smaller (leave out training data and caches) and submit again`,
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

/** A zip download link that was tampered with, or has expired. */
export class DownloadLinkError extends IntakeError {
  override name = "DownloadLinkError";
  readonly code: "invalid_signature" | "link_expired";
  constructor(kind: "invalid" | "expired") {
    super(
      kind === "expired"
        ? "this download link has expired; the intake sends a fresh one when it re-dispatches the submission"
        : "this download link's signature does not match; use the submission_url of the dispatch unchanged",
    );
    this.code = kind === "expired" ? "link_expired" : "invalid_signature";
  }
}

/** A result report without this submission's current result token. */
export class ResultAuthError extends IntakeError {
  override name = "ResultAuthError";
  readonly code = "invalid_result_token";
  constructor() {
    super(
      "the result token is not this submission's: send `Authorization: Bearer <result_token>` with the " +
        "result_token of the dispatch that carried this submission",
    );
  }
}

/** A result report for a submission that already has a final result, or from a superseded attempt. */
export class ResultConflictError extends IntakeError {
  override name = "ResultConflictError";
  readonly code = "result_conflict";
}
