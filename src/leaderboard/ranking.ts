/**
 * Ranking: one row per participant, from the entries and the rules.
 *
 * - Selection: each participant is represented by one *scored* entry (status succeeded with a public
 *   score): their best public score (`best`; equal shown scores -> the earlier one) or their latest one
 *   (`latest`). Selection always uses public scores, in both modes: the private ranking ranks the entries
 *   participants could see and choose by, so submitting many times buys no extra draws at the private set.
 * - Order: by the selected score (public, or private in `private` mode) compared at the shown precision,
 *   best first per `direction`; equal shown scores -> the earlier submission ranks higher.
 * - Rank numbers use standard competition ranking ("1224"): rows that tie on both score and submission
 *   instant share a rank, and the next rank skips. (With the earlier-submission tie-break, that only
 *   happens when two entries were submitted at the same millisecond.)
 * - Participants with entries but no scored entry (every run failed) are listed after the ranked rows,
 *   by name, with `rank: null`. infrastructure_error entries are ignored entirely: they count neither as
 *   entries nor as a last submission, and a participant who only has those is not listed.
 */
import { isInfrastructureFault } from "../status/index.js";
import { isScored, type LeaderboardEntry } from "./entry.js";
import type { LeaderboardRules } from "./rules.js";

export type RankingMode = "public" | "private";

export interface RankedRow {
  /** 1-based competition rank ("1224"); null for participants without a scored entry. */
  rank: number | null;
  participant: string;
  /** The score the row is ranked by (public or private per mode); null when unranked. */
  score: number | null;
  /** `score` formatted at the rules' precision; "" when unranked. */
  scoreText: string;
  /** Public score of the selected entry. */
  publicScore: number | null;
  /** Private score of the selected entry: only in private mode, otherwise always null. */
  privateScore: number | null;
  /** The selected entry (null when unranked). */
  submissionId: string | null;
  /** The runtime image digest the selected entry ran with (null when none ran or none is selected). */
  imageDigest: string | null;
  /** The models image digest the selected entry had mounted (null when it had none). */
  modelsDigest: string | null;
  /** The selected entry's submission (zip or image archive) sha256 and what scored it; null when unknown. */
  submissionSha256: string | null;
  scorerDigest: string | null;
  submittedAt: string | null;
  /** The participant's entries, infrastructure errors excluded. */
  entries: number;
  /** The participant's latest submission instant, infrastructure errors excluded. */
  lastSubmittedAt: string;
}

export interface Standings {
  mode: RankingMode;
  rules: LeaderboardRules;
  rows: RankedRow[];
}

export class RankingError extends Error {
  override name = "RankingError";
}

export interface RankOptions {
  /** "public" (default) or "private" (after `reveal`: entries must carry plain private scores). */
  mode?: RankingMode;
}

/** A score rounded to the rules' precision: all a participant is ever shown of it (null stays null). */
export function roundScore<T extends number | null>(score: T, precision: number): T {
  return (score === null ? null : Number(formatScore(score, precision))) as T;
}

/** Formats a score at the rules' precision (the same text that ranking compares). */
export function formatScore(score: number, precision: number): string {
  const text = score.toFixed(precision);
  return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;
}

interface Candidate {
  entry: LeaderboardEntry;
  at: number;
  /** Public score at shown precision, for selection. */
  publicKey: number;
}

interface Group {
  participant: string;
  entries: number;
  lastAt: number;
  lastSubmittedAt: string;
  selected: Candidate | undefined;
}

function byId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function rankEntries(
  entries: readonly LeaderboardEntry[],
  rules: LeaderboardRules,
  options: RankOptions = {},
): Standings {
  const mode = options.mode ?? "public";
  const sign = rules.direction === "higher" ? -1 : 1; // negative comparison result = better
  const key = (score: number) => Number(formatScore(score, rules.precision));

  // better(a, b) < 0 when a should be selected over b.
  const better =
    rules.selection === "best"
      ? (a: Candidate, b: Candidate) =>
          sign * (a.publicKey - b.publicKey) ||
          a.at - b.at ||
          byId(a.entry.submissionId, b.entry.submissionId)
      : (a: Candidate, b: Candidate) => b.at - a.at || byId(b.entry.submissionId, a.entry.submissionId);

  const groups = new Map<string, Group>();
  for (const entry of entries) {
    if (isInfrastructureFault(entry.status)) continue;
    const at = Date.parse(entry.submittedAt);
    let group = groups.get(entry.participant);
    if (group === undefined) {
      group = {
        participant: entry.participant,
        entries: 0,
        lastAt: -Infinity,
        lastSubmittedAt: "",
        selected: undefined,
      };
      groups.set(entry.participant, group);
    }
    group.entries += 1;
    if (at > group.lastAt) {
      group.lastAt = at;
      group.lastSubmittedAt = new Date(at).toISOString();
    }
    if (isScored(entry)) {
      const candidate = { entry, at, publicKey: key(entry.publicScore!) };
      if (group.selected === undefined || better(candidate, group.selected) < 0) group.selected = candidate;
    }
  }

  interface Ranked {
    group: Group;
    selected: Candidate;
    score: number;
    scoreKey: number;
  }
  const ranked: Ranked[] = [];
  const unranked: Group[] = [];
  for (const group of groups.values()) {
    const selected = group.selected;
    if (selected === undefined) {
      unranked.push(group);
      continue;
    }
    let score = selected.entry.publicScore!;
    if (mode === "private") {
      const { privateScore, sealedPrivateScore, submissionId } = selected.entry;
      if (privateScore === null) {
        if (sealedPrivateScore !== null) {
          throw new RankingError(
            `cannot rank by private scores: submission ${JSON.stringify(submissionId)} still has its private ` +
              `score sealed; rank the entries returned by reveal(store, privateKeyPem)`,
          );
        }
        unranked.push(group);
        continue;
      }
      score = privateScore;
    }
    ranked.push({ group, selected, score, scoreKey: key(score) });
  }

  ranked.sort(
    (a, b) =>
      sign * (a.scoreKey - b.scoreKey) ||
      a.selected.at - b.selected.at ||
      byId(a.group.participant, b.group.participant),
  );
  unranked.sort((a, b) => byId(a.participant, b.participant));

  // Public standings show scores at the shown precision only: more digits would help probe the test set.
  const shown = <T extends number | null>(score: T): T =>
    mode === "public" ? roundScore(score, rules.precision) : score;
  const rows: RankedRow[] = [];
  ranked.forEach((r, i) => {
    const previous = ranked[i - 1];
    const tied =
      previous !== undefined && previous.scoreKey === r.scoreKey && previous.selected.at === r.selected.at;
    rows.push({
      rank: tied ? rows[i - 1]!.rank : i + 1,
      participant: r.group.participant,
      score: shown(r.score),
      scoreText: formatScore(r.score, rules.precision),
      publicScore: shown(r.selected.entry.publicScore),
      privateScore: mode === "private" ? r.selected.entry.privateScore : null,
      submissionId: r.selected.entry.submissionId,
      imageDigest: r.selected.entry.imageDigest || null,
      modelsDigest: r.selected.entry.modelsDigest ?? null,
      submissionSha256: r.selected.entry.zipSha256 || null,
      scorerDigest: r.selected.entry.scorerDigest ?? null,
      submittedAt: new Date(r.selected.at).toISOString(),
      entries: r.group.entries,
      lastSubmittedAt: r.group.lastSubmittedAt,
    });
  });
  for (const group of unranked) {
    const selected = group.selected;
    rows.push({
      rank: null,
      participant: group.participant,
      score: null,
      scoreText: "",
      publicScore: shown(selected?.entry.publicScore ?? null),
      privateScore: null,
      submissionId: selected?.entry.submissionId ?? null,
      imageDigest: selected?.entry.imageDigest || null,
      modelsDigest: selected?.entry.modelsDigest ?? null,
      submissionSha256: selected?.entry.zipSha256 || null,
      scorerDigest: selected?.entry.scorerDigest ?? null,
      submittedAt: selected === undefined ? null : new Date(selected.at).toISOString(),
      entries: group.entries,
      lastSubmittedAt: group.lastSubmittedAt,
    });
  }
  return { mode, rules, rows };
}
