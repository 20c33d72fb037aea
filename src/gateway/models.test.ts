import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  claimById,
  downloadModel,
  GatewayApiError,
  uploadSubmission,
  type GatewayCredentials,
} from "../gateway-api/index.js";
import { dir, file, imageArchive, symlink, tarBytes } from "../submission/test-support/image-tar.js";
import { renderHtml } from "../leaderboard/index.js";
import {
  COMPETITION_YML,
  getJson,
  GOOD_ZIP,
  postResult,
  rawRequest,
  startHarness,
  SUCCEEDED,
  upload,
  type Harness,
} from "./test-support/harness.js";

/**
 * A Grand Challenge model tarball travels with its image: uploaded as a second file part (`model`), checked
 * and kept beside the image, downloaded by the runner that holds the claim. Real gateways, real clients.
 */
const IMAGE_YML =
  `${COMPETITION_YML}submission: { kind: image, image: { max_size: 64k, contract: grand-challenge, ` +
  `max_model: 8k } }\n`;

let images: Harness;
let zips: Harness;
let work: string;
beforeAll(async () => {
  [images, zips] = await Promise.all([startHarness({}, IMAGE_YML), startHarness()]);
  work = await mkdtemp(path.join(os.tmpdir(), "proctor-models-"));
});
afterAll(async () => {
  await Promise.all([images.close(), zips.close()]);
  await rm(work, { recursive: true, force: true });
});

let files = 0;
async function saved(data: Buffer, name: string): Promise<string> {
  const file = path.join(work, `${files++}-${name}`);
  await writeFile(file, data);
  return file;
}

const participant = (h: Harness, who: string): GatewayCredentials => ({ server: h.url, token: h.token(who) });
const runner = (h: Harness): GatewayCredentials => ({ server: h.url, token: h.runner });

async function refusal(promise: Promise<unknown>): Promise<GatewayApiError> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(GatewayApiError);
  return error as GatewayApiError;
}

describe("a model tarball with an image submission", () => {
  it("is kept beside the image and downloaded by the claim's runner byte for byte; none is 404 no_model", async () => {
    const model = gzipSync(await tarBytes([dir("weights/"), file("weights/w.json", '{"bias": 0.5}')]));
    const submitted = await uploadSubmission(participant(images, "grace"), {
      zipPath: await saved(gzipSync(await imageArchive()), "algorithm.tar.gz"),
      modelPath: await saved(model, "model.tar.gz"),
    });
    const id = submitted.submission.submission_id;
    expect(submitted.submission.state).toBe("queued");
    expect(await images.storedFiles()).toContain(`${id}.model.tar`);

    const claimed = await claimById(runner(images), id, { attempt: 1 });
    if (claimed.outcome !== "claimed") throw new Error(claimed.message);
    const dest = path.join(work, `${id}.model.tar`);
    // The claim fences it as it fences the image: without the claim's token, refused.
    const unfenced = await downloadModel(runner(images), id, 1, dest, { maxBytes: 1 << 20 }).catch(
      (e: unknown) => e,
    );
    expect(String(unfenced)).toMatch(/HTTP 409/);
    const fetched = await downloadModel(runner(images), id, 1, dest, {
      maxBytes: 1 << 20,
      claimToken: claimed.claim.claim_token,
    });
    expect(fetched?.bytes).toBe(model.length);
    expect(await readFile(dest)).toEqual(model);

    // Without one: the runner is told there is none, and runs the image without /opt/ml/model.
    const bare = await uploadSubmission(participant(images, "grace"), {
      zipPath: await saved(gzipSync(await imageArchive()), "algorithm.tar.gz"),
    });
    const bareId = bare.submission.submission_id;
    expect(await images.storedFiles()).not.toContain(`${bareId}.model.tar`);
    const bareClaim = await claimById(runner(images), bareId, { attempt: 1 });
    if (bareClaim.outcome !== "claimed") throw new Error(bareClaim.message);
    const none = await rawRequest(images.url, {
      path: `/v1/runner/submissions/${bareId}/model?attempt=1`,
      headers: { authorization: `Bearer ${images.runner}`, "x-proctor-claim": bareClaim.claim.claim_token },
    });
    expect(none.status).toBe(404);
    expect(none.json()).toMatchObject({ error: "no_model" });
    expect(
      await downloadModel(runner(images), bareId, 1, path.join(work, "none.tar"), {
        maxBytes: 1 << 20,
        claimToken: bareClaim.claim.claim_token,
      }),
    ).toBeNull();
  });

  it("refuses a hostile model at upload (422 naming the entry and the fix) and keeps nothing of the upload", async () => {
    const before = await images.storedFiles();
    const image = await saved(gzipSync(await imageArchive()), "algorithm.tar.gz");
    const link = await refusal(
      uploadSubmission(participant(images, "mallory"), {
        zipPath: image,
        modelPath: await saved(gzipSync(await tarBytes([symlink("leak", "/etc/shadow")])), "model.tar.gz"),
      }),
    );
    expect(link.status).toBe(422);
    expect(link.body).toMatchObject({
      error: "invalid_submission",
      rule: "unsupported_entry",
      entry: "leak",
    });
    expect(link.message).toMatch(/"model\.tar\.gz" at "leak".*replace links with the files/);

    const notTar = await refusal(
      uploadSubmission(participant(images, "mallory"), {
        zipPath: image,
        modelPath: await saved(Buffer.from("these are not the weights you are looking for"), "model.tar.gz"),
      }),
    );
    expect(notTar.status).toBe(422);
    expect(notTar.body).toMatchObject({ error: "invalid_submission", rule: "corrupt_archive" });

    const big = await refusal(
      uploadSubmission(participant(images, "mallory"), {
        zipPath: image,
        modelPath: await saved(Buffer.alloc(9 * 1024, 1), "model.tar.gz"),
      }),
    );
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ error: "model_too_large" });
    expect(big.message).toMatch(/limit of 8.0 KiB \(submission\.image\.max_model/);

    expect(await images.storedFiles()).toEqual(before);
    // None of them counted.
    const quota = await uploadSubmission(participant(images, "mallory"), { zipPath: image });
    expect(quota.quota.used_today).toBe(1);
  });

  it("refuses a part out of order or after the model (400 unexpected_part), or a third file, keeping nothing", async () => {
    const before = await images.storedFiles();
    const image = gzipSync(await imageArchive());
    const model = gzipSync(await tarBytes([file("w.bin", "1")]));
    const token = images.token("eve");
    const send = (parts: { name: string; filename?: string; data: Buffer }[]) => {
      const boundary = "----proctorModelTest";
      const body = Buffer.concat([
        ...parts.flatMap(({ name, filename, data }) => [
          Buffer.from(
            `--${boundary}\r\nContent-Disposition: form-data; name="${name}"` +
              `${filename === undefined ? "" : `; filename="${filename}"`}\r\n\r\n`,
          ),
          data,
          Buffer.from("\r\n"),
        ]),
        Buffer.from(`--${boundary}--\r\n`),
      ]);
      return rawRequest(images.url, {
        method: "POST",
        path: "/v1/submissions",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": `multipart/form-data; boundary=${boundary}`,
        },
        body,
      });
    };
    const modelFirst = await send([
      { name: "model", filename: "model.tar.gz", data: model },
      { name: "submission", filename: "a.tar.gz", data: image },
    ]);
    expect(modelFirst.status).toBe(400);
    expect(modelFirst.json()).toMatchObject({ error: "unexpected_part" });
    expect(String(modelFirst.json()["message"])).toMatch(/send the submission's file part first/);

    const trailing = await send([
      { name: "submission", filename: "a.tar.gz", data: image },
      { name: "model", filename: "model.tar.gz", data: model },
      { name: "note", data: Buffer.from("late") },
    ]);
    expect(trailing.status).toBe(400);
    expect(String(trailing.json()["message"])).toMatch(/the part "note" came after the model tarball/);

    const threeFiles = await send([
      { name: "submission", filename: "a.tar.gz", data: image },
      { name: "model", filename: "model.tar.gz", data: model },
      { name: "model", filename: "again.tar.gz", data: model },
    ]);
    expect(threeFiles.status, threeFiles.text).toBe(413);
    expect(String(threeFiles.json()["message"])).toMatch(/at most its model tarball/);

    const otherFile = await send([
      { name: "submission", filename: "a.tar.gz", data: image },
      { name: "weights", filename: "w.bin", data: model },
    ]);
    expect(otherFile.status).toBe(400);
    expect(String(otherFile.json()["message"])).toMatch(/"weights" came after the submission's file/);
    expect(await images.storedFiles()).toEqual(before);

    // A page's empty model field (none chosen) is no model.
    const empty = await send([
      { name: "submission", filename: "a.tar.gz", data: image },
      { name: "model", filename: "", data: Buffer.alloc(0) },
    ]);
    expect(empty.status, empty.text).toBe(202);
    const id = (empty.json()["submission"] as { submission_id: string }).submission_id;
    expect(await images.storedFiles()).not.toContain(`${id}.model.tar`);
  });

  it("is refused where the competition takes zips (400 naming the fix); the zip is not kept", async () => {
    const before = await zips.storedFiles();
    const error = await refusal(
      uploadSubmission(participant(zips, "ada"), {
        zipPath: await saved(await GOOD_ZIP(), "submission.zip"),
        modelPath: await saved(gzipSync(await tarBytes([file("w.bin")])), "model.tar.gz"),
      }),
    );
    expect(error.status).toBe(400);
    expect(error.body).toMatchObject({ error: "unexpected_part" });
    expect(error.message).toMatch(/this competition takes zips.*send the zip alone/);
    expect(await zips.storedFiles()).toEqual(before);
  });
});

describe("the models digest a zip run had at /code_execution/models (issue 21)", () => {
  const models = `sha256:${"5e".repeat(32)}`;
  const submitted = async (who: string) => {
    const r = await upload(zips, zips.token(who), await GOOD_ZIP());
    expect(r.status, r.text).toBe(202);
    return (r.json()["submission"] as { submission_id: string }).submission_id;
  };

  it("survives the report, the intake and the leaderboard (JSON, HTML, the runner's view); null where none", async () => {
    const withModels = await submitted("mia");
    const without = await submitted("noa");
    const sent = await postResult(zips, withModels, zips.runner, { ...SUCCEEDED, models_digest: models });
    expect(sent.status, sent.text).toBe(200);
    // A report without the field (no models mounted, or a runner older than it) records none.
    expect((await postResult(zips, without, zips.runner, { ...SUCCEEDED, public_score: 0.5 })).status).toBe(
      200,
    );

    const board = (await getJson(zips, "/v1/leaderboard")).json() as {
      rows: { participant: string; imageDigest: string | null; modelsDigest: string | null }[];
    };
    const row = (who: string) => board.rows.find((r) => r.participant === who);
    expect(row("mia")).toMatchObject({ imageDigest: SUCCEEDED.image_digest, modelsDigest: models });
    expect(row("noa")).toMatchObject({ imageDigest: SUCCEEDED.image_digest, modelsDigest: null });
    // The runner's view of a final result carries it, so a re-run Actions job writes it to the branch too.
    expect((await getJson(zips, `/v1/runner/submissions/${withModels}`, zips.runner)).json()).toMatchObject({
      result: { models_digest: models },
    });
    expect((await getJson(zips, `/v1/runner/submissions/${without}`, zips.runner)).json()).toMatchObject({
      result: { models_digest: null },
    });

    const modelsRecordUrl = "https://github.com/org/comp/blob/HEAD/runtime/published.json";
    const html = renderHtml(zips.gateway.intake.standings(), {
      competition: zips.competition.name,
      modelsRecordUrl,
    });
    expect(html).toContain(
      `<a href="${modelsRecordUrl}" rel="noreferrer" title="the record of published images (runtime/published.json), which names this models image"><code title="${models}">sha256:5e5e5e5e5e5e…</code></a>`,
    );
  });

  it("refuses a hostile models digest at the report (400 naming the field and the rule) and records nothing", async () => {
    const id = await submitted("mallet");
    for (const hostile of [
      '"><script>alert(1)</script>',
      `models-${"5e".repeat(32)}`,
      models.toUpperCase(),
    ]) {
      const refused = await postResult(zips, id, zips.runner, { ...SUCCEEDED, models_digest: hostile });
      expect(refused.status, hostile).toBe(400);
      expect(String(refused.json()["message"])).toMatch(
        /models_digest: must be sha256: and 64 lowercase hex digits \(runtime\/models\.yml's digest\)/,
      );
    }
    expect((await getJson(zips, `/v1/runner/submissions/${id}`, zips.runner)).json()).toMatchObject({
      state: "queued",
      result: null,
    });
    const board = (await getJson(zips, "/v1/leaderboard")).json() as { rows: { participant: string }[] };
    expect(board.rows.map((r) => r.participant)).not.toContain("mallet");
  });
});
