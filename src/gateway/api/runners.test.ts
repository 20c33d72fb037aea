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

describe("claims of pull runners (no dispatches)", () => {
  let pull: Harness;
  beforeAll(async () => {
    pull = await startHarness({ leaseMs: 5_000, github: undefined });
  });
  afterAll(() => pull.close());
  const claimNext = (token = pull.runner) =>
    rawRequest(pull.url, {
      method: "POST",
      path: "/v1/runner/claims",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: Buffer.from(JSON.stringify({ kind: "cpu", runner: "slot-1" })),
    });

  it("a claim its runner never used (gone as the answer left) is queued again at the same attempt, no try used", async () => {
    const participant = pull.token("p-ghost");
    const uploaded = await upload(pull, participant, await GOOD_ZIP());
    const id = (uploaded.json()["submission"] as { submission_id: string }).submission_id;
    const ghost = (await claimNext()).json()["claim"] as { submission: { submission_id: string } };
    expect(ghost.submission.submission_id).toBe(id);
    pull.clock.advance(5_001);
    const swept = await pull.gateway.sweeper.tick();
    expect(swept.unclaimed).toEqual([id]);
    expect(swept.redispatched).toEqual([]);
    expect(pull.gateway.intake.organizer.submission(id)).toMatchObject({ state: "queued", attempt: 1 });
    // The next runner gets the same attempt, and a lease lost once it has downloaded costs a try.
    const next = (await claimNext()).json()["claim"] as {
      claim_token: string;
      submission: { attempt: number };
    };
    expect(next.submission.attempt).toBe(1);
    const zip = await rawRequest(pull.url, {
      path: `/v1/runner/submissions/${id}/zip?attempt=1`,
      headers: { authorization: `Bearer ${pull.runner}`, "x-proctor-claim": next.claim_token },
    });
    expect(zip.status).toBe(200);
    pull.clock.advance(5_001);
    expect((await pull.gateway.sweeper.tick()).redispatched).toEqual([id]);
    expect(pull.gateway.intake.organizer.submission(id)).toMatchObject({ state: "queued", attempt: 2 });
  });
});

describe("predictions (kept for re-scoring)", () => {
  const put = (id: string, attempt: number, body: Buffer, claim?: string, type = "application/x-tar") =>
    rawRequest(h.url, {
      method: "PUT",
      path: `/v1/runner/submissions/${id}/predictions?attempt=${attempt}`,
      headers: {
        "content-type": type,
        authorization: `Bearer ${h.runner}`,
        ...(claim && { "x-proctor-claim": claim }),
      },
      body,
    });
  const get = (id: string, attempt: number, claim?: string, token = h.runner) =>
    rawRequest(h.url, {
      path: `/v1/runner/submissions/${id}/predictions?attempt=${attempt}`,
      headers: { authorization: `Bearer ${token}`, ...(claim && { "x-proctor-claim": claim }) },
    });

  it("only the claim holding a running run keeps them; a re-score's claim fetches them, nobody else", async () => {
    await drain("cpu");
    const { id, token } = await submitted("cpu");
    const claim = (await post("/v1/runner/claims", { kind: "cpu" })).json()["claim"] as {
      claim_token: string;
    };
    const tar = Buffer.from("a tar's bytes, opaque to the gateway");
    expect((await put(id, 1, tar)).status).toBe(409); // no claim token
    expect((await put(id, 2, tar, claim.claim_token)).status).toBe(409); // not its attempt
    const wrongType = await put(id, 1, tar, claim.claim_token, "application/octet-stream");
    expect(wrongType.status).toBe(415);
    const kept = await put(id, 1, tar, claim.claim_token);
    expect(kept.status, kept.text).toBe(200);
    expect(kept.json()).toMatchObject({ bytes: tar.length, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // A run's claim does not fetch predictions; a participant never does.
    expect((await get(id, 1, claim.claim_token)).status).toBe(409);
    expect((await get(id, 1, claim.claim_token, token)).status).toBe(401);
    expect((await postResult(h, id, h.runner, { ...SUCCEEDED, claim_token: claim.claim_token })).status).toBe(
      200,
    );

    // An older runner (run only) is never given the re-score; one that says it re-scores is.
    expect(h.gateway.intake.organizer.rescores.queue({ ids: [id] }).jobs).toHaveLength(1);
    expect((await post("/v1/runner/claims", { kind: "cpu" })).json()["claim"]).toBeNull();
    const byId = await post(`/v1/runner/submissions/${id}/claim`, { attempt: 2 });
    expect(byId.status).toBe(409);
    expect(byId.json()["message"]).toMatch(/waits to be re-scored.*does not do/);
    const rescore = (await post("/v1/runner/claims", { kind: "cpu", jobs: ["run", "rescore"] })).json()[
      "claim"
    ] as { claim_token: string; job: unknown };
    expect(rescore.job).toEqual({
      kind: "rescore",
      predictions_of: 1,
      predictions_sha256: kept.json()["sha256"],
      predictions_bytes: tar.length,
    });
    expect((await download(h, id, 2, h.runner)).status).toBe(409); // no program for a re-score
    expect((await put(id, 2, tar, rescore.claim_token)).status).toBe(409); // a re-score keeps none
    const fetched = await get(id, 2, rescore.claim_token);
    expect(fetched.status).toBe(200);
    expect(fetched.text).toBe(tar.toString());
    expect(fetched.headers["x-content-sha256"]).toBe(kept.json()["sha256"]);
  });

  it("refuses predictions past the output folder's cap, and keeps nothing of them", async () => {
    await drain("cpu");
    const { id } = await submitted("cpu");
    const claim = (await post("/v1/runner/claims", { kind: "cpu" })).json()["claim"] as {
      claim_token: string;
    };
    const cap = h.competition.limits.outputBytes + 1024 * (h.competition.limits.outputFiles + 2);
    const big = await put(id, 1, Buffer.alloc(cap + 1), claim.claim_token);
    expect(big.status).toBe(400);
    expect(big.json()).toMatchObject({ error: "predictions_too_large" });
    expect(big.json()["message"]).toMatch(/limits\.output/);
    expect(h.gateway.intake.organizer.submission(id).attempts[0]!.predictionsSha256).toBeNull();
  });
});
