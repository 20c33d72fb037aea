/**
 * Nothing scored is ever lost, through the gateway on real parts (SQLite, storage, fake GitHub, a fake
 * clock): the runners claim, report and fail over the runner API, the organizer re-runs and cancels on the
 * /admin page, and the leaderboard JSON, the leaderboard page, the participant's API and pages show the
 * score that stands while re-runs wait, fail, are cancelled or end in infrastructure errors.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  getJson,
  GOOD_ZIP,
  postResult,
  rawRequest,
  startHarness,
  SUCCEEDED,
  upload,
  type Harness,
} from "./test-support/harness.js";
import { PlainBrowser } from "./web/test-support/plain-browser.js";

let h: Harness;
let admin: PlainBrowser;
let participant: PlainBrowser;
let token: string;
let id: string;
beforeAll(async () => {
  h = await startHarness();
  admin = new PlainBrowser(h.url);
  expect((await admin.signIn(h.gateway.intake.admins.add("orga").token)).status).toBe(303);
  token = h.token("keeper");
  participant = new PlainBrowser(h.url);
  await participant.signIn(token);
  const uploaded = await upload(h, token, await GOOD_ZIP());
  expect(uploaded.status, uploaded.text).toBe(202);
  id = (uploaded.json()["submission"] as { submission_id: string }).submission_id;
});
afterAll(() => h.close());

const runnerPost = (route: string, body: unknown) =>
  rawRequest(h.url, {
    method: "POST",
    path: route,
    headers: { authorization: `Bearer ${h.runner}`, "content-type": "application/json" },
    body: Buffer.from(JSON.stringify(body)),
  });

/** A runner claims the attempt over the runner API and reports `result` for it with its claim token. */
async function run(attempt: number, result: Record<string, unknown>): Promise<number> {
  const claimed = await runnerPost(`/v1/runner/submissions/${id}/claim`, { attempt, runner: "r1" });
  expect(claimed.status, claimed.text).toBe(200);
  const claim_token = claimed.json()["claim_token"] as string;
  // An infrastructure_error carries no logs.
  const base = result["status"] === "infrastructure_error" ? withoutLogs : SUCCEEDED;
  const answer = await postResult(h, id, h.runner, { ...base, ...result, attempt, claim_token });
  return answer.status;
}
const { stdout: _o, stderr: _e, ...withoutLogs } = SUCCEEDED;
const failed = { status: "failed", reason: "exit code 1", public_score: null, private_score_sealed: null };
const infra = {
  status: "infrastructure_error",
  reason: "the engine went away",
  public_score: null,
  private_score_sealed: null,
};

async function boardScore(): Promise<number | null> {
  const rows = (await getJson(h, "/v1/leaderboard")).json()["rows"] as {
    participant: string;
    score: number;
  }[];
  return rows.find((r) => r.participant === "keeper")?.score ?? null;
}
const view = async () => (await getJson(h, `/v1/submissions/${id}`, token)).json();
async function adminAction(action: "rerun" | "cancel"): Promise<{ status: number; text: string }> {
  const csrf = await admin.csrf("/admin?all=1");
  return admin.post(`/admin/submissions/${id}/${action}`, { _csrf: csrf });
}

describe("the standing score", () => {
  it("stays on the board while a re-run waits, and after it fails", async () => {
    expect(await run(1, { public_score: 0.875 })).toBe(200);
    expect(await boardScore()).toBe(0.875);

    const rerun = await adminAction("rerun");
    expect(rerun.text).toContain(`Queued ${id} again as attempt 2.`);
    expect(await boardScore()).toBe(0.875);
    expect(await view()).toMatchObject({
      state: "queued",
      attempt: 2,
      status: "succeeded",
      public_score: 0.875,
    });
    // The organizers' re-run is theirs: its participant cannot cancel it to keep the old score.
    const cancel = await rawRequest(h.url, {
      method: "POST",
      path: `/v1/submissions/${id}/cancel`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(cancel.status).toBe(409);
    expect(cancel.json()).toMatchObject({ error: "not_cancellable" });
    expect(String(cancel.json()["message"])).toContain("only the organizers can cancel their re-run");

    expect(await run(2, failed)).toBe(200);
    expect(await boardScore()).toBe(0.875);
    expect(await view()).toMatchObject({
      state: "final",
      attempt: 2,
      status: "succeeded",
      public_score: 0.875,
      earlier_attempts: [{ attempt: 2, status: "failed", reason: "exit code 1" }],
    });
    const page = await participant.request("/submissions");
    expect(page.text).toMatch(
      /attempt 2: failed<br \/><span data-cell="standing">standing: <span[^>]*>succeeded/,
    );
    expect((await participant.request("/leaderboard")).text).toContain("0.8750");
  });

  it("stays after a cancelled re-run, and a second cancel is refused naming the state and the event", async () => {
    expect((await adminAction("rerun")).text).toContain("as attempt 3.");
    const cancelled = await adminAction("cancel");
    expect(cancelled.text).toContain(`Cancelled ${id}.`);
    expect(await boardScore()).toBe(0.875);
    expect(await view()).toMatchObject({
      state: "cancelled",
      attempt: 3,
      status: "succeeded",
      public_score: 0.875,
    });
    const again = await adminAction("cancel");
    expect(again.status).toBe(409);
    expect(again.text).toContain(
      `submission ${id} is cancelled, and only a queued or running submission can take &quot;cancel&quot;`,
    );
    // A runner still holding attempt 3 is told it was cancelled.
    expect((await postResult(h, id, h.runner, { ...SUCCEEDED, attempt: 3 })).status).toBe(409);
  });

  it("stays after a re-run that meets infrastructure errors until its own tries are used up", async () => {
    expect((await adminAction("rerun")).text).toContain("as attempt 4.");
    expect(await run(4, infra)).toBe(200);
    expect(await view()).toMatchObject({ state: "queued", attempt: 5, public_score: 0.875 });
    expect(await boardScore()).toBe(0.875);
    expect(await run(5, infra)).toBe(200);
    expect(await view()).toMatchObject({
      state: "final",
      attempt: 5,
      status: "succeeded",
      public_score: 0.875,
    });
    expect(await boardScore()).toBe(0.875);
    const record = h.gateway.intake.organizer.submission(id);
    // Tries count per run: the re-run of attempt 4 had two, never "attempt 5 of 2".
    expect(record.attempts.at(-1)?.reason).toContain("(try 2 of 2 of this run; given up)");
    expect(record.attempts.map((a) => [a.attempt, a.why, a.status])).toEqual([
      [1, "upload", "succeeded"],
      [2, "rerun", "failed"],
      [3, "rerun", "cancelled"],
      [4, "rerun", "infrastructure_error"],
      [5, "retry", "infrastructure_error"],
    ]);
    const page = await admin.request(`/admin/submissions/${id}`);
    expect(page.text).toMatch(/<tr data-attempt="1">\s*<td>1 <strong>\(stands\)<\/strong><\/td>/);
    expect(page.text.match(/<tr data-attempt=/g)).toHaveLength(5);
  });

  it("is replaced by a newer score only", async () => {
    expect((await adminAction("rerun")).text).toContain("as attempt 6.");
    expect(await run(6, { public_score: 0.5 })).toBe(200);
    expect(await boardScore()).toBe(0.5);
    expect(await view()).toMatchObject({
      state: "final",
      attempt: 6,
      status: "succeeded",
      public_score: 0.5,
    });
  });
});

describe("the organizers' scorer failing", () => {
  const scorerFailed = {
    status: "scorer_failed",
    reason: "the custom scorer did not succeed: exit code 1; its stderr ends: KeyError: 'y_true' SECRET-ROW",
    public_score: null,
    private_score_sealed: null,
  };

  it("is neither counted nor shown its cause; the participant is told it waits for the organizers", async () => {
    const other = h.token("waiter");
    const sent = await upload(h, other, await GOOD_ZIP());
    const waiting = (sent.json()["submission"] as { submission_id: string }).submission_id;
    const claimed = await runnerPost(`/v1/runner/submissions/${waiting}/claim`, { attempt: 1 });
    const claim_token = claimed.json()["claim_token"] as string;
    const answer = await postResult(h, waiting, h.runner, { ...SUCCEEDED, ...scorerFailed, claim_token });
    expect(answer.status, answer.text).toBe(200);
    const shown = (await getJson(h, `/v1/submissions/${waiting}`, other)).json();
    expect(shown).toMatchObject({ state: "final", status: "scorer_failed", reason_class: "organizer_fault" });
    expect(String(shown["reason"])).toMatch(/^waiting for the organizers: their scorer failed/);
    expect(JSON.stringify(shown)).not.toContain("SECRET-ROW");
    expect((await getJson(h, "/v1/submissions", other)).json()["quota"]).toMatchObject({ used_total: 0 });
    // The organizers see the cause.
    expect(h.gateway.intake.organizer.submission(waiting).reason).toContain("SECRET-ROW");
  });

  it("on a re-run leaves the earlier score standing", async () => {
    const attempt = h.gateway.intake.organizer.rerun(id).attempt;
    expect(await run(attempt, scorerFailed)).toBe(200);
    expect(await boardScore()).toBe(0.5);
    const shown = await view();
    expect(shown).toMatchObject({ status: "succeeded", public_score: 0.5 });
    expect(shown["earlier_attempts"]).toContainEqual(
      expect.objectContaining({
        attempt,
        status: "scorer_failed",
        reason: expect.stringMatching(/^waiting for/),
      }),
    );
    expect(JSON.stringify(shown)).not.toContain("SECRET-ROW");
  });
});
