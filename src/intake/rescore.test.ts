import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { describeRescore } from "../cli/admin-rescore.js";
import { parseRules } from "../leaderboard/index.js";
import { blankResult, IntakeDb, type FinalFields } from "./db.js";
import { PredictionFiles } from "./predictions.js";
import { Rescores } from "./rescore.js";

/**
 * The organizer's side of a re-score on real SQLite: what is queued and what is refused (each with why),
 * old and new results, the rank changes, and the one transaction that applies them. The runner's side is
 * src/runner/rescore.test.ts (real engine).
 */
let dir: string;
let db: IntakeDb;
let files: PredictionFiles;
let rescores: Rescores;
const T0 = Date.UTC(2025, 2, 1, 12);
const RULES = parseRules({ direction: "higher", precision: 2 });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "proctor-rescore-"));
  db = new IntakeDb(join(dir, "intake.sqlite"));
  files = new PredictionFiles(join(dir, "predictions"));
  rescores = new Rescores(db, () => new Date(T0 + 10_000), files);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const scored = (score: number): FinalFields => ({
  ...blankResult({ status: "succeeded", reason: "scored", finishedAt: new Date(T0).toISOString() }),
  publicScore: score,
});
let n = 0;
/** A submission of `participant` that scored `score`; `kept`: its predictions were kept. */
function submission(participant: string, score: number, kept = true): string {
  n += 1;
  const id = `sub-${String(n).padStart(22, "0")}`;
  db.insertSubmission({
    id,
    participant,
    cpuOrGpu: "cpu",
    zipSha256: "ab".repeat(32),
    zipBytes: 1,
    submittedAtMs: T0 + n,
  });
  db.claimById(id, 1, { sha256: "t", by: "r", nowMs: T0, leaseMs: 30_000 });
  if (kept) {
    expect(db.recordPredictions(id, 1, { sha256: "c".repeat(64), bytes: 3 }, "t")).toBe(true);
    writeFileSync(files.file(id, 1), "tar");
  }
  expect(db.finalize(id, 1, scored(score), { claimSha256: "t" })).toBe(true);
  return id;
}

/** A runner's re-score of the submission's current attempt. */
function rescored(id: string, result: FinalFields): void {
  const r = db.getSubmission(id)!;
  db.claimById(id, r.attempt, { sha256: "u", by: "r", nowMs: T0, leaseMs: 30_000, jobs: ["rescore"] });
  expect(db.finalize(id, r.attempt, result, { claimSha256: "u" }, "rescored")).toBe(true);
}

describe("rescores", () => {
  it("shows old and new and the rank changes, applies nothing until asked, then all in one go", () => {
    const ada = submission("ada", 0.9);
    const bob = submission("bob", 0.8);
    const { jobs, skipped } = rescores.queue({});
    expect(skipped).toEqual([]);
    expect(jobs.map((j) => [j.submission_id, j.attempt, j.of_attempt])).toEqual([
      [ada, 2, 1],
      [bob, 2, 1],
    ]);
    expect(rescores.results(jobs).map((r) => r.progress)).toEqual(["waiting", "waiting"]);
    // The organizers' re-scores never count as the participants' active runs (max_active_runs).
    expect(db.countActive("ada")).toBe(0);

    rescored(ada, scored(0.7));
    rescored(bob, scored(0.85));
    const results = rescores.results(jobs);
    expect(results[0]).toMatchObject({
      progress: "done",
      applicable: true,
      old: { status: "succeeded", public_score: 0.9, attempt: 1 },
      new: { status: "succeeded", public_score: 0.7 },
    });
    const changes = rescores.rankChanges(results, RULES);
    expect(changes).toEqual([
      { phase: null, participant: "bob", before: 2, after: 1 },
      { phase: null, participant: "ada", before: 1, after: 2 },
    ]);
    const version = db.resultsVersion();
    // Nothing applied yet: the standing scores are the old ones.
    expect(db.getSubmission(ada)).toMatchObject({ publicScore: 0.9, standingAttempt: 1 });
    expect(
      describeRescore({ dry_run: true, jobs: results, skipped, rank_changes: changes, applied: [] }, 2, 1000),
    ).toBe(
      [
        `${ada}  "ada"  succeeded 0.90 -> succeeded 0.70`,
        `${bob}  "bob"  succeeded 0.80 -> succeeded 0.85`,
        `rank changes: "bob" 2 -> 1; "ada" 1 -> 2`,
        "dry run: nothing applied (2 re-score(s) could be; each is recorded on its own attempt, and the " +
          "leaderboard is unchanged)",
      ].join("\n"),
    );

    expect(rescores.apply(results)).toEqual([ada, bob]);
    expect(db.getSubmission(ada)).toMatchObject({ publicScore: 0.7, standingAttempt: 2 });
    expect(db.getSubmission(bob)).toMatchObject({ publicScore: 0.85, standingAttempt: 2 });
    expect(db.resultsVersion()).toBe(version + 1);
  });

  it("says per submission why it was not re-scored: none kept, the file gone, under way, unscored, unknown", async () => {
    const bare = submission("cy", 0.5, false);
    const gone = submission("dee", 0.5);
    await files.remove(gone, 1);
    const busy = submission("eve", 0.5);
    expect(db.rerun(busy, T0 + 5)).toBe(true);
    const failed = submission("fay", 0.5);
    expect(db.rerun(failed, T0 + 6)).toBe(true);
    expect(db.finalize(failed, 2, blankResult({ status: "failed", reason: "exit 1", finishedAt: "x" }))).toBe(
      true,
    );
    const { jobs, skipped } = rescores.queue({ ids: [bare, gone, busy, "nope"] });
    expect(jobs).toEqual([]);
    const why = Object.fromEntries(skipped.map((s) => [s.submission_id, s.reason]));
    expect(why[bare]).toMatch(
      /attempt 1 \(whose result stands\) left no predictions on the gateway.*proctor admin rerun/,
    );
    expect(why[gone]).toMatch(/the predictions of attempt 1 are missing from .*\.1\.tar.*restore the file/);
    expect(why[busy]).toMatch(/attempt 2 of it is queued: re-score it when that ends/);
    expect(why["nope"]).toBe('no submission "nope"');
    // The failed re-run left the earlier score standing: that one can still be re-scored.
    expect(rescores.queue({ ids: [failed] }).jobs).toHaveLength(1);
  });

  it("never applies a scorer's failure, nor a re-score that something happened to since", () => {
    const ada = submission("ada", 0.9);
    const bob = submission("bob", 0.8);
    const { jobs } = rescores.queue({ ids: [ada, bob] });
    rescored(ada, blankResult({ status: "scorer_failed", reason: "the scorer exited 3", finishedAt: "x" }));
    rescored(bob, scored(0.1));
    const results = rescores.results(jobs);
    expect(results.map((r) => r.applicable)).toEqual([false, true]);
    expect(
      describeRescore({ dry_run: false, jobs: results, skipped: [], rank_changes: [], applied: [] }, 2, 0),
    ).toContain("(never applied: the scorer exited 3; the old result stands)");
    expect(db.rerun(bob, T0 + 20)).toBe(true); // the program runs again meanwhile
    expect(rescores.results(jobs)[1]).toMatchObject({ progress: "superseded", applicable: false });
    expect(rescores.apply(rescores.results(jobs))).toEqual([]);
    expect(db.getSubmission(ada)).toMatchObject({ publicScore: 0.9, standingAttempt: 1 });
    expect(db.getSubmission(bob)).toMatchObject({ publicScore: 0.8, standingAttempt: 1 });
  });
});
