import Database from "better-sqlite3";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { blankResult, IntakeDb, type FinalFields, type SubmissionRecord } from "./db.js";
import {
  allowed,
  effect,
  EVENTS,
  renderTable,
  STATES,
  TRANSITIONS,
  TransitionRefusedError,
  transitionSql,
  type Concern,
  type Job,
  type State,
  type SubmissionEvent,
} from "./transitions.js";

/**
 * The transition table, as a specification written out by hand (every state × every event), checked
 * against the module and then against real SQLite: each allowed event moves the record as the table says
 * and writes the attempt's row; each refused one changes nothing. Then the races, over two connections.
 */
const EXPECTED: Record<SubmissionEvent, Partial<Record<State, State>>> = {
  claim: { queued: "running" },
  unclaim: { running: "queued" },
  start: { queued: "running" },
  heartbeat: { running: "running" },
  report: { queued: "final", running: "final" },
  retry: { queued: "queued", running: "queued" },
  give_up: { queued: "final", running: "final" },
  cancel: { queued: "cancelled", running: "cancelled" },
  rerun: { final: "queued", cancelled: "queued" },
  rescore: { final: "queued", cancelled: "queued" },
  rescored: { queued: "final", running: "final" },
  apply_rescore: { final: "final" },
};

/** Events for one job only (the table's guards): the other job's attempt refuses them. */
const ONLY: Partial<Record<SubmissionEvent, Job>> = {
  start: "run",
  report: "run",
  rescored: "rescore",
  apply_rescore: "rescore",
};

/** What each event does to each concern (the same for every state it is allowed in). */
const EFFECTS: Record<SubmissionEvent, Record<Concern, string>> = {
  claim: {
    lease: "set",
    claim: "set",
    attempt: "kept",
    job: "kept",
    "standing result": "kept",
    "queue place": "kept",
  },
  unclaim: {
    lease: "cleared",
    claim: "cleared",
    attempt: "kept",
    job: "kept",
    "standing result": "kept",
    "queue place": "kept",
  },
  start: {
    lease: "kept",
    claim: "kept",
    attempt: "kept",
    job: "kept",
    "standing result": "kept",
    "queue place": "kept",
  },
  heartbeat: {
    lease: "set",
    claim: "kept",
    attempt: "kept",
    job: "kept",
    "standing result": "kept",
    "queue place": "kept",
  },
  report: {
    lease: "cleared",
    claim: "kept",
    attempt: "kept",
    job: "kept",
    "standing result": "by the standing rule",
    "queue place": "kept",
  },
  retry: {
    lease: "cleared",
    claim: "cleared",
    attempt: "next",
    job: "kept",
    "standing result": "kept",
    "queue place": "kept",
  },
  give_up: {
    lease: "cleared",
    claim: "kept",
    attempt: "kept",
    job: "kept",
    "standing result": "by the standing rule",
    "queue place": "kept",
  },
  cancel: {
    lease: "cleared",
    claim: "kept",
    attempt: "kept",
    job: "kept",
    "standing result": "kept",
    "queue place": "kept",
  },
  rerun: {
    lease: "cleared",
    claim: "cleared",
    attempt: "next",
    job: "set",
    "standing result": "kept",
    "queue place": "set",
  },
  rescore: {
    lease: "cleared",
    claim: "cleared",
    attempt: "next",
    job: "set",
    "standing result": "kept",
    "queue place": "set",
  },
  rescored: {
    lease: "cleared",
    claim: "kept",
    attempt: "kept",
    job: "kept",
    "standing result": "kept",
    "queue place": "kept",
  },
  apply_rescore: {
    lease: "kept",
    claim: "kept",
    attempt: "kept",
    job: "kept",
    "standing result": "set",
    "queue place": "kept",
  },
};

const CONCERNS = Object.keys(EFFECTS.claim) as Concern[];

describe("the table", () => {
  it.each(EVENTS.flatMap((event) => STATES.map((state) => [event, state] as const)))(
    "%s from %s: allowed exactly where the specification says, to the state it says",
    (event, state) => {
      const to = EXPECTED[event][state];
      expect(allowed(state, event)).toBe(to !== undefined);
      if (to !== undefined) expect(TRANSITIONS[event].to).toBe(to);
    },
  );

  it.each(EVENTS)("%s sets, clears or keeps each concern as the specification says", (event) => {
    expect(Object.fromEntries(CONCERNS.map((c) => [c, effect(event, c)]))).toEqual(EFFECTS[event]);
  });

  it("makes each event's guarded UPDATE from its from-states, and refuses a missing fence", () => {
    expect(transitionSql("cancel")).toMatch(
      /^UPDATE submissions SET state = 'cancelled', .* WHERE id = @id AND state IN \('queued', 'running'\) RETURNING attempt$/,
    );
    expect(transitionSql("heartbeat", { attempt: true, claim: true })).toContain(
      "WHERE id = @id AND state IN ('running') AND attempt = @attempt AND claim_sha256 = @claim_sha256",
    );
    expect(transitionSql("retry", { attempt: true, leaseOver: true })).toContain(
      "AND lease_expires_at_ms < @lease_over_at_ms",
    );
    expect(() => transitionSql("heartbeat", { attempt: true })).toThrow(/needs the claim fence/);
    expect(() => transitionSql("report")).toThrow(/needs the attempt fence/);
    expect(() => transitionSql("rerun", { attempt: true })).toThrow(/takes no attempt fence/);
    expect(() => transitionSql("claim", { claim: true })).toThrow(/takes no claim fence/);
  });

  it("a refusal names the submission, its state, the event and the states it needs", () => {
    const error = new TransitionRefusedError("sub-x", "final", "cancel");
    expect(error.code).toBe("transition_refused");
    expect(error.message).toBe(
      'submission sub-x is final, and only a queued or running submission can take "cancel" (it is over: ' +
        "there is nothing to cancel)",
    );
  });

  it("docs/gateway.md shows the table as the module renders it", () => {
    const doc = readFileSync(new URL("../../docs/gateway.md", import.meta.url), "utf8");
    const section = /<!-- transitions:begin -->\n([\s\S]*?)\n<!-- transitions:end -->/.exec(doc);
    expect(section?.[1], "the table between the transitions markers of docs/gateway.md").toBe(renderTable());
  });
});

// ---- on real SQLite --------------------------------------------------------------------------------

let dir: string;
let db: IntakeDb;
let other: IntakeDb;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "proctor-transitions-"));
  db = new IntakeDb(join(dir, "intake.sqlite"));
  // A second connection to the same file: another gateway process, `proctor admin`, the sweeper's view.
  other = new IntakeDb(join(dir, "intake.sqlite"));
});
afterEach(() => {
  db.close();
  other.close();
  rmSync(dir, { recursive: true, force: true });
});

const T0 = Date.UTC(2025, 2, 1, 12);
const iso = (ms: number) => new Date(ms).toISOString();
let n = 0;
function submit(): string {
  n += 1;
  const id = `s-${String(n).padStart(4, "0")}`;
  db.insertSubmission({
    id,
    participant: "p",
    cpuOrGpu: "cpu",
    zipSha256: "ab".repeat(32),
    zipBytes: 1,
    submittedAtMs: T0 + n,
  });
  return id;
}
const BOTH: Job[] = ["run", "rescore"];
const claim = (sha256: string, nowMs = T0, jobs: Job[] = BOTH) => ({
  sha256,
  by: `r/${sha256}`,
  nowMs,
  leaseMs: 30_000,
  jobs,
});
const PREDICTIONS = { sha256: "c".repeat(64), bytes: 10 };
const scored = (score: number): FinalFields => ({
  ...blankResult({ status: "succeeded", reason: "scored", finishedAt: iso(T0) }),
  publicScore: score,
  durationMs: 5,
  imageDigest: "sha256:" + "d".repeat(64),
});
const failed = blankResult({ status: "failed", reason: "exit 1", finishedAt: iso(T0 + 1) });
const infra = blankResult({ status: "infrastructure_error", reason: "lost", finishedAt: iso(T0 + 2) });
const invalid = blankResult({
  status: "output_invalid",
  reason: "2 problems",
  finishedAt: iso(T0 + 4),
  problems: ["row 2: not a number"],
});
const get = (id: string) => db.getSubmission(id)!;

/**
 * How a submission got to its state: its upload; a re-run, or a re-score, of an attempt whose score of 0.5
 * stands (the state then is the re-run's, the re-score's).
 */
type Variant = "upload" | "rerun" | "rescore";
const VARIANTS: Variant[] = ["upload", "rerun", "rescore"];

/** A submission in `state` (every attempt a runner ran left predictions). */
function inState(state: State, variant: Variant = "upload"): string {
  const id = submit();
  if (variant !== "upload") {
    db.claimById(id, 1, claim("first"));
    expect(db.recordPredictions(id, 1, PREDICTIONS, "first")).toBe(true);
    expect(db.finalize(id, 1, scored(0.5), { claimSha256: "first" })).toBe(true);
    expect(variant === "rerun" ? db.rerun(id, T0 + 100) : db.rescore(id, T0 + 100)).toBe(true);
  }
  const attempt = get(id).attempt;
  if (state === "running" || state === "final") expect(db.claimById(id, attempt, claim("a"))).toBeDefined();
  if (state === "final") {
    if (variant === "rescore") {
      expect(db.finalize(id, attempt, scored(0.25), { claimSha256: "a" }, "rescored")).toBe(true);
    } else {
      expect(db.recordPredictions(id, attempt, PREDICTIONS, "a")).toBe(true);
      expect(db.finalize(id, attempt, failed, { claimSha256: "a" })).toBe(true);
    }
  }
  if (state === "cancelled") expect(db.cancel(id, "organizer", iso(T0 + 3))).toBe(true);
  expect(get(id).state).toBe(state);
  return id;
}

/** Applies `event` as its caller does (the claim's own token where one holds it). */
function apply(id: string, event: SubmissionEvent, nowMs = T0 + 1000): boolean {
  const r = get(id);
  const held = r.claimSha256 === null ? {} : { claimSha256: r.claimSha256 };
  switch (event) {
    case "claim":
      return db.claimById(id, undefined, claim("z", nowMs)) !== undefined;
    case "unclaim":
      return db.unclaim(id, r.attempt, {
        claimSha256: r.claimSha256 ?? "none",
        leaseOverAtMs: nowMs + 60_000,
      });
    case "start":
      return db.markRunning(id, r.attempt, nowMs);
    case "heartbeat":
      return db.heartbeat(id, r.attempt, r.claimSha256 ?? "none", nowMs + 30_000);
    case "report":
      return db.finalize(id, r.attempt, failed, held);
    case "retry":
      return db.requeue(id, r.attempt, { reason: "lost", nowMs }, held);
    case "give_up":
      return db.finalize(id, r.attempt, infra, held, "give_up");
    case "cancel":
      return db.cancel(id, "participant", iso(nowMs));
    case "rerun":
      return db.rerun(id, nowMs);
    case "rescore":
      return db.rescore(id, nowMs);
    case "rescored":
      return db.finalize(id, r.attempt, invalid, held, "rescored");
    case "apply_rescore":
      return db.applyRescore(id, r.attempt);
  }
}

/** Where the table's guards refuse an event its state allows: the other job's, nothing to re-score. */
function guardRefuses(event: SubmissionEvent, before: SubmissionRecord): boolean {
  const only = ONLY[event];
  if (only !== undefined && before.job !== only) return true;
  return event === "rescore" && before.standingAttempt === null;
}

const standing = (r: SubmissionRecord) => ({
  status: r.status,
  publicScore: r.publicScore,
  standingAttempt: r.standingAttempt,
});

describe("every state × every event on SQLite", () => {
  const cases = VARIANTS.flatMap((variant) =>
    EVENTS.flatMap((event) => STATES.map((state) => [event, state, variant] as const)),
  );
  it.each(cases)("%s from %s (after: %s)", (event, state, variant) => {
    const id = inState(state, variant);
    const before = get(id);
    const now = T0 + 1000;
    const done = apply(id, event, now);
    const after = get(id);
    const to = guardRefuses(event, before) ? undefined : EXPECTED[event][state];
    if (to === undefined) {
      // Refused: nothing changed, not the record and not an attempt row.
      expect(done).toBe(false);
      expect(after).toEqual(before);
      expect(new TransitionRefusedError(id, state, event).message).toContain(`is ${state}, and only a`);
      return;
    }
    expect(done).toBe(true);
    expect(after.state).toBe(to);
    const fx = EFFECTS[event];
    const leaseBefore = before.leaseExpiresAtMs;
    if (fx.lease === "cleared") expect(after.leaseExpiresAtMs).toBeNull();
    if (fx.lease === "kept") expect(after.leaseExpiresAtMs).toBe(leaseBefore);
    if (fx.lease === "set") expect(after.leaseExpiresAtMs).toBe(now + 30_000);
    if (fx.claim === "cleared") expect([after.claimSha256, after.claimedBy]).toEqual([null, null]);
    if (fx.claim === "kept") expect(after.claimSha256).toBe(before.claimSha256);
    if (fx.claim === "set") expect(after.claimSha256).toBe("z");
    expect(after.attempt).toBe(before.attempt + (fx.attempt === "next" ? 1 : 0));
    expect(after.queuedAtMs).toBe(fx["queue place"] === "set" ? now : before.queuedAtMs);
    if (fx.job === "kept") expect(after.job).toBe(before.job);
    else expect(after.job).toBe(event === "rerun" ? "run" : "rescore");
    if (fx["standing result"] === "kept") expect(standing(after)).toEqual(standing(before));
    else if (event === "apply_rescore")
      expect(standing(after)).toEqual({ status: "succeeded", publicScore: 0.25, standingAttempt: 2 });
    else if (variant !== "upload")
      expect(standing(after)).toEqual({ status: "succeeded", publicScore: 0.5, standingAttempt: 1 });
    else expect(after.status).toBe(event === "report" ? "failed" : "infrastructure_error");

    // The attempt rows: appended, never rewritten; the current one is the last.
    expect(after.attempts.map((a) => a.attempt)).toEqual(
      Array.from({ length: after.attempt }, (_, i) => i + 1),
    );
    expect(after.attempts.slice(0, before.attempts.length - 1)).toEqual(before.attempts.slice(0, -1));
    const row = after.attempts.find((a) => a.attempt === before.attempt)!;
    const rowChange = TRANSITIONS[event].attemptRow;
    if (rowChange?.startsWith("ends")) {
      expect(row.endedAt).not.toBeNull();
      expect(row.status).toBe(
        {
          report: "failed",
          give_up: "infrastructure_error",
          retry: "infrastructure_error",
          rescored: "output_invalid",
        }[event as string] ?? "cancelled",
      );
    }
    if (rowChange === "starts") expect(row.startedAtMs).toBe(now);
    if (rowChange === "unstarts")
      expect([row.startedAtMs, row.runner, row.endedAt]).toEqual([null, null, null]);
    if (rowChange?.endsWith("opens")) {
      expect(after.attempts.at(-1)).toMatchObject({
        attempt: after.attempt,
        why: event === "rerun" || event === "rescore" ? event : "retry",
        job: after.job,
        endedAt: null,
        status: null,
      });
    }
    const newRun = event === "rerun" || event === "rescore";
    expect(after.runFirstAttempt).toBe(newRun ? after.attempt : before.runFirstAttempt);
  });
});

describe("races, over two connections to one file", () => {
  it("report vs cancel: a report after the cancel is refused; the cancel after a report is refused", () => {
    const a = inState("running", "rerun");
    expect(other.cancel(a, "organizer", iso(T0 + 5))).toBe(true);
    expect(db.finalize(a, 2, scored(0.9), { claimSha256: "a" })).toBe(false);
    expect(get(a)).toMatchObject({
      state: "cancelled",
      status: "succeeded",
      publicScore: 0.5,
      claimSha256: "a",
    });
    expect(get(a).attempts.at(-1)).toMatchObject({ attempt: 2, status: "cancelled" });

    const b = inState("running");
    expect(db.finalize(b, 1, scored(0.7), { claimSha256: "a" })).toBe(true);
    expect(other.cancel(b, "participant", iso(T0 + 5))).toBe(false);
    expect(get(b)).toMatchObject({ state: "final", status: "succeeded", publicScore: 0.7 });
  });

  it("report vs the sweeper's lease expiry: the late report is fenced off by its claim token", () => {
    const id = inState("running", "rerun");
    const over = T0 + 31_000;
    expect(other.expiredLeases(over).map((r) => r.id)).toContain(id);
    expect(other.requeue(id, 2, { reason: "lease over", nowMs: over }, { leaseOverAtMs: over })).toBe(true);
    expect(db.finalize(id, 2, scored(0.9), { claimSha256: "a" })).toBe(false);
    expect(db.finalize(id, 3, scored(0.9), { claimSha256: "a" })).toBe(false);
    expect(get(id)).toMatchObject({ state: "queued", attempt: 3, publicScore: 0.5, claimSha256: null });
    // The other way round: the report first, then the sweeper (which read the lease before) finds nothing.
    const won = inState("running");
    expect(db.finalize(won, 1, scored(0.8), { claimSha256: "a" })).toBe(true);
    expect(other.requeue(won, 1, { reason: "lease over", nowMs: over }, { leaseOverAtMs: over })).toBe(false);
    expect(other.finalize(won, 1, infra, { leaseOverAtMs: over }, "give_up")).toBe(false);
    expect(get(won)).toMatchObject({ state: "final", attempt: 1, publicScore: 0.8 });
  });

  it("heartbeat vs cancel: the heartbeat after a cancel extends nothing; the claim stays, so it is told why", () => {
    const id = inState("running");
    expect(other.cancel(id, "participant", iso(T0 + 5))).toBe(true);
    expect(db.heartbeat(id, 1, "a", T0 + 60_000)).toBe(false);
    expect(get(id)).toMatchObject({ state: "cancelled", claimSha256: "a", leaseExpiresAtMs: null });
  });

  it("two reports with different claim tokens: only the claim holding the attempt writes", () => {
    const id = inState("running");
    expect(db.requeue(id, 1, { reason: "released", nowMs: T0 + 10 }, { claimSha256: "a" })).toBe(true);
    expect(other.claimById(id, 2, claim("b"))).toBeDefined();
    expect(db.finalize(id, 2, scored(0.1), { claimSha256: "a" })).toBe(false);
    expect(other.finalize(id, 2, scored(0.2), { claimSha256: "b" })).toBe(true);
    expect(db.finalize(id, 2, scored(0.3), { claimSha256: "b" })).toBe(false); // never replaced
    expect(get(id)).toMatchObject({ state: "final", publicScore: 0.2, standingAttempt: 2 });
    expect(get(id).attempts.map((a) => [a.attempt, a.runner, a.status])).toEqual([
      [1, "r/a", "infrastructure_error"],
      [2, "r/b", "succeeded"],
    ]);
  });

  it("unclaim vs heartbeat: a lost claim used before the sweeper's update is retried (a try), never unclaimed", () => {
    const id = submit();
    expect(db.claimById(id, 1, claim("a", T0))).toBeDefined();
    const lost = { claimSha256: "a", leaseOverAtMs: T0 + 40_000 };
    expect(other.heartbeat(id, 1, "a", T0 + 35_000)).toBe(true);
    expect(db.unclaim(id, 1, lost)).toBe(false);
    expect(db.requeue(id, 1, { reason: "lost", nowMs: T0 + 40_000 }, lost)).toBe(true);
    expect(get(id)).toMatchObject({ state: "queued", attempt: 2 });
    // The next attempt's claim starts unused again: lost unused, it is queued at the same attempt.
    expect(db.claimById(id, 2, claim("b", T0 + 41_000))).toBeDefined();
    expect(db.unclaim(id, 2, { claimSha256: "b", leaseOverAtMs: T0 + 80_000 })).toBe(true);
    expect(get(id)).toMatchObject({ state: "queued", attempt: 2, claimSha256: null, claimedBy: null });
    expect(get(id).attempts.map((a) => [a.attempt, a.runner, a.startedAtMs, a.status])).toEqual([
      [1, "r/a", T0, "infrastructure_error"],
      [2, null, null, null],
    ]);
  });

  it("unclaim is refused while the lease lasts, for another claim, and for a dispatched submission", () => {
    const id = submit();
    expect(db.claimById(id, 1, claim("a", T0))).toBeDefined();
    expect(db.unclaim(id, 1, { claimSha256: "a", leaseOverAtMs: T0 + 10_000 })).toBe(false);
    expect(db.unclaim(id, 1, { claimSha256: "b", leaseOverAtMs: T0 + 40_000 })).toBe(false);
    const sent = submit();
    db.recordDispatch(sent, 1, { ok: true, atMs: T0 });
    expect(db.claimById(sent, 1, claim("s", T0))).toBeDefined();
    expect(db.unclaim(sent, 1, { claimSha256: "s", leaseOverAtMs: T0 + 40_000 })).toBe(false);
    expect(get(id).state).toBe("running");
    expect(get(sent).state).toBe("running");
  });

  it("claim vs claim: two runners asking for the same queued attempt, one wins", () => {
    const id = submit();
    expect(db.claimById(id, 1, claim("a"))).toBeDefined();
    expect(other.claimById(id, 1, claim("b"))).toBeUndefined();
    expect(other.claimNext("cpu", claim("b"))?.id).not.toBe(id);
  });
});

describe("nothing scored is lost", () => {
  it("a failed, a cancelled and a given-up re-run keep the earlier score; a newer score takes its place", () => {
    const id = inState("final", "rerun"); // score 0.5 stands; the re-run (attempt 2) failed
    expect(get(id)).toMatchObject({ status: "succeeded", publicScore: 0.5, standingAttempt: 1 });
    expect(db.rerun(id, T0 + 200)).toBe(true);
    expect(db.cancel(id, "organizer", iso(T0 + 201))).toBe(true);
    expect(db.rerun(id, T0 + 300)).toBe(true);
    expect(db.finalize(id, 4, infra, {}, "give_up")).toBe(true);
    expect(get(id)).toMatchObject({
      state: "final",
      status: "succeeded",
      publicScore: 0.5,
      standingAttempt: 1,
    });
    expect(db.listStanding().map((r) => r.id)).toContain(id);
    expect(db.rerun(id, T0 + 400)).toBe(true);
    expect(db.listStanding().find((r) => r.id === id)?.publicScore).toBe(0.5); // while it waits
    expect(db.finalize(id, 5, scored(0.25))).toBe(true);
    expect(get(id)).toMatchObject({ status: "succeeded", publicScore: 0.25, standingAttempt: 5 });
    expect(get(id).attempts.map((a) => [a.attempt, a.why, a.status, a.publicScore])).toEqual([
      [1, "upload", "succeeded", 0.5],
      [2, "rerun", "failed", null],
      [3, "rerun", "cancelled", null],
      [4, "rerun", "infrastructure_error", null],
      [5, "rerun", "succeeded", 0.25],
    ]);
  });

  it("an infrastructure error never replaces a participant's result either", () => {
    const id = inState("final"); // failed
    expect(db.rerun(id, T0 + 200)).toBe(true);
    expect(db.finalize(id, 2, infra, {}, "give_up")).toBe(true);
    expect(get(id)).toMatchObject({ status: "failed", standingAttempt: 1 });
  });
});

describe("re-scores", () => {
  it("an older runner (run only) never claims a re-score; one that says it re-scores does", () => {
    const id = inState("queued", "rescore");
    expect(db.claimById(id, undefined, claim("old", T0, ["run"]))).toBeUndefined();
    expect(db.claimNext("cpu", claim("old", T0, ["run"]))?.id).not.toBe(id);
    expect(db.markRunning(id, 2, T0)).toBe(false); // its zip is no one's to run
    expect(db.claimNext("cpu", claim("new", T0, BOTH))?.id).toBe(id);
    expect(get(id)).toMatchObject({ state: "running", job: "rescore", rescoreOf: 1, claimedBy: "r/new" });
  });

  it("a re-score's result stays on its row until applied; a run's report cannot end it", () => {
    const id = inState("running", "rescore");
    expect(db.finalize(id, 2, scored(0.9), { claimSha256: "a" })).toBe(false); // `report` is a run's
    expect(db.finalize(id, 2, scored(0.25), { claimSha256: "a" }, "rescored")).toBe(true);
    expect(get(id)).toMatchObject({ state: "final", publicScore: 0.5, standingAttempt: 1 });
    expect(get(id).attempts.at(-1)).toMatchObject({ job: "rescore", rescoreOf: 1, publicScore: 0.25 });
    expect(db.applyRescore(id, 2)).toBe(true);
    expect(get(id)).toMatchObject({ status: "succeeded", publicScore: 0.25, standingAttempt: 2 });
    expect(db.applyRescore(id, 2)).toBe(true); // applying again changes nothing
    expect(get(id)).toMatchObject({
      publicScore: 0.25,
      standingAttempt: 2,
      imageDigest: "sha256:" + "d".repeat(64),
    });
    // A standing re-score is re-scored from the run's predictions it re-scored.
    expect(db.rescore(id, T0 + 50)).toBe(true);
    expect(get(id)).toMatchObject({ state: "queued", attempt: 3, job: "rescore", rescoreOf: 1 });
  });

  it("a scorer's or a runner's failure is never applied: the earlier score stands", () => {
    const scorerFailed = blankResult({ status: "scorer_failed", reason: "exit 2", finishedAt: iso(T0 + 9) });
    for (const [result, event] of [
      [scorerFailed, "rescored"],
      [infra, "give_up"],
    ] as const) {
      const id = inState("running", "rescore");
      expect(db.finalize(id, 2, result, { claimSha256: "a" }, event)).toBe(true);
      expect(db.applyRescore(id, 2)).toBe(false);
      expect(get(id)).toMatchObject({ status: "succeeded", publicScore: 0.5, standingAttempt: 1 });
    }
  });

  it("predictions the new metric refuses are applied as the participant's output_invalid, with its problems", () => {
    const id = inState("running", "rescore");
    expect(
      db.finalize(
        id,
        2,
        { ...invalid, diagnosis: { exitCode: null, problemCounts: { nan: 1 } } },
        { claimSha256: "a" },
        "rescored",
      ),
    ).toBe(true);
    expect(db.applyRescore(id, 2)).toBe(true);
    expect(get(id)).toMatchObject({
      status: "output_invalid",
      publicScore: null,
      problems: ["row 2: not a number"],
      diagnosis: { exitCode: null, problemCounts: { nan: 1 } },
      standingAttempt: 2,
    });
  });

  it("is refused where the standing attempt left no predictions, and a stale re-score is not applied", () => {
    const bare = submit();
    db.claimById(bare, 1, claim("a"));
    expect(db.finalize(bare, 1, scored(0.5), { claimSha256: "a" })).toBe(true);
    expect(db.rescore(bare, T0 + 10)).toBe(false);
    expect(get(bare)).toMatchObject({ state: "final", attempt: 1, job: "run" });

    const id = inState("final", "rescore"); // re-scored 0.25, not applied
    expect(db.rerun(id, T0 + 20)).toBe(true); // the program runs again meanwhile
    expect(db.applyRescore(id, 2)).toBe(false);
    expect(get(id)).toMatchObject({ state: "queued", job: "run", rescoreOf: null, publicScore: 0.5 });
  });

  it("a lost re-score is retried as a re-score, and is never dispatched to GitHub", () => {
    const id = inState("running", "rescore");
    expect(db.requeue(id, 2, { reason: "lost", nowMs: T0 + 5 }, { claimSha256: "a" })).toBe(true);
    expect(get(id)).toMatchObject({ state: "queued", attempt: 3, job: "rescore", rescoreOf: 1 });
    expect(get(id).attempts.at(-1)).toMatchObject({ why: "retry", job: "rescore", rescoreOf: 1 });
    expect(db.dueDispatches(T0 + 60_000).map((r) => r.id)).not.toContain(id);
  });

  it("predictions are recorded only by the claim holding the running attempt", () => {
    const id = inState("running");
    expect(db.recordPredictions(id, 1, PREDICTIONS, "someone else")).toBe(false);
    expect(db.recordPredictions(id, 2, PREDICTIONS, "a")).toBe(false);
    expect(db.recordPredictions(id, 1, PREDICTIONS, "a")).toBe(true);
    expect(get(id).attempts[0]).toMatchObject({
      predictionsSha256: PREDICTIONS.sha256,
      predictionsBytes: 10,
    });
  });
});

describe("the migration to attempt rows", () => {
  it("turns an older file's attempt counter and history into rows; the result stands where it was", () => {
    const done = inState("final");
    const queued = submit();
    db.close();
    const raw = new Database(join(dir, "intake.sqlite"));
    raw.exec(
      `DROP TABLE submission_attempts; ALTER TABLE submissions DROP COLUMN run_first_attempt;
       ALTER TABLE submissions DROP COLUMN standing_attempt;
       ALTER TABLE submissions ADD COLUMN history TEXT NOT NULL DEFAULT '[]';
       ALTER TABLE submissions DROP COLUMN models_digest; ALTER TABLE submissions DROP COLUMN job;
       ALTER TABLE submissions DROP COLUMN rescore_of; ALTER TABLE submissions DROP COLUMN scorer_digest;
       ALTER TABLE submissions DROP COLUMN ground_truth_digest; ALTER TABLE submissions DROP COLUMN claim_used;`,
    );
    // Attempt 3 scored; attempt 1 was lost (in the history), attempt 2's record is gone.
    raw
      .prepare(
        "UPDATE submissions SET attempt = 3, public_score = 0.75, status = 'succeeded', history = ? WHERE id = ?",
      )
      .run(
        JSON.stringify([{ attempt: 1, status: "infrastructure_error", reason: "lost", at: iso(T0) }]),
        done,
      );
    raw.pragma("user_version = 7");
    raw.close();
    other.close();
    db = new IntakeDb(join(dir, "intake.sqlite"));
    other = new IntakeDb(join(dir, "intake.sqlite"));
    expect(get(done)).toMatchObject({ state: "final", attempt: 3, standingAttempt: 3, runFirstAttempt: 3 });
    expect(get(done).attempts.map((a) => [a.attempt, a.status, a.reason])).toEqual([
      [1, "infrastructure_error", "lost"],
      [2, null, "not recorded (it ended before attempts were kept apart)"],
      [3, "succeeded", "exit 1"],
    ]);
    expect(get(queued)).toMatchObject({
      standingAttempt: null,
      attempts: [{ attempt: 1, why: "upload", endedAt: null }],
    });
    // And it goes on living by the table.
    expect(db.rerun(done, T0 + 500)).toBe(true);
    expect(get(done)).toMatchObject({ state: "queued", attempt: 4, runFirstAttempt: 4, publicScore: 0.75 });
  });
});
