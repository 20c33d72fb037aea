import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GOOD_ZIP,
  SUCCEEDED,
  download,
  postResult,
  rawRequest,
  startHarness,
  upload,
  type Harness,
} from "../test-support/harness.js";

/** The claim protocol over HTTP (gateway-api/claims.ts), on a real gateway and SQLite, no engine. */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ leaseMs: 5_000 });
});
afterAll(() => h.close());

const post = (route: string, body: unknown, token = h.runner) =>
  rawRequest(h.url, {
    method: "POST",
    path: route,
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: Buffer.from(JSON.stringify(body)),
  });

async function submitted(kind: "cpu" | "gpu" = "cpu") {
  const token = h.token(`p-${Math.random().toString(36).slice(2, 8)}`);
  const response = await upload(h, token, await GOOD_ZIP(), { query: `?cpu_or_gpu=${kind}` });
  expect(response.status, response.text).toBe(202);
  return { id: (response.json()["submission"] as { submission_id: string }).submission_id, token };
}

/** Claims what is queued of `kind` until none is left (earlier tests' leftovers). */
async function drain(kind: "cpu" | "gpu") {
  while ((await post("/v1/runner/claims", { kind })).json()["claim"] !== null);
}

describe("claims", () => {
  it("refuses a body that breaks the contract, naming the field; a participant token gets 401", async () => {
    const bad = await post("/v1/runner/claims", { kind: "tpu" });
    expect(bad.status).toBe(400);
    expect(bad.json()["message"]).toMatch(/`kind`/);
    expect((await post("/v1/runner/claims", { kind: "cpu", wait_ms: 60_000 })).status).toBe(400);
    expect((await post("/v1/runner/claims", { kind: "cpu" }, h.token("nosy"))).status).toBe(401);
  });

  it("a long poll wakes when a submission is queued; the claim fences download and report", async () => {
    await drain("gpu");
    const waiting = post("/v1/runner/claims", { kind: "gpu", runner: "box/slot-1", wait_ms: 20_000 });
    const { id, token } = await submitted("gpu");
    const answer = (await waiting).json()["claim"] as {
      claim_token: string;
      submission: { submission_id: string };
    };
    expect(answer.submission.submission_id).toBe(id);
    expect(h.gateway.intake.organizer.submission(id).claimedBy).toBe("runner-1/box/slot-1");

    // Without the claim's token: 409 claim_lost, nothing downloaded or written.
    expect((await download(h, id, 1, h.runner)).status).toBe(409);
    const unfenced = await postResult(h, id, h.runner, SUCCEEDED);
    expect(unfenced.status).toBe(409);
    expect(unfenced.json()["error"]).toBe("claim_lost");
    const forged = await postResult(h, id, h.runner, { ...SUCCEEDED, claim_token: `clm_${"A".repeat(43)}` });
    expect(forged.json()["error"]).toBe("claim_lost");
    const hold = { attempt: 1, claim_token: answer.claim_token };
    expect((await post(`/v1/runner/submissions/${id}/heartbeat`, hold)).status).toBe(200);
    expect(
      (await postResult(h, id, h.runner, { ...SUCCEEDED, claim_token: answer.claim_token })).status,
    ).toBe(200);
    const view = await rawRequest(h.url, {
      path: `/v1/submissions/${id}`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(view.json()).toMatchObject({ state: "final", status: "succeeded" });
    expect((await post(`/v1/runner/submissions/${id}/heartbeat`, hold)).status).toBe(409);
  });

  it("a claim by id wins once: a second claim (the Actions job that lost) gets 409 and runs nothing", async () => {
    const { id } = await submitted();
    expect((await post(`/v1/runner/submissions/${id}/claim`, { attempt: 2 })).status).toBe(409);
    expect((await post(`/v1/runner/submissions/${id}/claim`, { attempt: 1 })).status).toBe(200);
    const lost = await post(`/v1/runner/submissions/${id}/claim`, { attempt: 1 });
    expect(lost.status).toBe(409);
    expect(lost.json()["message"]).toMatch(/another runner claimed it first/);
  });

  it("a cancel reaches the running claim at its heartbeat (409 cancelled); a release queues the next attempt", async () => {
    const cancelled = await submitted();
    const claim = (await post(`/v1/runner/submissions/${cancelled.id}/claim`, {})).json() as {
      claim_token: string;
    };
    const cancel = await rawRequest(h.url, {
      method: "POST",
      path: `/v1/submissions/${cancelled.id}/cancel`,
      headers: { authorization: `Bearer ${cancelled.token}` },
    });
    expect(cancel.json()).toMatchObject({ submission: { state: "cancelled" } });
    const beat = await post(`/v1/runner/submissions/${cancelled.id}/heartbeat`, {
      attempt: 1,
      claim_token: claim.claim_token,
    });
    expect(beat.status).toBe(409);
    expect(beat.json()["error"]).toBe("cancelled");

    const released = await submitted();
    const held = (await post(`/v1/runner/submissions/${released.id}/claim`, {})).json() as {
      claim_token: string;
    };
    const back = await post(`/v1/runner/submissions/${released.id}/release`, {
      attempt: 1,
      claim_token: held.claim_token,
    });
    expect(back.json()).toMatchObject({ state: "queued" });
    expect(h.gateway.intake.organizer.submission(released.id)).toMatchObject({ state: "queued", attempt: 2 });
  });

  it("a claim whose lease ran out is queued again as the next attempt; its late heartbeat and report are refused", async () => {
    const { id } = await submitted();
    const claim = (await post(`/v1/runner/submissions/${id}/claim`, {})).json() as { claim_token: string };
    h.clock.advance(5_001);
    expect((await h.gateway.sweeper.tick()).redispatched).toContain(id);
    const hold = { attempt: 1, claim_token: claim.claim_token };
    expect((await post(`/v1/runner/submissions/${id}/heartbeat`, hold)).json()["error"]).toBe("claim_lost");
    const late = await postResult(h, id, h.runner, { ...SUCCEEDED, claim_token: claim.claim_token });
    expect(late.status).toBe(409);
    expect(h.gateway.intake.organizer.submission(id)).toMatchObject({ state: "queued", attempt: 2 });
  });
});
