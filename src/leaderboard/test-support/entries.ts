/** Test helpers for the leaderboard room (not part of the public API). */
import type { RunStatus } from "../../status/index.js";
import type { LeaderboardEntry } from "../entry.js";

let counter = 0;

/** A valid succeeded entry with the given fields overridden. */
export function makeEntry(overrides: Partial<LeaderboardEntry> = {}): LeaderboardEntry {
  counter += 1;
  return {
    submissionId: `sub-${counter}`,
    participant: "alice",
    submittedAt: "2025-03-01T12:00:00.000Z",
    status: "succeeded",
    publicScore: 0.5,
    privateScore: null,
    sealedPrivateScore: null,
    durationMs: 1234,
    imageDigest: "sha256:" + "ab".repeat(32),
    zipSha256: "cd".repeat(32),
    ...overrides,
  };
}

/** A failed run (no scores). */
export function makeFailed(overrides: Partial<LeaderboardEntry> = {}): LeaderboardEntry {
  return makeEntry({ status: "failed", publicScore: null, ...overrides });
}

/**
 * The quota rule's cases, written out (not derived from the code under test): for each run status,
 * whether a run with it counts toward limits with `countFailed` false and true. Every store and the
 * intake's SQL are checked against this one table.
 */
export const QUOTA_CASES: readonly {
  status: RunStatus;
  counts: { strict: boolean; countFailed: boolean };
}[] = [
  { status: "succeeded", counts: { strict: true, countFailed: true } },
  { status: "failed", counts: { strict: false, countFailed: true } },
  { status: "timed_out", counts: { strict: false, countFailed: true } },
  { status: "oom_killed", counts: { strict: false, countFailed: true } },
  { status: "invalid_submission", counts: { strict: false, countFailed: true } },
  { status: "output_missing", counts: { strict: false, countFailed: true } },
  { status: "output_invalid", counts: { strict: false, countFailed: true } },
  { status: "output_too_large", counts: { strict: false, countFailed: true } },
  { status: "scoring_failed", counts: { strict: false, countFailed: true } },
  { status: "scorer_failed", counts: { strict: false, countFailed: false } },
  { status: "infrastructure_error", counts: { strict: false, countFailed: false } },
];
