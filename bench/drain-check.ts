/**
 * What `npm run bench runners` checks once a queue is drained: every uploaded submission scored exactly
 * once, as its participant and the leaderboard see it. None lost (uploaded, never listed), none duplicated
 * (listed twice), none unknown (listed, never uploaded), each counted once against its participant's
 * limits however many attempts it took, and one leaderboard row per participant counting each of their
 * entries once.
 */

export interface Uploaded {
  id: string;
  participant: string;
}

/** One submission as its participant's list shows it (the contract's SubmissionView, the fields used). */
export interface Listed {
  submission_id: string;
  state: string;
  status: string | null;
  public_score: number | null;
  attempt: number;
}

export interface ParticipantList {
  participant: string;
  submissions: Listed[];
  /** The quota's used_total: how many submissions counted. */
  usedTotal: number;
}

/** A leaderboard row (the public JSON's participant and entries). */
export interface BoardRow {
  participant: string;
  entries: number;
}

export interface DrainCheck {
  /** Listed once, final, succeeded, with a score. */
  scored: number;
  lost: string[];
  duplicated: string[];
  unknown: string[];
  /** Listed, but not final with a score: `<id> <state> <status>`. */
  unscored: string[];
  /** `<participant>: counted N, uploaded M`. */
  miscounted: string[];
  /** Leaderboard rows missing, repeated, or counting entries other than the participant's uploads. */
  board: string[];
  /** Submissions that took more than one attempt (a lost runner's, given back). */
  retried: number;
}

export function checkDrain(uploaded: Uploaded[], lists: ParticipantList[], board: BoardRow[]): DrainCheck {
  const owner = new Map(uploaded.map((u) => [u.id, u.participant]));
  const perParticipant = new Map<string, number>();
  for (const u of uploaded) perParticipant.set(u.participant, (perParticipant.get(u.participant) ?? 0) + 1);

  const seen = new Map<string, number>();
  const check: DrainCheck = {
    scored: 0,
    lost: [],
    duplicated: [],
    unknown: [],
    unscored: [],
    miscounted: [],
    board: [],
    retried: 0,
  };
  for (const list of lists) {
    for (const s of list.submissions) {
      const times = (seen.get(s.submission_id) ?? 0) + 1;
      seen.set(s.submission_id, times);
      if (times === 2) check.duplicated.push(s.submission_id);
      if (times > 1) continue;
      if (owner.get(s.submission_id) !== list.participant) {
        check.unknown.push(s.submission_id);
        continue;
      }
      if (s.attempt > 1) check.retried += 1;
      if (s.state === "final" && s.status === "succeeded" && s.public_score !== null) check.scored += 1;
      else check.unscored.push(`${s.submission_id} ${s.state} ${s.status ?? "-"}`);
    }
    const expected = perParticipant.get(list.participant) ?? 0;
    if (list.usedTotal !== expected)
      check.miscounted.push(`${list.participant}: counted ${list.usedTotal}, uploaded ${expected}`);
  }
  check.lost = uploaded.filter((u) => !seen.has(u.id)).map((u) => u.id);

  const rows = new Map<string, number>();
  for (const row of board) {
    if (rows.has(row.participant)) check.board.push(`${row.participant}: more than one row`);
    rows.set(row.participant, row.entries);
  }
  for (const [participant, expected] of perParticipant) {
    const entries = rows.get(participant);
    if (entries === undefined) check.board.push(`${participant}: no row`);
    else if (entries !== expected)
      check.board.push(`${participant}: ${entries} entries, uploaded ${expected}`);
  }
  for (const participant of rows.keys())
    if (!perParticipant.has(participant)) check.board.push(`${participant}: a row, but no uploads`);
  return check;
}

/** One line per kind of problem (at most 5 examples each); [] when the drain was clean. */
export function drainProblems(check: DrainCheck): string[] {
  const kinds: [string, string[]][] = [
    ["lost", check.lost],
    ["duplicated", check.duplicated],
    ["unknown", check.unknown],
    ["not scored", check.unscored],
    ["counted wrong", check.miscounted],
    ["leaderboard", check.board],
  ];
  return kinds
    .filter(([, items]) => items.length > 0)
    .map(
      ([what, items]) =>
        `${what}: ${items.length} (${items.slice(0, 5).join("; ")}${items.length > 5 ? "; …" : ""})`,
    );
}
