import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { IntakeDb } from "../intake/index.js";
import {
  GOOD_ZIP,
  SUCCEEDED,
  download,
  getJson,
  multipart,
  postResult,
  rawRequest,
  startHarness,
  COMPETITION_YML,
  upload,
  zipOf,
  type Harness,
} from "./test-support/harness.js";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());
afterEach(() => h.fake.clearFaults());

/** Uploads a good zip as a new participant; returns the token, id and the dispatch it caused. */
async function submitted(participant = `p-${Math.random().toString(36).slice(2, 8)}`) {
  const token = h.token(participant);
  const zip = await GOOD_ZIP();
  const response = await upload(h, token, zip);
  expect(response.status, response.text).toBe(202);
  const id = (response.json()["submission"] as { submission_id: string }).submission_id;
  const dispatch = h.dispatches().find((d) => d.submission_id === id)!;
  return { token, id, zip, dispatch, participant, response };
}

describe("upload", () => {
  it("stores the zip under a server-made id, records it queued and dispatches references only", async () => {
    const { id, zip, dispatch, participant, response } = await submitted("alice");
    expect(id).toMatch(/^sub-[A-Za-z0-9_-]{22}$/);
    expect(response.headers["location"]).toBe(`/v1/submissions/${id}`);
    const body = response.json() as { submission: Record<string, unknown>; quota: Record<string, unknown> };
    expect(body.submission).toMatchObject({
      submission_id: id,
      participant: "alice",
      state: "queued",
      status: null,
      zip_sha256: sha256(zip),
      zip_bytes: zip.length,
      dispatch: { state: "sent", attempts: 1, last_error: null },
    });
    expect(body.quota).toMatchObject({ used_today: 1, daily_limit: 3, remaining_today: 2 });

    // Public identifiers only: the payload is printed in the run log for anyone to read.
    expect(Object.keys(dispatch).sort()).toEqual(
      ["attempt", "cpu_or_gpu", "participant", "submission_id", "submission_sha256", "submitted_at"].sort(),
    );
    expect(dispatch).toEqual({
      submission_id: id,
      participant,
      cpu_or_gpu: "cpu",
      submission_sha256: sha256(zip),
      submitted_at: "2025-03-01T10:00:00.000Z",
      attempt: 1,
    });
    expect(JSON.stringify(h.fake.dispatches("org", "comp").at(-1))).not.toContain(
      zip.toString("base64").slice(0, 40),
    );

    const file = path.join(h.dataDir, "submissions", `${id}.zip`);
    expect(await readFile(file)).toEqual(zip);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(h.dataDir, "submissions"))).mode & 0o777).toBe(0o700);
    expect((await stat(h.dataDir)).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(h.dataDir, "intake.sqlite"))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(h.dataDir, "intake.sqlite-wal"))).mode & 0o777).toBe(0o600);
  });

  it("keeps only hashes of participant tokens and runner credentials", async () => {
    const { token } = await submitted();
    const db = await readFile(path.join(h.dataDir, "intake.sqlite"));
    const wal = await readFile(path.join(h.dataDir, "intake.sqlite-wal")).catch(() => Buffer.alloc(0));
    for (const secret of [token.slice(-43), h.runner.slice(-43)]) {
      expect(db.includes(secret)).toBe(false);
      expect(wal.includes(secret)).toBe(false);
    }
  });

  it("takes cpu_or_gpu from a field before the file, or from the query", async () => {
    const token = h.token("gpu-user");
    const a = await upload(h, token, await GOOD_ZIP(), { fields: { cpu_or_gpu: "gpu" } });
    const b = await upload(h, token, await GOOD_ZIP(), { query: "?cpu_or_gpu=gpu" });
    const bad = await upload(h, token, await GOOD_ZIP(), { query: "?cpu_or_gpu=tpu" });
    expect([a.status, b.status, bad.status]).toEqual([202, 202, 400]);
    expect(bad.json()["message"]).toMatch(/cpu_or_gpu must be cpu or gpu/);
    for (const r of [a, b]) {
      const id = (r.json()["submission"] as { submission_id: string }).submission_id;
      expect(h.dispatches().find((d) => d.submission_id === id)?.cpu_or_gpu).toBe("gpu");
    }
  });

  it("refuses a kind of runner the competition has none of, before keeping anything", async () => {
    const cpuOnly = await startHarness({}, COMPETITION_YML.replace("runners: [cpu, gpu]", "runners: [cpu]"));
    try {
      const r = await upload(cpuOnly, cpuOnly.token("hopeful"), await GOOD_ZIP(), {
        query: "?cpu_or_gpu=gpu",
      });
      expect(r.status).toBe(400);
      expect(r.json()).toMatchObject({ error: "no_runners" });
      expect(String(r.json()["message"])).toMatch(/no gpu runners.*submit with cpu_or_gpu "cpu"/);
      expect(await cpuOnly.storedFiles()).toEqual([]);
      expect(cpuOnly.dispatches()).toEqual([]);
    } finally {
      await cpuOnly.close();
    }
  });

  it("answers a malformed multipart body with 400, not 500, and keeps nothing", async () => {
    const token = h.token("garbler");
    const before = await h.storedFiles();
    const boundary = "----broken";
    for (const body of [
      `--${boundary}\r\nContent-Disposition: form-data; name="submission"; filename="a.zip"\r\n\r\nPK\u0003\u0004 no end`,
      `--${boundary}\r\nthis is not a header\r\n\r\n`,
      "no boundary at all",
    ]) {
      const r = await rawRequest(h.url, {
        method: "POST",
        path: "/v1/submissions",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": `multipart/form-data; boundary=${boundary}`,
        },
        body: Buffer.from(body),
      });
      expect(r.status, r.text).toBe(400);
      expect(r.json()["error"]).toBe("bad_upload");
    }
    expect(await h.storedFiles()).toEqual(before);
    expect((await getJson(h, "/healthz")).status).toBe(200);
  });
});

describe("authentication", () => {
  it("refuses a missing, malformed, unknown or forged token with 401 and keeps nothing", async () => {
    const zip = await GOOD_ZIP();
    const real = h.token("mallory");
    const forged = real.slice(0, -4) + (real.endsWith("AAAA") ? "BBBB" : "AAAA");
    const before = await h.storedFiles();
    for (const token of [undefined, "nonsense", "pct_000000000000_" + "A".repeat(43), forged]) {
      const r = await upload(h, token, zip);
      expect(r.status).toBe(401);
      expect(r.json()).toMatchObject({ error: "unauthorized" });
      expect(r.headers["www-authenticate"]).toMatch(/^Bearer/);
    }
    expect((await getJson(h, "/v1/submissions")).status).toBe(401);
    expect(await h.storedFiles()).toEqual(before);
  });

  it("refuses a revoked token at once", async () => {
    const issued = h.gateway.intake.tokens.add("revoked-user");
    expect((await getJson(h, "/v1/submissions", issued.token)).status).toBe(200);
    h.gateway.intake.tokens.revoke(issued.id);
    expect((await getJson(h, "/v1/submissions", issued.token)).status).toBe(401);
    expect((await upload(h, issued.token, await GOOD_ZIP())).status).toBe(401);
  });

  it("shows a submission only to its owner: anyone else gets 404, as for an id that does not exist", async () => {
    const { id, token } = await submitted("owner");
    const other = h.token("someone-else");
    expect((await getJson(h, `/v1/submissions/${id}`, token)).status).toBe(200);
    const theirs = await getJson(h, `/v1/submissions/${id}`, other);
    const none = await getJson(h, `/v1/submissions/sub-${"x".repeat(22)}`, other);
    expect([theirs.status, none.status]).toEqual([404, 404]);
    expect(theirs.json()["error"]).toBe(none.json()["error"]);
    const list = await getJson(h, "/v1/submissions", other);
    expect((list.json()["submissions"] as unknown[]).length).toBe(0);
  });
});

describe("paths", () => {
  it("ignores the multipart file name: ../../etc/passwd is stored as the submission id", async () => {
    const token = h.token("traveller");
    const r = await upload(h, token, await GOOD_ZIP(), { filename: "../../etc/passwd" });
    expect(r.status).toBe(202);
    const id = (r.json()["submission"] as { submission_id: string }).submission_id;
    expect(await h.storedFiles()).toContain(`${id}.zip`);
    expect((await h.storedFiles()).every((f) => /^sub-[A-Za-z0-9_-]{22}\.zip$/.test(f))).toBe(true);
  });

  it("answers 404 to ids with .. or slashes, in every route", async () => {
    const token = h.token("prober");
    for (const id of ["..", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "sub-..%2f..%2fintake.sqlite"]) {
      for (const [route, bearer] of [
        [`/v1/submissions/${id}`, token],
        [`/v1/runner/submissions/${id}`, h.runner],
        [`/v1/runner/submissions/${id}/zip?attempt=1`, h.runner],
      ]) {
        const r = await rawRequest(h.url, { path: route!, headers: { authorization: `Bearer ${bearer}` } });
        expect(r.status, `${route}: ${r.text}`).toBe(404);
      }
    }
    const raw = await rawRequest(h.url, { path: "/v1/submissions/../../intake.sqlite" });
    expect(raw.status).toBe(404);
  });
});

describe("size cap", () => {
  it("refuses an upload whose Content-Length is over the cap before reading it", async () => {
    const token = h.token("big-honest");
    const r = await upload(h, token, Buffer.alloc(3 * 1024 * 1024, 7));
    expect(r.status).toBe(413);
    expect(r.json()).toMatchObject({ error: "upload_too_large", limit_bytes: 1024 * 1024 });
  });

  it("cuts off a chunked upload while streaming and leaves nothing on disk; the server stays healthy", async () => {
    const token = h.token("big-liar");
    const before = await h.storedFiles();
    const { body, contentType } = multipart(Buffer.alloc(0));
    const head = body.subarray(0, body.length - `\r\n--x--\r\n`.length - 36);
    let sent = 0;
    const r = await rawRequest(h.url, {
      method: "POST",
      path: "/v1/submissions",
      headers: {
        "content-type": contentType,
        authorization: `Bearer ${token}`,
        "transfer-encoding": "chunked",
      },
      body: async function* () {
        yield head;
        // Up to 64 MiB of zip data: far past the 1 MiB cap; the server must stop it long before.
        for (let i = 0; i < 1024; i += 1) {
          sent += 64 * 1024;
          yield Buffer.alloc(64 * 1024, i % 256);
        }
      },
    });
    expect(r.status).toBe(413);
    expect(r.json()["error"]).toBe("upload_too_large");
    expect(sent).toBeLessThan(32 * 1024 * 1024);
    expect(await h.storedFiles()).toEqual(before);
    expect((await getJson(h, "/healthz")).status).toBe(200);
    expect((await upload(h, token, await GOOD_ZIP())).status).toBe(202);
  });
});

describe("zip checks", () => {
  it("refuses a non-zip with 422 not_a_zip, keeps nothing, dispatches nothing, counts nothing", async () => {
    const token = h.token("not-zip");
    const dispatches = h.dispatches().length;
    const before = await h.storedFiles();
    const r = await upload(h, token, Buffer.from("this is not a zip file at all"));
    expect(r.status).toBe(422);
    expect(r.json()).toMatchObject({ error: "invalid_submission", rule: "not_a_zip" });
    // Named as its sender knows it, never by the gateway's storage file (sub-….zip).
    expect(r.json()["message"]).toMatch(/^"the uploaded zip" is not a valid zip archive/);
    expect(r.json()["message"]).not.toMatch(/sub-/);
    expect(await h.storedFiles()).toEqual(before);
    expect(h.dispatches().length).toBe(dispatches);
    const list = await getJson(h, "/v1/submissions", token);
    expect(list.json()["quota"]).toMatchObject({ used_today: 0 });
  });

  it("names the entry and the rule of a zip refused by the checks", async () => {
    const token = h.token("bad-zip");
    const noMain = await upload(h, token, await zipOf({ "model.txt": "x" }));
    expect(noMain.status).toBe(422);
    expect(noMain.json()).toMatchObject({ rule: "no_entrypoint" });
    expect(String(noMain.json()["message"])).toMatch(/^"the uploaded zip" has no main\.py or main\.sh/);
    const { writeRaw } = await import("../submission/test-support/fixtures.js");
    const file = path.join(h.dir, "traversal.zip");
    await writeRaw(file, [
      { name: "main.py", data: Buffer.from("x") },
      { name: "../evil.py", data: Buffer.from("x") },
    ]);
    const traversal = await upload(h, token, await readFile(file));
    expect(traversal.status).toBe(422);
    expect(traversal.json()).toMatchObject({
      error: "invalid_submission",
      rule: "parent_segment",
      entry: "../evil.py",
    });
  });
});

describe("limits", () => {
  it("answers 429 with the reason and when it resets once the daily limit is used", async () => {
    const token = h.token("eager");
    for (let i = 0; i < 3; i += 1) expect((await upload(h, token, await GOOD_ZIP())).status).toBe(202);
    const before = await h.storedFiles();
    const r = await upload(h, token, await GOOD_ZIP());
    expect(r.status).toBe(429);
    expect(r.json()).toMatchObject({
      error: "quota_exceeded",
      resets_at: "2025-03-02T00:00:00.000Z",
      quota: { used_today: 3, remaining_today: 0 },
    });
    expect(String(r.json()["message"])).toMatch(/daily submission limit reached: eager has used 3 of 3/);
    expect(Number(r.headers["retry-after"])).toBeGreaterThan(0);
    expect(await h.storedFiles()).toEqual(before);
    const list = await getJson(h, "/v1/submissions", token);
    expect(list.json()["quota"]).toMatchObject({ remaining_today: 0, remaining_total: 7 });
  });

  it("lets only the allowed number through when uploads race", async () => {
    const token = h.token("racer");
    const zip = await GOOD_ZIP();
    const answers = await Promise.all(Array.from({ length: 6 }, () => upload(h, token, zip)));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([202, 202, 202, 429, 429, 429]);
  });
});

describe("runner side", () => {
  it("knowing the dispatch payload is not enough: no credential, a participant token or a forged one get 401", async () => {
    const { id, token } = await submitted();
    const forged = h.runner.slice(0, -4) + (h.runner.endsWith("AAAA") ? "BBBB" : "AAAA");
    const revoked = h.gateway.intake.runners.add("old-runner");
    h.gateway.intake.runners.revoke(revoked.id);
    for (const credential of [
      undefined,
      token,
      forged,
      revoked.token,
      "prc_000000000000_" + "A".repeat(43),
    ]) {
      const zip = await download(h, id, 1, credential);
      expect(zip.status, zip.text).toBe(401);
      expect(zip.json()["error"]).toBe("unauthorized");
      expect(zip.bytes.includes(Buffer.from("PK"))).toBe(false);
      expect((await postResult(h, id, credential, SUCCEEDED)).status).toBe(401);
      expect((await getJson(h, `/v1/runner/submissions/${id}`, credential)).status).toBe(401);
    }
    // Nothing moved: still queued, no result.
    expect((await getJson(h, `/v1/submissions/${id}`, token)).json()).toMatchObject({
      state: "queued",
      status: null,
    });
    // And a runner credential opens no participant route.
    expect((await getJson(h, "/v1/submissions", h.runner)).status).toBe(401);
    expect((await upload(h, h.runner, await GOOD_ZIP())).status).toBe(401);
  });

  it("serves the submission and the zip of the current attempt to a runner, and marks it running", async () => {
    const { id, zip, token, participant } = await submitted();
    const view = (await getJson(h, `/v1/runner/submissions/${id}`, h.runner)).json();
    expect(view).toEqual({
      submission_id: id,
      participant,
      cpu_or_gpu: "cpu",
      submission_sha256: sha256(zip),
      zip_bytes: zip.length,
      submitted_at: "2025-03-01T10:00:00.000Z",
      attempt: 1,
      state: "queued",
      phase: null, // competition.yml has no phases
      result: null,
    });
    for (const attempt of [2, 0, "x", ""]) {
      const r = await download(h, id, attempt, h.runner);
      expect(r.status, String(attempt)).toBe(409);
    }
    expect((await getJson(h, `/v1/submissions/${id}`, token)).json()["state"]).toBe("queued");

    const ok = await download(h, id, 1, h.runner);
    expect(ok.status).toBe(200);
    expect(ok.headers["content-type"]).toBe("application/zip");
    expect(ok.headers["x-content-sha256"]).toBe(sha256(zip));
    expect(ok.bytes).toEqual(zip);
    expect((await getJson(h, `/v1/submissions/${id}`, token)).json()).toMatchObject({
      state: "running",
      started_at: "2025-03-01T10:00:00.000Z",
    });
  });

  it("records a final result once; the owner sees status, the rounded score and capped logs", async () => {
    const { id, token } = await submitted("scorer");
    const r = await postResult(h, id, h.runner, { ...SUCCEEDED, public_score: 0.87512345 });
    expect(r.status, r.text).toBe(200);
    expect(r.json()).toEqual({ submission_id: id, state: "final", status: "succeeded" });
    const replay = await postResult(h, id, h.runner, { ...SUCCEEDED, public_score: 1 });
    expect(replay.status).toBe(409);
    expect(replay.json()["error"]).toBe("result_conflict");
    expect((await postResult(h, id, h.runner, { attempt: 1, status: "running" })).status).toBe(409);
    expect((await download(h, id, 1, h.runner)).status).toBe(409);

    const view = (await getJson(h, `/v1/submissions/${id}`, token)).json();
    expect(view).toMatchObject({
      state: "final",
      status: "succeeded",
      reason: "scored",
      public_score: 0.8751, // precision 4: more digits would help probe the hidden set
      duration_ms: 1234,
      finished_at: "2025-03-01T10:00:00.000Z",
      logs: { visibility: "tail", stdout: "line 3\nline 4", stderr: "" },
    });
    expect(JSON.stringify(view)).not.toContain("sealed-blob");
    expect(JSON.stringify(view)).not.toContain("0.87512345");
    expect((await getJson(h, `/v1/runner/submissions/${id}`, h.runner)).json()).toMatchObject({
      state: "final",
      result: { status: "succeeded", private_score_sealed: "sealed-blob", duration_ms: 1234 },
    });
  });

  it("shows results.json to its owner only where the phase shows the program's output", async () => {
    const { id, token } = await submitted("gc");
    const results = '[{"id": "a", "label": 1}]';
    expect((await postResult(h, id, h.runner, { ...SUCCEEDED, results_json: results })).status).toBe(200);
    expect((await getJson(h, `/v1/submissions/${id}`, token)).json()["results_json"]).toBe(results);
    const silent = await startHarness({}, COMPETITION_YML.replace("evaluation: tail", "evaluation: none"));
    try {
      const mine = silent.token("gc-hidden");
      const r = await upload(silent, mine, await GOOD_ZIP());
      const hidden = (r.json()["submission"] as { submission_id: string }).submission_id;
      await postResult(silent, hidden, silent.runner, { ...SUCCEEDED, results_json: results });
      expect((await getJson(silent, `/v1/submissions/${hidden}`, mine)).json()).toMatchObject({
        results_json: null,
        logs: { visibility: "none", stdout: "" },
      });
    } finally {
      await silent.close();
    }
  });

  it("validates the report: unknown keys, scores on a failed run and bad statuses are 400 naming the field", async () => {
    const { id } = await submitted();
    const cases: [unknown, RegExp][] = [
      [{ ...SUCCEEDED, extra: 1 }, /extra/],
      [{ ...SUCCEEDED, status: "failed" }, /public_score: only succeeded runs carry scores/],
      [{ ...SUCCEEDED, status: "exploded" }, /status/],
      [{ ...SUCCEEDED, duration_ms: -1 }, /duration_ms/],
      [{ ...SUCCEEDED, attempt: 0 }, /attempt/],
      [{ attempt: 1, status: "running", reason: "x" }, /reason/],
    ];
    for (const [body, message] of cases) {
      const r = await postResult(h, id, h.runner, body);
      expect(r.status, r.text).toBe(400);
      expect(r.json()["error"]).toBe("invalid_report");
      expect(String(r.json()["message"])).toMatch(message);
    }
    const notJson = await rawRequest(h.url, {
      method: "POST",
      path: `/v1/runner/submissions/${id}/result`,
      headers: { "content-type": "application/json", authorization: `Bearer ${h.runner}` },
      body: Buffer.from("{not json"),
    });
    expect(notJson.status).toBe(400);
  });

  it("takes an explicit running report, then the final one; visible logs are capped in bytes", async () => {
    const { id, token } = await submitted();
    const running = { attempt: 1, status: "running" };
    expect((await postResult(h, id, h.runner, running)).json()).toMatchObject({ state: "running" });
    expect((await postResult(h, id, h.runner, running)).status).toBe(200);
    const failed = {
      attempt: 1,
      status: "failed",
      reason: "exit code 1",
      public_score: null,
      duration_ms: 10,
      image_digest: "",
      stderr: `a\nb\n${"é".repeat(20_000)}\nTraceback\n`,
    };
    expect((await postResult(h, id, h.runner, failed)).status).toBe(200);
    const view = (await getJson(h, `/v1/submissions/${id}`, token)).json() as {
      logs: { stderr: string };
    };
    expect(view).toMatchObject({ status: "failed", public_score: null });
    // tail_lines 2, then at most logs.max_bytes (16 KiB by default), cut on a character boundary.
    expect(view.logs.stderr).toMatch(/^\[… \d+ earlier bytes not shown\]\né+\nTraceback$/);
    expect(Buffer.byteLength(view.logs.stderr)).toBeLessThanOrEqual(16 * 1024 + 64);
    expect(view.logs.stderr).not.toContain("\uFFFD");
  });

  it("an infrastructure_error report runs the submission again without counting it and shows no logs", async () => {
    const { id, token } = await submitted("unlucky-runner");
    expect((await download(h, id, 1, h.runner)).status).toBe(200);
    const infra = {
      attempt: 1,
      status: "infrastructure_error",
      reason: "the engine went away",
      public_score: null,
      duration_ms: 0,
      image_digest: "",
    };
    expect((await postResult(h, id, h.runner, infra)).json()).toMatchObject({ state: "queued" });
    await h.gateway.intake.idle();
    expect(
      h
        .dispatches()
        .filter((d) => d.submission_id === id)
        .map((d) => d.attempt),
    ).toEqual([1, 2]);
    expect((await download(h, id, 2, h.runner)).status).toBe(200);
    expect((await postResult(h, id, h.runner, { ...infra, attempt: 2, stdout: "hidden row 1" })).status).toBe(
      400,
    );
    expect((await postResult(h, id, h.runner, { ...infra, attempt: 2 })).status).toBe(200);
    const view = (await getJson(h, `/v1/submissions/${id}`, token)).json();
    expect(view).toMatchObject({ state: "final", status: "infrastructure_error", attempt: 2 });
    expect(view["logs"]).toEqual({ visibility: "none", stdout: "", stderr: "" });
    expect((await getJson(h, "/v1/submissions", token)).json()["quota"]).toMatchObject({ used_today: 0 });
  });
});

describe("leaderboard", () => {
  it("ranks the intake's final results by public score, in JSON and HTML, never with private scores", async () => {
    const json = (await getJson(h, "/v1/leaderboard")).json() as {
      format: string;
      mode: string;
      rows: Record<string, unknown>[];
    };
    expect(json.format).toBe("proctor.leaderboard/v1");
    expect(json.mode).toBe("public");
    expect(json.rows.find((r) => r["participant"] === "scorer")).toMatchObject({
      rank: 1,
      publicScore: 0.8751, // reported 0.87512345; shown at precision 4
    });
    expect(json.rows.every((r) => !("privateScore" in r))).toBe(true);
    const html = await getJson(h, "/leaderboard");
    expect(html.status).toBe(200);
    expect(html.headers["content-type"]).toMatch(/^text\/html/);
    expect(html.text).toContain("Test &lt;Competition&gt;");
    expect(html.text).toContain("scorer");
    expect(html.text).not.toContain("sealed-blob");
  });

  it("renders once per change: the same ETag until a result is recorded or the queue changes, 304 for a fresh copy", async () => {
    const first = await getJson(h, "/leaderboard");
    const etag = String(first.headers["etag"]);
    expect(etag).toMatch(/^"lb-\d+-[0-9a-f]{16}"$/);
    const cached = await rawRequest(h.url, { path: "/leaderboard", headers: { "if-none-match": etag } });
    expect(cached.status).toBe(304);
    expect(cached.text).toBe("");
    const { id } = await submitted("newcomer");
    const queued = await getJson(h, "/leaderboard"); // the page says what is queued
    expect(queued.headers["etag"]).not.toBe(etag);
    expect(queued.text).toMatch(/\d+ submissions? (is|are) queued or running/);
    expect((await getJson(h, "/leaderboard")).headers["etag"]).toBe(queued.headers["etag"]);
    await postResult(h, id, h.runner, { ...SUCCEEDED, public_score: 0.5 });
    const after = await getJson(h, "/leaderboard");
    expect(after.headers["etag"]).not.toBe(queued.headers["etag"]);
    expect(after.text).toContain("newcomer");
    const json = (await getJson(h, "/v1/leaderboard")).json() as { rows: Record<string, unknown>[] };
    expect(json.rows.find((r) => r["participant"] === "newcomer")).toMatchObject({ publicScore: 0.5 });
  });
});

describe("dispatch failures", () => {
  it("keeps the submission queued when GitHub fails, reports it, and the sweeper sends it later", async () => {
    h.fake.inject({ kind: "server-error", status: 502 }, { times: 2, path: /\/dispatches$/ });
    const token = h.token("unlucky");
    const r = await upload(h, token, await GOOD_ZIP());
    expect(r.status).toBe(202);
    const id = (r.json()["submission"] as { submission_id: string }).submission_id;
    expect(h.dispatches().some((d) => d.submission_id === id)).toBe(false);
    const view = (await getJson(h, `/v1/submissions/${id}`, token)).json();
    expect(view).toMatchObject({
      state: "queued",
      dispatch: { state: "pending", attempts: 1, next_attempt_at: "2025-03-01T10:00:01.000Z" },
    });
    expect(String((view["dispatch"] as Record<string, unknown>)["last_error"])).toMatch(/retries by itself/);

    expect((await h.gateway.sweeper.tick()).dispatched).toEqual([]); // not due yet
    h.clock.advance(1000);
    expect((await h.gateway.sweeper.tick()).dispatchFailed).toEqual([id]); // the second fault
    h.clock.advance(2000);
    expect((await h.gateway.sweeper.tick()).dispatched).toEqual([id]);
    expect(h.dispatches().filter((d) => d.submission_id === id)).toHaveLength(1);
    expect((await getJson(h, `/v1/submissions/${id}`, token)).json()).toMatchObject({
      state: "queued",
      dispatch: { state: "sent", attempts: 3, last_error: null, next_attempt_at: null },
    });
  });
});

describe("sweeper", () => {
  it("re-dispatches a run stuck past the time limit + grace once, then leaves it infrastructure_error", async () => {
    const { id, token, participant } = await submitted();
    expect((await download(h, id, 1, h.runner)).status).toBe(200);
    // time 2s + grace 1s + the gateway's grace 1s = 4s
    h.clock.advance(4000);
    expect((await h.gateway.sweeper.tick()).redispatched).not.toContain(id);
    h.clock.advance(1);
    const first = await h.gateway.sweeper.tick();
    expect(first.redispatched).toContain(id);
    expect(first.dispatched).toContain(id);
    const again = h.dispatches().filter((d) => d.submission_id === id);
    expect(again.map((d) => d.attempt)).toEqual([1, 2]);
    expect((await getJson(h, `/v1/submissions/${id}`, token)).json()).toMatchObject({
      state: "queued",
      attempt: 2,
      earlier_attempts: [{ attempt: 1, status: "infrastructure_error" }],
    });
    // The lost runner turns up late: its attempt was given up on.
    const late = await postResult(h, id, h.runner, SUCCEEDED);
    expect(late.status).toBe(409);
    expect(String(late.json()["message"])).toMatch(/at attempt 2, not 1: an earlier attempt was given up on/);

    expect((await download(h, id, 2, h.runner)).status).toBe(200);
    h.clock.advance(4001);
    const second = await h.gateway.sweeper.tick();
    expect(second.failed).toContain(id);
    const view = (await getJson(h, `/v1/submissions/${id}`, token)).json();
    expect(view).toMatchObject({ state: "final", status: "infrastructure_error", attempt: 2 });
    expect((await postResult(h, id, h.runner, { ...SUCCEEDED, attempt: 2 })).status).toBe(409);
    // Infrastructure errors never count against the participant.
    const list = (await getJson(h, "/v1/submissions", token)).json();
    expect(list["quota"]).toMatchObject({ used_today: 0 });
    expect(h.gateway.intake.entries().find((e) => e.submissionId === id)?.participant).toBe(participant);
  });

  it("re-dispatches a submission no runner picked up by the pickup deadline once, then ends it uncounted", async () => {
    const lonely = await startHarness({ pickupDeadlineMs: 60_000 });
    try {
      const token = lonely.token("nobody-home");
      const r = await upload(lonely, token, await GOOD_ZIP());
      const id = (r.json()["submission"] as { submission_id: string }).submission_id;
      lonely.clock.advance(60_000);
      expect((await lonely.gateway.sweeper.tick()).redispatched).toEqual([]);
      lonely.clock.advance(1);
      expect((await lonely.gateway.sweeper.tick()).redispatched).toEqual([id]);
      expect(lonely.dispatches().map((d) => d.attempt)).toEqual([1, 2]);
      expect((await getJson(lonely, "/v1/submissions", token)).json()["quota"]).toMatchObject({
        used_today: 1,
      });
      lonely.clock.advance(60_001);
      expect((await lonely.gateway.sweeper.tick()).failed).toEqual([id]);
      const view = (await getJson(lonely, `/v1/submissions/${id}`, token)).json();
      expect(view).toMatchObject({ state: "final", status: "infrastructure_error", attempt: 2 });
      expect(String(view["reason"])).toMatch(/no cpu runner picked up attempt 2 within 1m.*does not count/);
      // It no longer takes up the participant's limits.
      expect((await getJson(lonely, "/v1/submissions", token)).json()["quota"]).toMatchObject({
        used_today: 0,
        used_total: 0,
      });
    } finally {
      await lonely.close();
    }
  });
});

describe("rate limits and storage", () => {
  it("answers 429 rate_limited past the per-token request rate", async () => {
    const limited = await startHarness({ rateLimit: { max: 3, uploadsMax: 1, timeWindowMs: 60_000 } });
    try {
      const token = limited.token("spammer");
      const statuses: number[] = [];
      for (let i = 0; i < 4; i += 1) statuses.push((await getJson(limited, "/v1/submissions", token)).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const body = (await getJson(limited, "/v1/submissions", token)).json();
      expect(body["error"]).toBe("rate_limited");
    } finally {
      await limited.close();
    }
  });

  it("keys the rate limit on verified tokens only: made-up and copied token ids count against the address", async () => {
    const limited = await startHarness({ rateLimit: { max: 3, uploadsMax: 1, timeWindowMs: 60_000 } });
    try {
      const victim = limited.gateway.intake.tokens.add("victim");
      const copied = `pct_${victim.id}_${"A".repeat(43)}`;
      const madeUp = (i: number) => `pct_${i.toString(16).padStart(12, "0")}_${"B".repeat(43)}`;
      const attacker: number[] = [];
      for (let i = 0; i < 3; i += 1)
        attacker.push((await getJson(limited, "/v1/leaderboard", madeUp(i))).status);
      attacker.push((await getJson(limited, "/v1/leaderboard", copied)).status);
      expect(attacker).toEqual([200, 200, 200, 429]);
      // The victim's own budget is untouched by requests that named their token id.
      expect((await getJson(limited, "/v1/submissions", victim.token)).status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it("never limits a verified runner (a 429 to a heartbeat loses a lease); a made-up runner credential counts against its address", async () => {
    const limited = await startHarness({ rateLimit: { max: 3, uploadsMax: 1, timeWindowMs: 60_000 } });
    try {
      const uploaded = await upload(limited, limited.token("busy"), await GOOD_ZIP());
      const id = (uploaded.json()["submission"] as { submission_id: string }).submission_id;
      const runner: number[] = [];
      for (let i = 0; i < 6; i += 1) {
        const view = await rawRequest(limited.url, {
          path: `/v1/runner/submissions/${id}`,
          headers: { authorization: `Bearer ${limited.runner}` },
        });
        runner.push(view.status);
      }
      expect(runner).toEqual([200, 200, 200, 200, 200, 200]);
      const forged = `prc_${"0".repeat(12)}_${"C".repeat(43)}`;
      const statuses: number[] = [];
      for (let i = 0; i < 4; i += 1)
        statuses.push((await getJson(limited, "/v1/leaderboard", forged)).status);
      expect(statuses.at(-1)).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it("removes partial uploads left by a crash when it starts", async () => {
    const { writeFile } = await import("node:fs/promises");
    const other = await startHarness();
    const dir = path.join(other.dataDir, "submissions");
    await other.gateway.close();
    await writeFile(path.join(dir, `sub-${"B".repeat(22)}.zip.partial`), "half");
    const { createGateway } = await import("./gateway.js");
    const again = createGateway({
      competition: other.competition,
      dataDir: other.dataDir,
      github: { client: h.gateway.app as never, owner: "o", repo: "r" },
      dispatch: async () => {},
      sweepIntervalMs: 0,
    });
    await again.app.ready();
    expect(await other.storedFiles()).toEqual([]);
    await again.close();
    await other.fake.close();
    // the database is still a valid intake database
    new IntakeDb(path.join(other.dataDir, "intake.sqlite")).close();
  });
});

describe("runner client", () => {
  it("reads, downloads and reports with the runner credential; a repeat is a conflict, a forged credential an error", async () => {
    const { downloadAttempt, finalReport, runnerSubmission, sendResultReport } =
      await import("../gateway-api/index.js");
    const { mkdtemp, rm } = await import("node:fs/promises");
    const os = await import("node:os");
    const { id, zip, token } = await submitted();
    const gateway = { server: h.url, token: h.runner };
    const view = await runnerSubmission(gateway, id);
    const dir = await mkdtemp(path.join(os.tmpdir(), "proctor-runner-client-"));
    try {
      const fetched = await downloadAttempt(gateway, id, view.attempt, path.join(dir, "s.zip"), {
        maxBytes: 1e6,
        sha256: view.submission_sha256,
      });
      expect(fetched).toEqual({ sha256: sha256(zip), bytes: zip.length });
      await expect(
        downloadAttempt({ ...gateway, token }, id, 1, path.join(dir, "t.zip"), {
          maxBytes: 1e6,
          sha256: view.submission_sha256,
        }),
      ).rejects.toThrow(/HTTP 401/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const report = finalReport({
      attempt: 1,
      status: "output_invalid",
      reason: "2 problems",
      publicScore: null,
      sealedPrivateScore: null,
      durationMs: 5,
      imageDigest: "",
      problems: ["line 2: bad", "line 3: bad"],
    });
    expect(await sendResultReport(gateway, id, report, { retryBaseMs: 1 })).toEqual({
      outcome: "recorded",
      state: "final",
      status: "output_invalid",
    });
    expect(await sendResultReport(gateway, id, report, { retryBaseMs: 1 })).toMatchObject({
      outcome: "conflict",
    });
    await expect(
      sendResultReport({ ...gateway, token: "prc_forged" }, id, report, { retryBaseMs: 1 }),
    ).rejects.toThrow(/no valid runner credential/);
    expect((await getJson(h, `/v1/submissions/${id}`, token)).json()["problems"]).toEqual([
      "line 2: bad",
      "line 3: bad",
    ]);
  });

  it("retries a gateway that answers 5xx or cannot be reached", async () => {
    const { sendResultReport } = await import("../gateway-api/index.js");
    const http = await import("node:http");
    let calls = 0;
    const server = http.createServer((request, response) => {
      calls += 1;
      request.resume();
      if (calls < 3) {
        response.writeHead(503).end("busy");
        return;
      }
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ submission_id: "x", state: "running", status: null }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const { port } = server.address() as import("node:net").AddressInfo;
    try {
      const outcome = await sendResultReport(
        { server: `http://127.0.0.1:${port}`, token: "prc_x" },
        "x",
        { attempt: 1, status: "running" },
        { retryBaseMs: 1 },
      );
      expect(outcome).toEqual({ outcome: "recorded", state: "running", status: null });
      expect(calls).toBe(3);
    } finally {
      server.close();
    }
  });
});
