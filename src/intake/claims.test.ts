import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { blankResult, IntakeDb } from "./db.js";

/** The claim SQL of db.ts on a real SQLite file: each transition one guarded UPDATE, each race one winner. */
let dir: string;
let db: IntakeDb;
let other: IntakeDb;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "proctor-claims-"));
  db = new IntakeDb(join(dir, "intake.sqlite"));
  // A second connection to the same file, as a second gateway process (or `proctor admin`) would hold.
  other = new IntakeDb(join(dir, "intake.sqlite"));
});
afterEach(() => {
  db.close();
  other.close();
  rmSync(dir, { recursive: true, force: true });
});

const T0 = Date.UTC(2025, 2, 1, 12);
let n = 0;
function submit(kind: "cpu" | "gpu" = "cpu", at = T0 + n): string {
  n += 1;
  const id = `s-${String(n).padStart(3, "0")}`;
  db.insertSubmission({
    id,
    participant: "p",
    cpuOrGpu: kind,
    zipSha256: "ab".repeat(32),
    zipBytes: 1,
    submittedAtMs: at,
  });
  return id;
}
const claim = (sha256: string, nowMs = T0) => ({ sha256, by: `r/${sha256}`, nowMs, leaseMs: 30_000 });
const final = () =>
  blankResult({ status: "failed", reason: "exit 1", finishedAt: new Date(T0).toISOString() });

describe("claimNext", () => {
  it("hands each queued submission of the kind to one claim, oldest first, over two connections", () => {
    const later = submit("cpu", T0 + 10);
    const first = submit("cpu", T0);
    submit("gpu", T0 - 5);
    const a = db.claimNext("cpu", claim("a"));
    const b = other.claimNext("cpu", claim("b"));
    expect([a?.id, b?.id]).toEqual([first, later]);
    expect(db.claimNext("cpu", claim("c"))).toBeUndefined();
    expect(db.getSubmission(first)).toMatchObject({
      state: "running",
      claimSha256: "a",
      claimedBy: "r/a",
      leaseExpiresAtMs: T0 + 30_000,
      startedAtMs: T0,
    });
  });

  it("a claim by id wins once; a second claim of the same attempt, or of another attempt, gets nothing", () => {
    const id = submit();
    expect(db.claimById(id, 2, claim("x"))).toBeUndefined();
    expect(db.claimById(id, 1, claim("a"))?.claimSha256).toBe("a");
    expect(other.claimById(id, 1, claim("b"))).toBeUndefined();
    expect(db.claimNext("cpu", claim("c"))).toBeUndefined();
  });
});

describe("the fence", () => {
  it("a report from a claim that lost its lease is refused: the sweeper queued the next attempt first", () => {
    const id = submit();
    db.claimNext("cpu", claim("a"));
    expect(db.requeue(id, 1, { reason: "lost", nowMs: T0 + 40_000 }, { leaseOverAtMs: T0 + 40_000 })).toBe(
      true,
    );
    // The lost runner reports attempt 1 with its claim: nothing is written.
    expect(db.finalize(id, 1, final(), { claimSha256: "a" })).toBe(false);
    expect(db.heartbeat(id, 1, "a", T0 + 70_000)).toBe(false);
    // Attempt 2 went back where the submission stood: before anything submitted after it.
    const newer = submit("cpu", T0 + 20_000);
    const again = db.claimNext("cpu", claim("b", T0 + 41_000));
    expect(again).toMatchObject({ id, attempt: 2, claimSha256: "b" });
    expect(db.getSubmission(newer)?.state).toBe("queued");
    expect(db.finalize(id, 2, final(), { claimSha256: "a" })).toBe(false);
    expect(db.finalize(id, 2, final(), { claimSha256: "b" })).toBe(true);
  });

  it("sweeper vs heartbeat: a heartbeat that lands between the sweeper's read and its update wins", () => {
    const id = submit();
    db.claimNext("cpu", claim("a"));
    const now = T0 + 31_000;
    expect(db.expiredLeases(now).map((r) => r.id)).toEqual([id]);
    expect(other.heartbeat(id, 1, "a", now + 30_000)).toBe(true);
    expect(db.requeue(id, 1, { reason: "lost", nowMs: now }, { leaseOverAtMs: now })).toBe(false);
    expect(db.finalize(id, 1, final(), { leaseOverAtMs: now })).toBe(false);
    expect(db.getSubmission(id)).toMatchObject({
      state: "running",
      attempt: 1,
      leaseExpiresAtMs: now + 30_000,
    });
    expect(db.expiredLeases(now)).toEqual([]);
  });

  it("cancel vs report: whichever lands first wins, the other changes nothing", () => {
    const cancelledFirst = submit();
    db.claimNext("cpu", claim("a"));
    expect(db.cancel(cancelledFirst, "participant", "t")).toBe(true);
    expect(other.finalize(cancelledFirst, 1, final(), { claimSha256: "a" })).toBe(false);
    expect(db.heartbeat(cancelledFirst, 1, "a", T0 + 1)).toBe(false);
    expect(db.getSubmission(cancelledFirst)).toMatchObject({ state: "cancelled", status: null });

    const reportedFirst = submit();
    db.claimNext("cpu", claim("b"));
    expect(other.finalize(reportedFirst, 1, final(), { claimSha256: "b" })).toBe(true);
    expect(db.cancel(reportedFirst, "participant", "t")).toBe(false);
    expect(db.getSubmission(reportedFirst)).toMatchObject({ state: "final", status: "failed" });
  });

  it("a cancelled run counts toward the limits once a runner started it; a cancelled queued one does not", () => {
    const queued = submit();
    const running = submit();
    db.claimById(running, 1, claim("a"));
    db.cancel(queued, "participant", "t");
    db.cancel(running, "participant", "t");
    expect(db.countForQuota("p", undefined, true)).toBe(1);
  });
});
