/**
 * The local leaderboard (`make test-submission`, `proctor leaderboard`): one board per competition and
 * scoring setup in the store competition.yml names, so a changed metric, scorer, ground truth or format
 * starts a fresh board instead of ranking old scores with new ones, and says so in one line.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Competition } from "../config/index.js";
import { SqliteLeaderboardStore } from "../leaderboard/index.js";
import { scoringSetupDigests } from "../scoring/index.js";

/** The competition's own board in its local store (the file and the board are made on first use). */
export async function localStore(competition: Competition): Promise<SqliteLeaderboardStore> {
  await mkdir(path.dirname(competition.leaderboard.store), { recursive: true });
  const digests = await scoringSetupDigests({
    metric: competition.scoring.metric,
    direction: competition.scoring.direction,
    usageColumn: competition.scoring.usageColumn,
    groundTruthPath: competition.paths.groundTruth,
    formatPath: competition.paths.submissionFormat,
  });
  return new SqliteLeaderboardStore(competition.leaderboard.store, {
    board: {
      competition: competition.name,
      metricDigest: digests.metric,
      groundTruthDigest: digests.groundTruth,
      formatDigest: digests.format,
    },
  });
}

/**
 * One line about the boards this store does not show, or null when there is nothing to say: `always`
 * says it whenever other boards hold entries (`proctor leaderboard show`); otherwise only when this run
 * started the board (`test-submission`, once per change).
 */
export function otherBoardsLine(
  store: SqliteLeaderboardStore,
  competition: Pick<Competition, "name">,
  always = false,
): string | null {
  if (!always && !store.boardIsNew) return null;
  const others = store.otherBoards();
  if (others.length === 0) return null;
  const earlier = others.find((board) => board.competition === competition.name);
  const count = (n: number) => `${n} entr${n === 1 ? "y" : "ies"}`;
  const rest = others.filter((board) => board !== earlier).reduce((n, board) => n + board.entries, 0);
  const parts = [
    earlier &&
      `${store.boardIsNew ? "a new local leaderboard: " : ""}the ${earlier.changed.join(", ") || "scoring setup"} changed since the earlier board of "${competition.name}" (${count(earlier.entries)}, kept apart)`,
    rest > 0 && `${count(rest)} of other competitions or an unknown setup not shown`,
  ].filter(Boolean);
  return `note: ${parts.join("; ")} (make clean empties ${path.relative(process.cwd(), store.path) || store.path})`;
}
