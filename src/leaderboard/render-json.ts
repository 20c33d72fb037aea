/**
 * The leaderboard as JSON, for other tools and pages. The shape is stable (`format` names its version;
 * keys are always present and in this order; a key added at the end of a row keeps the version, any other
 * change bumps it):
 *
 * ```
 * {
 *   "format": "proctor.leaderboard/v1",
 *   "competition": string,
 *   "generatedAt": ISO string,
 *   "mode": "public" | "private",
 *   "ranking": { "direction": "higher"|"lower", "precision": int, "selection": "best"|"latest",
 *                "tieBreak": "earlier_submission", "rankNumbers": "competition" },
 *   "phase": string | null,          // the phase whose entries these are (null: no phases configured)
 *   "rows": [{
 *     "rank": int | null,            // null: no scored entry (listed last)
 *     "participant": string,
 *     "score": number | null,        // what the row is ranked by: public score, or private in mode private
 *     "scoreText": string | null,    // score at `precision` decimals
 *     "publicScore": number | null,  // of the selected entry
 *     "privateScore": number | null, // ONLY present in mode "private" (revealed and includePrivate: true)
 *     "submissionId": string | null, // the selected entry
 *     "submittedAt": ISO | null,     // of the selected entry
 *     "entries": int,                // infrastructure errors excluded
 *     "lastSubmittedAt": ISO,
 *     "imageDigest": string | null,  // the runtime image the selected entry ran with (sha256:…)
 *     "imageRecord": string | null,  // where that digest is recorded (runtime/published.json), when known
 *     "modelsDigest": string | null, // the models image it had at /code_execution/models (sha256:…); null: none
 *     "modelsRecord": string | null, // where that models image is recorded (runtime/published.json), when known
 *     "submissionSha256": string | null, // the selected entry's submitted file (zip or image archive)
 *     "scorerDigest": string | null  // what scored it: the metric's or custom scorer's sha256 (never the
 *                                    // ground truth's: it would let anyone test guesses of a small label set)
 *   }]
 * }
 * ```
 */
import type { Standings } from "./ranking.js";
import { assertPublishable, recordUrls, type RenderOptions } from "./render-common.js";

export const LEADERBOARD_JSON_FORMAT = "proctor.leaderboard/v1";

export interface LeaderboardJsonRow {
  rank: number | null;
  participant: string;
  score: number | null;
  scoreText: string | null;
  publicScore: number | null;
  privateScore?: number | null;
  submissionId: string | null;
  submittedAt: string | null;
  entries: number;
  lastSubmittedAt: string;
  imageDigest: string | null;
  imageRecord: string | null;
  modelsDigest: string | null;
  modelsRecord: string | null;
  submissionSha256: string | null;
  scorerDigest: string | null;
}

export interface LeaderboardJson {
  format: typeof LEADERBOARD_JSON_FORMAT;
  competition: string;
  generatedAt: string;
  mode: "public" | "private";
  ranking: {
    direction: "higher" | "lower";
    precision: number;
    selection: "best" | "latest";
    tieBreak: "earlier_submission";
    rankNumbers: "competition";
  };
  phase: string | null;
  rows: LeaderboardJsonRow[];
}

export function leaderboardJson(standings: Standings, options: RenderOptions): LeaderboardJson {
  assertPublishable(standings, options);
  const { rules, mode } = standings;
  const record = recordUrls(options);
  return {
    format: LEADERBOARD_JSON_FORMAT,
    competition: options.competition,
    generatedAt: (options.generatedAt ?? new Date()).toISOString(),
    mode,
    ranking: {
      direction: rules.direction,
      precision: rules.precision,
      selection: rules.selection,
      tieBreak: rules.tieBreak,
      rankNumbers: "competition",
    },
    phase: options.phase ?? null,
    rows: standings.rows.map((row) => ({
      rank: row.rank,
      participant: row.participant,
      score: row.score,
      scoreText: row.rank === null ? null : row.scoreText,
      publicScore: row.publicScore,
      ...(mode === "private" ? { privateScore: row.privateScore } : {}),
      submissionId: row.submissionId,
      submittedAt: row.submittedAt,
      entries: row.entries,
      lastSubmittedAt: row.lastSubmittedAt,
      imageDigest: row.imageDigest,
      imageRecord: row.imageDigest === null ? null : record.image,
      modelsDigest: row.modelsDigest,
      modelsRecord: row.modelsDigest === null ? null : record.models,
      submissionSha256: row.submissionSha256,
      scorerDigest: row.scorerDigest,
    })),
  };
}

/** `leaderboardJson` serialised: two-space indent, trailing newline. */
export function renderJson(standings: Standings, options: RenderOptions): string {
  return `${JSON.stringify(leaderboardJson(standings, options), null, 2)}\n`;
}
