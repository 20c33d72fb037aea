/**
 * The one run-status vocabulary used everywhere: CLI JSON, action outputs, leaderboard, gateway.
 */
export const RUN_STATUSES = [
  "succeeded",
  "failed",
  "timed_out",
  "oom_killed",
  "invalid_submission",
  "output_missing",
  "output_invalid",
  "output_too_large",
  "scoring_failed",
  "scorer_failed",
  "infrastructure_error",
] as const;

export type RunStatus = (typeof RUN_STATUSES)[number];

/** Faults of the platform, not the participant: retryable, never counted against a participant. */
export function isInfrastructureFault(status: RunStatus): boolean {
  return status === "infrastructure_error";
}

/**
 * The organizer's fault found during a run: their custom scorer failed on predictions that passed the
 * format check. Never counted, never retried by itself (a retry would run the program again: crafted
 * predictions would earn free runs); the participant is shown it waits for the organizers, who fix the
 * scorer and re-score.
 */
export function isOrganizerFault(status: RunStatus): boolean {
  return status === "scorer_failed";
}

/** Whether a run with this status is the participant's own outcome (a score or their failure). */
export function isParticipantOutcome(status: RunStatus): boolean {
  return !isInfrastructureFault(status) && !isOrganizerFault(status);
}

/** Process exit codes of proctor commands, so scripts and CI can tell who is at fault. */
export const EXIT_CODES = {
  succeeded: 0,
  participantFailure: 1,
  infrastructureError: 3,
  usageError: 2,
} as const;

export function exitCodeFor(status: RunStatus): number {
  if (status === "succeeded") return EXIT_CODES.succeeded;
  return isParticipantOutcome(status) ? EXIT_CODES.participantFailure : EXIT_CODES.infrastructureError;
}

/**
 * Whether an attempt's result (`incoming`) takes the place of the result a submission stands on
 * (`standing`, null when it has none): a score always does (the newest score stands); anything does where
 * nothing stands; a participant's failure replaces another unscored result; an infrastructure error or the
 * organizers' scorer failing never replaces a result, and nothing but a newer score replaces a score. So
 * a failed, cancelled or given-up re-run leaves the earlier score in place.
 */
export function replacesStanding(standing: RunStatus | null, incoming: RunStatus): boolean {
  if (incoming === "succeeded" || standing === null) return true;
  return standing !== "succeeded" && isParticipantOutcome(incoming);
}
