/** Test helpers for the leaderboard room (not part of the public API). */
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
