/**
 * The competition's lifecycle through the gateway's API on real parts (SQLite, storage, fake GitHub, a
 * fake clock): dates and phases, the cap on runs under way, cancelling, the final choice, and the
 * organizer's actions (re-run, cancel, disqualify, re-score) with the runners' side of each.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  COMPETITION_YML,
  download,
  getJson,
  GOOD_ZIP,
  postResult,
  rawRequest,
  startHarness,
  SUCCEEDED,
  upload,
  type Harness,
} from "./test-support/harness.js";

const YML = `${COMPETITION_YML}
timeline:
  start: 2025-03-01T00:00:00Z
  end: 2025-04-01T00:00:00Z
  phases:
    - { name: smoke_test, start: 2025-03-01T00:00:00Z, logs: full, daily_limit: 2 }
    - { name: evaluation, start: 2025-03-10T00:00:00Z }
final_selection: { mode: chosen, count: 1 }
max_active_runs: 1
`;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({}, YML);
});
afterAll(() => h.close());

const post = (route: string, token: string, body?: unknown) =>
  rawRequest(h.url, {
    method: "POST",
    path: route,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined && { "content-type": "application/json" }),
    },
    ...(body !== undefined && { body: Buffer.from(JSON.stringify(body)) }),
  });

async function uploaded(token: string): Promise<string> {
  const response = await upload(h, token, await GOOD_ZIP());
  expect(response.status, response.text).toBe(202);
  return (response.json()["submission"] as { submission_id: string }).submission_id;
}

describe("dates and phases", () => {
  it("refuses uploads before the start and after the end with the reason; records the phase between", async () => {
    const token = h.token("early-bird");
    h.clock.now = new Date("2025-02-28T12:00:00Z");
    const early = await upload(h, token, await GOOD_ZIP());
    expect(early.status).toBe(403);
    expect(early.json()).toMatchObject({ error: "submissions_closed" });
    expect(String(early.json()["message"])).toContain("submissions open at 2025-03-01T00:00:00.000Z");

    h.clock.now = new Date("2025-03-02T12:00:00Z");
    const id = await uploaded(token);
    const view = (await getJson(h, `/v1/submissions/${id}`, token)).json();
    expect(view).toMatchObject({ phase: "smoke_test", chosen: false, disqualified: null });
    expect((await postResult(h, id, h.runner, SUCCEEDED)).status).toBe(200);
    // smoke_test shows full logs (the harness's evaluation phase shows a tail of 2 lines).
    expect((await getJson(h, `/v1/submissions/${id}`, token)).json()["logs"]).toMatchObject({
      visibility: "full",
      stdout: SUCCEEDED.stdout,
    });

    h.clock.now = new Date("2025-04-01T00:00:00Z");
    const late = await upload(h, token, await GOOD_ZIP());
    expect(late.status).toBe(403);
    expect(String(late.json()["message"])).toContain("submissions closed at 2025-04-01T00:00:00.000Z");
    h.clock.now = new Date("2025-03-02T12:00:00Z");
  });

  it("applies the current phase's limits", async () => {
    h.clock.now = new Date("2025-03-03T12:00:00Z");
    const token = h.token("phase-limited");
    for (let i = 0; i < 2; i += 1) {
      const id = await uploaded(token);
      expect((await postResult(h, id, h.runner, SUCCEEDED)).status).toBe(200);
    }
    const third = await upload(h, token, await GOOD_ZIP());
    expect(third.status).toBe(429);
    expect(third.json()).toMatchObject({ error: "quota_exceeded", quota: { daily_limit: 2 } });
    h.clock.now = new Date("2025-03-11T12:00:00Z"); // evaluation: the competition's daily limit of 3
    expect((await getJson(h, "/v1/submissions", token)).json()["quota"]).toMatchObject({ daily_limit: 3 });
  });
});

describe("runs under way and cancelling", () => {
  it("allows one run under way; cancelling the queued one frees the slot and does not count", async () => {
    h.clock.now = new Date("2025-03-12T12:00:00Z");
    const token = h.token("impatient");
    const first = await uploaded(token);
    const second = await upload(h, token, await GOOD_ZIP());
    expect(second.status).toBe(429);
    expect(second.json()).toMatchObject({ error: "active_run_limit" });
    expect(String(second.json()["message"])).toMatch(/at most 1 at once.*max_active_runs/);

    const cancelled = await post(`/v1/submissions/${first}/cancel`, token);
    expect(cancelled.status).toBe(200);
    expect(cancelled.json()).toMatchObject({
      submission: { state: "cancelled", status: null },
      quota: { used_today: 0 },
    });
    // The runner dispatched for it is told 409 at every step, and runs nothing.
    for (const answer of [
      await getJson(h, `/v1/runner/submissions/${first}`, h.runner),
      await download(h, first, 1, h.runner),
      await postResult(h, first, h.runner, SUCCEEDED),
    ]) {
      expect(answer.status).toBe(409);
      expect(answer.json()).toMatchObject({ error: "result_conflict" });
      expect(String(answer.json()["message"])).toContain("was cancelled by the participant");
    }
    expect(await uploaded(token)).toMatch(/^sub-/);
  });

  it("cancels a started submission (it counts), refuses a finished one, someone else's, or a made-up id", async () => {
    h.clock.now = new Date("2025-03-13T12:00:00Z");
    const token = h.token("runner-fast");
    const id = await uploaded(token);
    expect((await download(h, id, 1, h.runner)).status).toBe(200); // running now
    expect((await post(`/v1/submissions/${id}/cancel`, h.token("stranger"))).status).toBe(404);
    expect((await post(`/v1/submissions/sub-${"x".repeat(22)}/cancel`, token)).status).toBe(404);
    expect((await post(`/v1/submissions/${id}/cancel`, h.runner)).status).toBe(401);
    const started = await post(`/v1/submissions/${id}/cancel`, token);
    expect(started.status).toBe(200);
    expect(started.json()).toMatchObject({ submission: { state: "cancelled" }, quota: { used_today: 1 } });
    expect((await postResult(h, id, h.runner, SUCCEEDED)).status).toBe(409);
    const again = await post(`/v1/submissions/${id}/cancel`, token);
    expect(again.status).toBe(409);
    expect(again.json()).toMatchObject({ error: "not_cancellable" });
  });
});

describe("final choice", () => {
  it("lets a participant choose scored submissions up to the count, and nothing else", async () => {
    h.clock.now = new Date("2025-03-14T12:00:00Z");
    const token = h.token("chooser");
    const a = await uploaded(token);
    const queued = await post(`/v1/submissions/${a}/choice`, token, { chosen: true });
    expect(queued.status).toBe(409);
    expect(queued.json()).toMatchObject({ error: "choice_refused" });
    expect((await postResult(h, a, h.runner, SUCCEEDED)).status).toBe(200);
    const b = await uploaded(token);
    expect((await postResult(h, b, h.runner, SUCCEEDED)).status).toBe(200);

    expect((await post(`/v1/submissions/${a}/choice`, token, { chosen: true })).json()).toMatchObject({
      chosen: true,
    });
    const second = await post(`/v1/submissions/${b}/choice`, token, { chosen: true });
    expect(second.status).toBe(409);
    expect(String(second.json()["message"])).toContain("unchoose one first");
    expect((await post(`/v1/submissions/${a}/choice`, token, { chosen: false })).status).toBe(200);
    expect((await post(`/v1/submissions/${b}/choice`, token, { chosen: true })).status).toBe(200);
    expect((await post(`/v1/submissions/${b}/choice`, token, { chosen: "yes" })).status).toBe(400);
    expect([...h.gateway.intake.chosenIds()]).toContain(b);
  });
});

describe("the organizer's actions", () => {
  it("re-runs a final submission as its next attempt; the old attempt's runner is refused", async () => {
    h.clock.now = new Date("2025-03-15T12:00:00Z");
    const token = h.token("rerun-me");
    const id = await uploaded(token);
    expect((await postResult(h, id, h.runner, { ...SUCCEEDED, public_score: 0.1 })).status).toBe(200);
    const record = h.gateway.intake.organizer.rerun(id);
    // The earlier score stands while the re-run waits.
    expect(record).toMatchObject({ state: "queued", attempt: 2, status: "succeeded", publicScore: 0.1 });
    expect(record.attempts.map((a) => [a.attempt, a.why, a.status])).toEqual([
      [1, "upload", "succeeded"],
      [2, "rerun", null],
    ]);
    await h.gateway.intake.sweep(); // what the sweeper does within its interval
    expect(
      h
        .dispatches()
        .filter((d) => d.submission_id === id)
        .map((d) => d.attempt),
    ).toEqual([1, 2]);
    expect((await postResult(h, id, h.runner, SUCCEEDED)).status).toBe(409); // attempt 1
    expect((await postResult(h, id, h.runner, { ...SUCCEEDED, attempt: 2, public_score: 0.2 })).status).toBe(
      200,
    );
    expect((await getJson(h, `/v1/submissions/${id}`, token)).json()).toMatchObject({ public_score: 0.2 });
    expect(() => h.gateway.intake.organizer.rerun(`sub-${"y".repeat(22)}`)).toThrow(/no submission/);
  });

  it("cancels a running submission; the runner's report is refused", async () => {
    h.clock.now = new Date("2025-03-16T12:00:00Z");
    const id = await uploaded(h.token("cancelled-by-orga"));
    expect((await download(h, id, 1, h.runner)).status).toBe(200);
    h.gateway.intake.organizer.cancel(id);
    const report = await postResult(h, id, h.runner, SUCCEEDED);
    expect(report.status).toBe(409);
    expect(String(report.json()["message"])).toContain("cancelled by the organizer");
    expect(() => h.gateway.intake.organizer.cancel(id)).toThrow(
      /is cancelled, and only a queued or running submission can take "cancel"/,
    );
  });

  it("disqualifies a submission or a participant: off the leaderboard, and no more uploads", async () => {
    h.clock.now = new Date("2025-03-17T12:00:00Z");
    const token = h.token("cheater");
    const id = await uploaded(token);
    expect((await postResult(h, id, h.runner, { ...SUCCEEDED, public_score: 0.999 })).status).toBe(200);
    const rows = async () =>
      ((await getJson(h, "/v1/leaderboard")).json()["rows"] as { participant: string }[]).map(
        (r) => r.participant,
      );
    expect(await rows()).toContain("cheater");
    h.gateway.intake.organizer.disqualify(id, "hand-labelled the test set");
    expect(await rows()).not.toContain("cheater");
    expect((await getJson(h, `/v1/submissions/${id}`, token)).json()).toMatchObject({
      disqualified: "hand-labelled the test set",
    });
    expect(() => h.gateway.intake.organizer.disqualify(id, "  ")).toThrow(/needs a reason/);

    h.gateway.intake.organizer.disqualifyParticipant("cheater", "second account");
    const refused = await upload(h, token, await GOOD_ZIP());
    expect(refused.status).toBe(403);
    expect(refused.json()).toMatchObject({ error: "disqualified" });
    expect(String(refused.json()["message"])).toContain("second account");
  });

  it("re-scores only kept predictions (each other scored submission says why), and lists the queue with ages", async () => {
    h.clock.now = new Date("2025-03-18T12:00:00Z");
    const before = h.gateway.intake.organizer.queue({ all: true });
    const scored = before
      .filter((r) => r.state === "final" && r.status === "succeeded")
      .map((r) => r.submission_id);
    h.clock.advance(60_000);
    // These results were reported by hand, with no predictions: nothing to re-score without running them.
    const { jobs, skipped } = h.gateway.intake.organizer.rescores.queue({});
    expect(jobs).toEqual([]);
    expect(skipped.map((s) => s.submission_id)).toEqual(expect.arrayContaining(scored));
    expect(skipped[0]!.reason).toMatch(/left no predictions on the gateway.*proctor admin rerun/);
    const ids = scored.map((id) => h.gateway.intake.organizer.rerun(id).id);
    const queue = h.gateway.intake.organizer.queue();
    expect(queue.map((r) => r.submission_id)).toEqual(expect.arrayContaining(ids));
    expect(queue.every((r) => r.state === "queued" || r.state === "running")).toBe(true);
    expect(queue.find((r) => r.submission_id === ids[0])!.age_ms).toBeGreaterThan(60_000);
  });
});

describe("sessions", () => {
  it("end when their token is revoked, at sign-out, and never open with a runner credential", () => {
    const intake = h.gateway.intake;
    const issued = intake.tokens.add("session-user");
    const opened = intake.sessions.open(` ${issued.token} `)!;
    expect(intake.sessions.lookup(opened.id)).toMatchObject({ kind: "participant", holder: "session-user" });
    intake.tokens.revoke(issued.id);
    expect(intake.sessions.lookup(opened.id)).toBeUndefined();

    const admin = intake.sessions.open(intake.admins.add("orga").token)!;
    expect(intake.sessions.lookup(admin.id)).toMatchObject({ kind: "admin" });
    intake.sessions.close(admin.id);
    expect(intake.sessions.lookup(admin.id)).toBeUndefined();

    expect(intake.sessions.open(h.runner)).toBeUndefined();
    expect(intake.sessions.lookup("not a session id")).toBeUndefined();
    expect(intake.sessions.lookup(undefined)).toBeUndefined();
  });

  it("expire after their lifetime", () => {
    const intake = h.gateway.intake;
    const opened = intake.sessions.open(intake.tokens.add("sleepy").token)!;
    h.clock.advance(intake.sessions.ttlMs);
    expect(intake.sessions.lookup(opened.id)).toBeUndefined();
  });
});
