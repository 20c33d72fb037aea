import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSubmissionAction, startHarness, upload, type Harness } from "../gateway/test-support/harness.js";
import { offlineImage } from "../runtime/test-support/offline-image.js";
import {
  engineHasImage,
  PREDICT_CSV_SH,
  PREDICT_SH,
  saveAlgorithmImage,
  type AlgorithmArchive,
} from "../sandbox/test-support/algorithm-image.js";

/**
 * run-submission for a competition that takes participants' own images (submission.kind: image): the
 * archive uploaded to a real gateway, downloaded by the runner with its credential, loaded, run with its
 * own entrypoint on the runner's hidden data, scored, reported, posted, and removed from the engine.
 */
let h: Harness;
let dir: string;
let image: string;
let algorithm: AlgorithmArchive;
/** What the algorithm prints on stderr: it must never reach a public log. */
const PRINTED = "PRINTED-BY-THE-ALGORITHM";

beforeAll(async () => {
  image = await offlineImage();
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-image-runner-"));
  await cp("data", path.join(dir, "hidden"), { recursive: true });
  await cp("submission_format", path.join(dir, "submission_format"), { recursive: true });
  const yml = `name: Image runner test
runtime: { image: proctor/runtime, cpu_tag: cpu-offline }
limits: { time: 2m, memory: 512m, cpus: 1 }
submission: { kind: image, image: { max_size: 20m } }
paths: { data_dir: hidden/test_features, ground_truth: hidden/ground_truth.csv, submission_format: submission_format/format.yml }
runner_paths: { data_dir: ${dir}/hidden/test_features, ground_truth: ${dir}/hidden/ground_truth.csv }
scoring: { metric: accuracy, direction: higher, precision: 3 }
logs: { evaluation: tail, tail_lines: 5 }
`;
  await writeFile(path.join(dir, "competition.yml"), yml);
  h = await startHarness({}, yml);
  algorithm = await saveAlgorithmImage(image, {
    user: "",
    gzip: true,
    script: `echo ${PRINTED} >&2\n${PREDICT_CSV_SH}`,
  });
});
afterAll(async () => {
  await h?.close();
  await algorithm?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe("action run-submission, image submissions", () => {
  it("downloads the archive with the runner credential, runs the image, scores, reports, removes it", async () => {
    const token = h.token("grace");
    const r = await upload(h, token, await readFile(algorithm.path));
    expect(r.status, r.text).toBe(202);
    const id = (r.json()["submission"] as { submission_id: string }).submission_id;
    const run = await runSubmissionAction(h, id, {
      config: path.join(dir, "competition.yml"),
      "leaderboard-branch": "leaderboard",
      image,
    });
    expect(run.stdout).not.toContain("::error::");
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({ status: "succeeded", "image-digest": algorithm.id });
    const view = h.gateway.intake.get("grace", id);
    expect(view).toMatchObject({ state: "final", status: "succeeded" });
    expect(view.public_score).toBe(Number(run.outputs["public-score"]));
    expect(view.logs.stderr).toContain(PRINTED);
    for (const text of [run.log, run.summary]) {
      expect(text).not.toContain(PRINTED);
      expect(text).not.toContain(h.runner);
      expect(text).not.toContain(token);
    }
    expect(await engineHasImage(algorithm.id)).toBe(false);
  });

  it("Grand Challenge's results.json reaches its owner's result where the phase shows output, never a public log", async () => {
    // The same competition with a results.json format: a JSON array of {id, species}.
    const json = path.join(dir, "json");
    await cp(dir + "/submission_format", path.join(json, "submission_format"), { recursive: true });
    const format = await readFile(path.join(json, "submission_format", "format.yml"), "utf8");
    await writeFile(
      path.join(json, "submission_format", "format.yml"),
      format.replace("file: submission.csv", "file: results.json"),
    );
    const yml = (await readFile(path.join(dir, "competition.yml"), "utf8")).replace(
      "submission_format: submission_format/format.yml",
      `submission_format: ${json}/submission_format/format.yml`,
    );
    await writeFile(path.join(json, "competition.yml"), yml);
    const results = await saveAlgorithmImage(image, {
      user: "",
      gzip: false,
      script: PREDICT_SH,
    });
    try {
      const token = h.token("gc-fan");
      const r = await upload(h, token, await readFile(results.path));
      expect(r.status, r.text).toBe(202);
      const id = (r.json()["submission"] as { submission_id: string }).submission_id;
      const run = await runSubmissionAction(h, id, { config: path.join(json, "competition.yml"), image });
      expect(run.outputs.status, run.stdout).toBe("succeeded");
      const view = h.gateway.intake.get("gc-fan", id);
      expect(view.results_json).toMatch(/^\[\{"id": "pg0000", "species": "adelie"\}/);
      expect(run.log).not.toContain("pg0000");
      expect(run.summary).not.toContain("pg0000");
    } finally {
      await results.cleanup();
    }
  });
});
