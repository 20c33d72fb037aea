import { describe, expect, it } from "vitest";
import {
  checkDrain,
  drainProblems,
  type BoardRow,
  type Listed,
  type ParticipantList,
} from "./drain-check.js";

const scored = (id: string, attempt = 1): Listed => ({
  submission_id: id,
  state: "final",
  status: "succeeded",
  public_score: 0.5,
  attempt,
});

/** a uploads s1, s2; b uploads s3. */
const uploaded = [
  { id: "s1", participant: "a" },
  { id: "s2", participant: "a" },
  { id: "s3", participant: "b" },
];
const cleanLists = (): ParticipantList[] => [
  { participant: "a", submissions: [scored("s1"), scored("s2")], usedTotal: 2 },
  { participant: "b", submissions: [scored("s3")], usedTotal: 1 },
];
const cleanBoard = (): BoardRow[] => [
  { participant: "a", entries: 2 },
  { participant: "b", entries: 1 },
];

describe("checkDrain", () => {
  it("finds nothing wrong with a clean drain, and counts the scored and the retried", () => {
    const lists = cleanLists();
    lists[1]!.submissions[0] = scored("s3", 2);
    const check = checkDrain(uploaded, lists, cleanBoard());
    expect(check.scored).toBe(3);
    expect(check.retried).toBe(1);
    expect(drainProblems(check)).toEqual([]);
  });

  it("reports a submission uploaded but listed nowhere as lost", () => {
    const lists = cleanLists();
    lists[0]!.submissions.pop();
    const check = checkDrain(uploaded, lists, cleanBoard());
    expect(check.lost).toEqual(["s2"]);
    expect(check.scored).toBe(2);
    expect(drainProblems(check)).toContain("lost: 1 (s2)");
  });

  it("reports a submission listed twice, in one list or in two, as duplicated (once)", () => {
    const twiceInOne = cleanLists();
    twiceInOne[0]!.submissions.push(scored("s1"), scored("s1"));
    expect(checkDrain(uploaded, twiceInOne, cleanBoard()).duplicated).toEqual(["s1"]);
    const inTwo = cleanLists();
    inTwo[1]!.submissions.push(scored("s1"));
    const check = checkDrain(uploaded, inTwo, cleanBoard());
    expect(check.duplicated).toEqual(["s1"]);
    // The first listing counts; the copy is not scored twice.
    expect(check.scored).toBe(3);
  });

  it("reports an id never uploaded, or listed under another participant, as unknown", () => {
    const lists = cleanLists();
    lists[1]!.submissions.push(scored("s9"));
    lists[1]!.submissions.push({ ...scored("s2"), submission_id: "s2" });
    lists[0]!.submissions.pop();
    const check = checkDrain(uploaded, lists, cleanBoard());
    expect(check.unknown).toEqual(["s9", "s2"]);
  });

  it("reports what did not end scored: a failure, a run still going, a success without a score", () => {
    const lists = cleanLists();
    lists[0]!.submissions = [
      { ...scored("s1"), status: "failed", public_score: null },
      { ...scored("s2"), state: "running", status: null, public_score: null },
    ];
    lists[1]!.submissions = [{ ...scored("s3"), public_score: null }];
    const check = checkDrain(uploaded, lists, cleanBoard());
    expect(check.unscored).toEqual(["s1 final failed", "s2 running -", "s3 final succeeded"]);
    expect(check.scored).toBe(0);
  });

  it("reports a participant whose limits counted other than their uploads (an attempt counted twice)", () => {
    const lists = cleanLists();
    lists[1]!.usedTotal = 2;
    expect(checkDrain(uploaded, lists, cleanBoard()).miscounted).toEqual(["b: counted 2, uploaded 1"]);
  });

  it("reports leaderboard rows missing, repeated, miscounting, or of no one who uploaded", () => {
    const board: BoardRow[] = [
      { participant: "a", entries: 3 },
      { participant: "a", entries: 2 },
      { participant: "z", entries: 1 },
    ];
    expect(checkDrain(uploaded, cleanLists(), board).board).toEqual([
      "a: more than one row",
      "b: no row",
      "z: a row, but no uploads",
    ]);
    expect(
      checkDrain(uploaded, cleanLists(), [{ participant: "a", entries: 3 }, cleanBoard()[1]!]).board,
    ).toEqual(["a: 3 entries, uploaded 2"]);
  });
});

describe("drainProblems", () => {
  it("says each kind once, with at most five examples", () => {
    const many = Array.from({ length: 7 }, (_, i) => ({ id: `x${i}`, participant: "p" }));
    const lines = drainProblems(checkDrain(many, [{ participant: "p", submissions: [], usedTotal: 0 }], []));
    expect(lines).toEqual([
      "lost: 7 (x0; x1; x2; x3; x4; …)",
      "counted wrong: 1 (p: counted 0, uploaded 7)",
      "leaderboard: 1 (p: no row)",
    ]);
  });
});
