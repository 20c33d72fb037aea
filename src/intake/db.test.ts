import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { QUOTA_CASES } from "../leaderboard/test-support/entries.js";
import { INTAKE_SCHEMA_VERSION, IntakeDb, blankResult, type FinalFields } from "./db.js";

let dir: string;
let db: IntakeDb;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "proctor-intake-db-"));
  db = new IntakeDb(join(dir, "intake.sqlite"));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
function submit(participant: string, submittedAtMs = Date.UTC(2025, 2, 1, 12)): string {
  n += 1;
  const id = `s-${n}`;
  db.insertSubmission({
    id,
    participant,
    cpuOrGpu: "cpu",
    zipSha256: "ab".repeat(32),
    zipBytes: 10,
    submittedAtMs,
  });
  return id;
}

/** A run's final fields, blank but for `fields`. */
const final = (fields: Partial<FinalFields> = {}): FinalFields =>
  blankResult({
    status: "output_invalid",
    reason: "",
    durationMs: 1,
    finishedAt: new Date().toISOString(),
    ...fields,
  });

describe("IntakeDb.countForQuota", () => {
  it.each(QUOTA_CASES)(
    "$status: a final submission counts as the leaderboard's rule says",
    ({ status, counts }) => {
      const id = submit("q");
      submit("other");
      expect(db.finalize(id, 1, final({ status }))).toBe(true);
      expect(db.countForQuota("q", undefined, false)).toBe(counts.strict ? 1 : 0);
      expect(db.countForQuota("q", undefined, true)).toBe(counts.countFailed ? 1 : 0);
    },
  );

  it("counts queued and running submissions (they may succeed), from `since` on", () => {
    submit("q", Date.UTC(2025, 2, 1));
    const running = submit("q", Date.UTC(2025, 2, 2));
    expect(db.markRunning(running, 1, Date.UTC(2025, 2, 2))).toBe(true);
    expect(db.countForQuota("q", undefined, false)).toBe(2);
    expect(db.countForQuota("q", Date.UTC(2025, 2, 2), false)).toBe(1);
    expect(db.countForQuota("nobody", undefined, true)).toBe(0);
  });
});

/** What schemas 10 (re-scoring) and 11 (claim_used) added, dropped again to make an older file. */
const DROP_RESCORE_COLUMNS = ["job", "rescore_of", "scorer_digest", "ground_truth_digest", "claim_used"]
  .map((c) => `ALTER TABLE submissions DROP COLUMN ${c};`)
  .join(" ");
const DROP_RESCORE_ATTEMPT_COLUMNS = [
  "job",
  "rescore_of",
  "predictions_sha256",
  "predictions_bytes",
  "scorer_digest",
  "ground_truth_digest",
  "problems",
  "problem_counts",
]
  .map((c) => `ALTER TABLE submission_attempts DROP COLUMN ${c};`)
  .join(" ");

describe("IntakeDb diagnosis", () => {
  it("keeps the run's diagnosis with its standing result, through a re-run until the re-run's result stands", () => {
    const id = submit("d");
    expect(db.finalize(id, 1, final({ diagnosis: { exitCode: 0, problemCounts: { header: 2 } } }))).toBe(
      true,
    );
    expect(db.getSubmission(id)!.diagnosis).toEqual({ exitCode: 0, problemCounts: { header: 2 } });
    expect(db.rerun(id, Date.now())).toBe(true);
    expect(db.getSubmission(id)!.diagnosis).toEqual({ exitCode: 0, problemCounts: { header: 2 } });
    expect(db.finalize(id, 2, final())).toBe(true);
    expect(db.getSubmission(id)!.diagnosis).toBeNull();
  });

  it("upgrades a file of the schema before it, keeping its submissions (no claims: queued where submitted)", () => {
    const id = submit("old", Date.UTC(2025, 2, 1, 9));
    db.close();
    const raw = new Database(join(dir, "intake.sqlite"));
    raw.exec(
      `DROP TABLE submission_attempts; ALTER TABLE submissions DROP COLUMN run_first_attempt;
       ALTER TABLE submissions DROP COLUMN standing_attempt;
       ALTER TABLE submissions ADD COLUMN history TEXT NOT NULL DEFAULT '[]';
       DROP INDEX submissions_queue;
       ALTER TABLE submissions DROP COLUMN queued_at_ms; ALTER TABLE submissions DROP COLUMN claim_sha256;
       ALTER TABLE submissions DROP COLUMN claimed_by; ALTER TABLE submissions DROP COLUMN lease_expires_at_ms;
       ALTER TABLE submissions DROP COLUMN models_digest; ${DROP_RESCORE_COLUMNS}`,
    );
    raw.pragma("user_version = 6");
    raw.close();
    db = new IntakeDb(join(dir, "intake.sqlite"));
    expect(db.getSubmission(id)).toMatchObject({
      participant: "old",
      queuedAtMs: Date.UTC(2025, 2, 1, 9),
      claimSha256: null,
    });
    expect(db.finalize(id, 1, final({ diagnosis: { exitCode: 3, problemCounts: {} } }))).toBe(true);
    expect(db.getSubmission(id)!.diagnosis).toEqual({ exitCode: 3, problemCounts: {} });
  });
});

describe("IntakeDb claim use (schema 11)", () => {
  it("upgrades a version-10 file: a claim held at the upgrade counts as used, so losing it costs a try", () => {
    const held = submit("held");
    const queued = submit("queued");
    const claim = { sha256: "h", by: "r/h", nowMs: 1_000, leaseMs: 30_000, jobs: ["run" as const] };
    expect(db.claimById(held, 1, claim)).toBeDefined();
    db.close();
    const raw = new Database(join(dir, "intake.sqlite"));
    raw.exec("ALTER TABLE submissions DROP COLUMN claim_used;");
    raw.pragma("user_version = 10");
    raw.close();
    db = new IntakeDb(join(dir, "intake.sqlite"));
    const lost = { claimSha256: "h", leaseOverAtMs: 60_000 };
    expect(db.unclaim(held, 1, lost)).toBe(false);
    expect(db.requeue(held, 1, { reason: "lost", nowMs: 60_000 }, lost)).toBe(true);
    expect(db.getSubmission(held)).toMatchObject({ state: "queued", attempt: 2 });
    // A claim made after the upgrade starts unused.
    expect(db.claimById(queued, 1, { ...claim, sha256: "q" })).toBeDefined();
    expect(db.unclaim(queued, 1, { claimSha256: "q", leaseOverAtMs: 60_000 })).toBe(true);
    expect(db.getSubmission(queued)).toMatchObject({ state: "queued", attempt: 1, claimSha256: null });
  });
});

describe("IntakeDb re-scoring columns (schema 10)", () => {
  it("upgrades a version-9 file: every attempt was a run, none left predictions or said what scored it", () => {
    const id = submit("old");
    expect(db.finalize(id, 1, final({ status: "succeeded" }))).toBe(true);
    db.close();
    const raw = new Database(join(dir, "intake.sqlite"));
    raw.exec(`${DROP_RESCORE_COLUMNS} ${DROP_RESCORE_ATTEMPT_COLUMNS}`);
    raw.pragma("user_version = 9");
    raw.close();
    db = new IntakeDb(join(dir, "intake.sqlite"));
    expect(db.getSubmission(id)).toMatchObject({
      job: "run",
      rescoreOf: null,
      scorerDigest: null,
      groundTruthDigest: null,
      attempts: [{ job: "run", predictionsSha256: null, scorerDigest: null, groundTruthDigest: null }],
    });
    // Nothing kept: it cannot be re-scored, only run again.
    expect(db.rescore(id, Date.now())).toBe(false);
  });
});

describe("IntakeDb models digest", () => {
  const models = (c: string) => `sha256:${c.repeat(64)}`;

  it("keeps the models a run had with its standing result and with each attempt; null where it had none", () => {
    const id = submit("m");
    expect(db.finalize(id, 1, final({ status: "succeeded", modelsDigest: models("a") }))).toBe(true);
    expect(db.getSubmission(id)).toMatchObject({
      modelsDigest: models("a"),
      attempts: [{ modelsDigest: models("a") }],
    });
    // A re-run's failure does not take the standing place: the scored run's models stay with its score.
    expect(db.rerun(id, Date.now())).toBe(true);
    expect(db.finalize(id, 2, final({ status: "failed" }))).toBe(true);
    const record = db.getSubmission(id)!;
    expect([record.standingAttempt, record.modelsDigest]).toEqual([1, models("a")]);
    expect(record.attempts.map((a) => a.modelsDigest)).toEqual([models("a"), null]);
    const none = submit("m");
    expect(db.finalize(none, 1, final())).toBe(true);
    expect(db.getSubmission(none)!.modelsDigest).toBeNull();
  });

  it("upgrades a version-8 file: its results and attempts have no models recorded, new ones do", () => {
    const old = submit("old");
    expect(db.finalize(old, 1, final({ status: "succeeded" }))).toBe(true);
    const queued = submit("old");
    db.close();
    const raw = new Database(join(dir, "intake.sqlite"));
    raw.exec(
      `ALTER TABLE submissions DROP COLUMN models_digest;
       ALTER TABLE submission_attempts DROP COLUMN models_digest; ${DROP_RESCORE_COLUMNS}
       ${DROP_RESCORE_ATTEMPT_COLUMNS}`,
    );
    raw.pragma("user_version = 8");
    raw.close();
    db = new IntakeDb(join(dir, "intake.sqlite"));
    const reopened = new Database(join(dir, "intake.sqlite"), { readonly: true });
    expect(reopened.pragma("user_version", { simple: true })).toBe(INTAKE_SCHEMA_VERSION);
    reopened.close();
    expect(db.getSubmission(old)).toMatchObject({
      status: "succeeded",
      modelsDigest: null,
      attempts: [{ status: "succeeded", modelsDigest: null }],
    });
    expect(db.finalize(queued, 1, final({ status: "succeeded", modelsDigest: models("b") }))).toBe(true);
    expect(db.getSubmission(queued)).toMatchObject({
      modelsDigest: models("b"),
      attempts: [{ modelsDigest: models("b") }],
    });
  });
});
