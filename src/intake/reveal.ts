/**
 * The reveal on the gateway's own record (`proctor admin reveal --key`). The final phase's standing
 * entries, disqualified ones left out, have their sealed private scores opened with the organizer's private
 * key; the final selection is applied (each participant's best, or chosen, entries); the result is written
 * to <data dir>/private-leaderboard.json. The key is read once, on the machine that holds it, and never
 * stored: the file holds only what the reveal makes public. The gateway ranks it on each change
 * (/leaderboard?board=private and its JSON), leaving out anyone disqualified after the reveal too.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import type { Competition } from "../config/index.js";
import { LeaderboardEntrySchema, rankEntries, revealEntries, type Standings } from "../leaderboard/index.js";
import { finalEntries, finalPhase } from "../lifecycle/index.js";
import type { IntakeDb } from "./db.js";
import { rankableEntries } from "./standing.js";

export const PRIVATE_BOARD_FILE = "private-leaderboard.json";
export const REVEALED_FORMAT = "proctor.revealed/v1";

export class RevealRefusedError extends Error {
  override name = "RevealRefusedError";
}

const revealedSchema = z.object({
  format: z.literal(REVEALED_FORMAT),
  competition: z.string(),
  /** The final phase whose entries were revealed; null where competition.yml names no phases. */
  phase: z.string().nullable(),
  revealedAt: z.iso.datetime(),
  entries: z.array(LeaderboardEntrySchema),
});

export type RevealedBoard = z.output<typeof revealedSchema>;

/**
 * Opens the final phase's private scores and applies the final selection. Refused before the timeline's
 * end unless `force` (the ranking would be published while submissions are still taken). A sealed score
 * that does not open with the key fails the whole reveal (RevealError, from the leaderboard room).
 */
export function revealFinal(options: {
  db: IntakeDb;
  competition: Competition;
  privateKeyPem: string;
  now: Date;
  force?: boolean;
}): RevealedBoard {
  const { db, competition, now } = options;
  const end = competition.lifecycle.end;
  if (!options.force) {
    if (end === null) {
      throw new RevealRefusedError(
        "competition.yml sets no timeline.end, so proctor cannot tell that submissions are over: add " +
          "timeline.end, or pass --force to reveal anyway",
      );
    }
    if (now < end) {
      throw new RevealRefusedError(
        `the competition ends at ${end.toISOString()} (timeline.end in competition.yml): the private ranking ` +
          "is revealed after that; pass --force to reveal now anyway",
      );
    }
  }
  const phase = finalPhase(competition.lifecycle)?.name ?? null;
  const revealed = revealEntries(rankableEntries(db, phase), options.privateKeyPem);
  const selected = finalEntries(
    revealed,
    competition.lifecycle.finalSelection,
    competition.scoring.direction,
    db.chosenIds(),
  );
  return {
    format: REVEALED_FORMAT,
    competition: competition.name,
    phase,
    revealedAt: now.toISOString(),
    // Only the selected entries' private scores are published (the others are ranked by nothing), and no
    // sealed value leaves the record.
    entries: selected.map((e) => ({
      ...e,
      privateScore: e.publicScore === null ? null : e.privateScore,
      sealedPrivateScore: null,
    })),
  };
}

/**
 * Writes the revealed board into the gateway's data dir (whole or not at all: a temporary file, renamed).
 * A reveal that finds the same ranking already there keeps it as it was, its time included (so publishing
 * it again changes nothing). Returns the file and the board as it stands.
 */
export function writeRevealed(dataDir: string, board: RevealedBoard): { file: string; board: RevealedBoard } {
  const file = path.join(dataDir, PRIVATE_BOARD_FILE);
  const before = readRevealedOrNull(dataDir);
  // Compared as read back: the schema's own order of keys.
  const same = (a: RevealedBoard) => JSON.stringify([a.phase, revealedSchema.shape.entries.parse(a.entries)]);
  if (before && same(before) === same(board)) return { file, board: before };
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(board, null, 2)}\n`, { mode: 0o644 });
  renameSync(temporary, file);
  return { file, board };
}

function readRevealedOrNull(dataDir: string): RevealedBoard | null {
  try {
    return readRevealed(dataDir);
  } catch (error) {
    if (error instanceof RevealRefusedError) return null; // damaged: written afresh
    throw error;
  }
}

/** The revealed board in `dataDir`; null before the reveal. A damaged file is an error naming it. */
export function readRevealed(dataDir: string): RevealedBoard | null {
  const file = path.join(dataDir, PRIVATE_BOARD_FILE);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new RevealRefusedError(
      `${file} is not JSON: run \`proctor admin reveal --key …\` again to rewrite it`,
    );
  }
  const result = revealedSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new RevealRefusedError(
      `${file}: ${issue.path.join(".") || "(top level)"} ${issue.message}; run \`proctor admin reveal --key …\` again to rewrite it`,
    );
  }
  return result.data;
}

/**
 * The private standings from a revealed board, without whoever has been disqualified since (a
 * disqualification reaches every board, the revealed one included).
 */
export function privateStandings(
  board: RevealedBoard,
  db: IntakeDb,
  rules: Competition["leaderboard"],
): Standings {
  // The same rule as every board's: what is still rankable now (one read, not one per entry).
  const rankable = new Set(rankableEntries(db, board.phase).map((e) => e.submissionId));
  return rankEntries(
    board.entries.filter((e) => rankable.has(e.submissionId)),
    rules,
    { mode: "private" },
  );
}
