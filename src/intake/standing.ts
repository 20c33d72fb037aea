/**
 * The intake's records as leaderboard entries: each submission's standing result (its score only where it
 * succeeded), and the entries a board may rank (of one phase, nothing disqualified).
 */
import type { LeaderboardEntry } from "../leaderboard/index.js";
import type { IntakeDb, SubmissionRecord } from "./db.js";

/** A standing record as a leaderboard entry (its score only where it succeeded). */
export function toEntry(record: SubmissionRecord): LeaderboardEntry {
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
    ...(record.modelsDigest !== null && { modelsDigest: record.modelsDigest }),
    ...(record.scorerDigest !== null && { scorerDigest: record.scorerDigest }),
    ...(record.phase !== null && { phase: record.phase }),
  };
}

/**
 * Standing records a board may rank: of `phase` (null: of any, where competition.yml names no phases), and
 * neither they nor their participant disqualified.
 */
export function rankableEntries(db: IntakeDb, phase: string | null): LeaderboardEntry[] {
  const out = db.disqualifiedParticipants();
  return db
    .listStanding()
    .filter(
      (r) => (phase === null || r.phase === phase) && r.disqualified === null && !out.has(r.participant),
    )
    .map(toEntry);
}
