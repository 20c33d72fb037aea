import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { QUOTA_CASES } from "../leaderboard/test-support/entries.js";
import { IntakeDb } from "./db.js";

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

describe("IntakeDb.countForQuota", () => {
  it.each(QUOTA_CASES)(
    "$status: a final submission counts as the leaderboard's rule says",
    ({ status, counts }) => {
      const id = submit("q");
      submit("other");
      expect(
        db.finalize(id, 1, {
          status,
          reason: "",
          publicScore: null,
          sealedPrivateScore: null,
          durationMs: 1,
          imageDigest: "",
          stdout: null,
          stderr: null,
          problems: [],
          usage: null,
          resultsJson: null,
          finishedAt: new Date().toISOString(),
        }),
      ).toBe(true);
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
