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
  "infrastructure_error",
] as const;

export type RunStatus = (typeof RUN_STATUSES)[number];

/** Faults of the platform, not the participant: retryable, never counted against a participant. */
export function isInfrastructureFault(status: RunStatus): boolean {
  return status === "infrastructure_error";
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
  return isInfrastructureFault(status) ? EXIT_CODES.infrastructureError : EXIT_CODES.participantFailure;
}
