import { describe, expect, it } from "vitest";
import type { LeaderboardEntry } from "./entry.js";
import { RankingError, formatScore, rankEntries } from "./ranking.js";
import { parseRules, type LeaderboardRulesInput } from "./rules.js";
import { makeEntry, makeFailed } from "./test-support/entries.js";

const at = (day: number, hour = 12) => new Date(Date.UTC(2025, 2, day, hour)).toISOString();
const rules = (input: Partial<LeaderboardRulesInput> = {}) => parseRules({ direction: "higher", ...input });
const order = (entries: LeaderboardEntry[], r = rules()) =>
  rankEntries(entries, r).rows.map((row) => [row.rank, row.participant, row.score]);

describe("rankEntries", () => {
  const history = [
    makeEntry({ participant: "alice", publicScore: 0.9, submittedAt: at(1) }),
    makeEntry({ participant: "alice", publicScore: 0.7, submittedAt: at(3) }),
    makeEntry({ participant: "bob", publicScore: 0.8, submittedAt: at(1) }),
    makeEntry({ participant: "bob", publicScore: 0.85, submittedAt: at(2) }),
  ];

  it("selection best: each participant's best public score", () => {
    expect(order(history)).toEqual([
      [1, "alice", 0.9],
      [2, "bob", 0.85],
    ]);
  });

  it("selection latest: each participant's latest scored entry", () => {
    expect(order(history, rules({ selection: "latest" }))).toEqual([
      [1, "bob", 0.85],
      [2, "alice", 0.7],
    ]);
  });

  it("direction lower: the smallest score wins, and best selection picks each one's lowest", () => {
    expect(order(history, rules({ direction: "lower" }))).toEqual([
      [1, "alice", 0.7],
      [2, "bob", 0.8],
    ]);
  });

  it("ties at the shown precision go to the earlier submission; full ties share a rank (1224)", () => {
    const entries = [
      makeEntry({ participant: "late", publicScore: 0.95004, submittedAt: at(2) }),
      makeEntry({ participant: "early", publicScore: 0.95001, submittedAt: at(1) }),
      makeEntry({ participant: "same-b", publicScore: 0.5, submittedAt: at(1) }),
      makeEntry({ participant: "same-a", publicScore: 0.5, submittedAt: at(1) }),
      makeEntry({ participant: "last", publicScore: 0.1, submittedAt: at(1) }),
    ];
    // Public standings show scores at the shown precision only.
    expect(order(entries, rules({ precision: 4 }))).toEqual([
      [1, "early", 0.95],
      [2, "late", 0.95],
      [3, "same-a", 0.5],
      [3, "same-b", 0.5],
      [5, "last", 0.1],
    ]);
    // At more decimals the higher score wins outright.
    expect(order(entries, rules({ precision: 5 })).slice(0, 2)).toEqual([
      [1, "late", 0.95004],
      [2, "early", 0.95001],
    ]);
  });

  it("within one participant, best selection keeps the earlier of two equal scores", () => {
    const first = makeEntry({ participant: "a", publicScore: 0.5, submittedAt: at(1) });
    const again = makeEntry({ participant: "a", publicScore: 0.5, submittedAt: at(2) });
    expect(rankEntries([again, first], rules()).rows[0]!.submissionId).toBe(first.submissionId);
  });

  it("lists participants whose runs all failed after the ranked ones, unranked", () => {
    const entries = [
      makeFailed({ participant: "zed", submittedAt: at(5) }),
      makeFailed({ participant: "carol", status: "timed_out", submittedAt: at(4) }),
      makeEntry({ participant: "carol", status: "scoring_failed", publicScore: null, submittedAt: at(6) }),
      makeEntry({ participant: "bob", publicScore: 0.1, submittedAt: at(1) }),
      makeFailed({ participant: "bob", submittedAt: at(9) }),
    ];
    const { rows } = rankEntries(entries, rules());
    expect(rows.map((r) => [r.rank, r.participant, r.scoreText, r.entries])).toEqual([
      [1, "bob", "0.1000", 2],
      [null, "carol", "", 2],
      [null, "zed", "", 1],
    ]);
    expect(rows[0]!.lastSubmittedAt).toBe(at(9)); // a failed run is still a submission
  });

  it("never counts infrastructure errors: not as entries, not as last submission, not as a participant", () => {
    const entries = [
      makeEntry({ participant: "alice", publicScore: 0.5, submittedAt: at(1) }),
      makeFailed({ participant: "alice", status: "infrastructure_error", submittedAt: at(8) }),
      makeFailed({ participant: "ghost", status: "infrastructure_error", submittedAt: at(8) }),
    ];
    const { rows } = rankEntries(entries, rules());
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ participant: "alice", entries: 1, lastSubmittedAt: at(1) });
  });

  it("private mode ranks each participant's publicly selected entry by its revealed private score", () => {
    const entries = [
      makeEntry({ participant: "alice", publicScore: 0.9, privateScore: 0.6, submittedAt: at(1) }),
      // alice's better private score is on an entry her public scores would not pick: it does not count
      makeEntry({ participant: "alice", publicScore: 0.8, privateScore: 0.99, submittedAt: at(2) }),
      makeEntry({ participant: "bob", publicScore: 0.85, privateScore: 0.7, submittedAt: at(1) }),
      makeEntry({ participant: "carol", publicScore: 0.5, privateScore: null, submittedAt: at(1) }),
    ];
    const standings = rankEntries(entries, rules(), { mode: "private" });
    expect(
      standings.rows.map((r) => [r.rank, r.participant, r.score, r.publicScore, r.privateScore]),
    ).toEqual([
      [1, "bob", 0.7, 0.85, 0.7],
      [2, "alice", 0.6, 0.9, 0.6],
      [null, "carol", null, 0.5, null],
    ]);
    // Public mode never carries private scores, even from revealed entries.
    expect(rankEntries(entries, rules()).rows.every((r) => r.privateScore === null)).toBe(true);
  });

  it("private mode refuses entries whose private score is still sealed", () => {
    const entries = [makeEntry({ submissionId: "s9", sealedPrivateScore: "pscore.v1.x" })];
    expect(() => rankEntries(entries, rules(), { mode: "private" })).toThrow(RankingError);
    expect(() => rankEntries(entries, rules(), { mode: "private" })).toThrow(/"s9".*reveal/);
  });

  it("handles an empty board", () => {
    expect(rankEntries([], rules()).rows).toEqual([]);
  });
});

describe("formatScore", () => {
  it("shows the configured decimals and no negative zero", () => {
    expect(formatScore(0.123456, 4)).toBe("0.1235");
    expect(formatScore(3, 2)).toBe("3.00");
    expect(formatScore(-0.00001, 3)).toBe("0.000");
    expect(formatScore(-1.5, 0)).toBe("-2");
  });
});
