import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { TEST_LIMITS } from "../sandbox/test-support/fixtures.js";
import { OutputInvalidError, ScoringError } from "./errors.js";
import { parseSubmissionFormat } from "./format.js";
import { scoreSubmission, type SubmissionScoring } from "./score-submission.js";

const image = inject("baseImage");
let dir: string;

/** Integer ids ("007" is id 7) and a label column; the ground truth split into public and private rows. */
const format = parseSubmissionFormat(
  "id_column: id\ncolumns:\n  - {name: id, type: integer}\n  - {name: y, type: category, categories: [a, b]}\n",
  "format.yml",
);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-score-submission-"));
  await mkdir(path.join(dir, "scorer"));
  await writeFile(path.join(dir, "truth.csv"), "id,y,usage\n7,a,Public\n8,b,Public\n9,b,Private\n");
  await writeFile(path.join(dir, "good.csv"), "id,y\n007,a\n8,a\n9,b\n");
  await writeFile(path.join(dir, "bad.csv"), "id,y\n7,a\n8,c\n");
  // Prints how many predictions it was shown, so the test sees what reached it.
  await writeFile(
    path.join(dir, "scorer", "score.py"),
    `import csv, json\nrows = list(csv.DictReader(open("/scoring/predictions.csv")))\n` +
      `print(json.dumps({"public": len(rows) / 10, "private": 0.5}))\n`,
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const request = (predictions: string, metric: SubmissionScoring["metric"]): SubmissionScoring => ({
  predictionsPath: path.join(dir, predictions),
  groundTruthPath: path.join(dir, "truth.csv"),
  format,
  metric,
  usageColumn: "usage",
  image,
});

const customScorer = (overrides: { image?: string } = {}) => ({
  custom: {
    name: "test score",
    command: ["python3", "/scoring/scorer/score.py"],
    scriptDir: path.join(dir, "scorer"),
    limits: TEST_LIMITS,
    ...overrides,
  },
});

describe("scoreSubmission", () => {
  it("scores with a built-in metric, public and private apart", async () => {
    expect(await scoreSubmission(request("good.csv", "accuracy"))).toEqual({ public: 0.5, private: 1 });
  });

  it("a built-in metric refuses predictions that break the format as output_invalid", async () => {
    const error = await scoreSubmission(request("bad.csv", "accuracy")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutputInvalidError);
    expect((error as OutputInvalidError).status).toBe("output_invalid");
  });

  it("runs the custom scorer, in the runtime image unless it names its own, and reads its scores", async () => {
    expect(await scoreSubmission(request("good.csv", customScorer()))).toEqual({ public: 0.3, private: 0.5 });
  });

  it("never shows the custom scorer predictions that break the format: output_invalid, the scorer not run", async () => {
    // An image that does not exist: had the scorer been started, this would be scoring_failed.
    const metric = customScorer({ image: "proctor-test/no-such-image:never" });
    const error = await scoreSubmission(request("bad.csv", metric)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutputInvalidError);
    const ran = await scoreSubmission(request("good.csv", metric)).catch((e: unknown) => e);
    expect(ran).toBeInstanceOf(ScoringError);
    expect((ran as ScoringError).status).toBe("scoring_failed");
  });

  it("shows a custom scorer a folder format's folder, read-only at /scoring/predictions, once it passed the check", async () => {
    const folder = parseSubmissionFormat('id_column: id\nfiles: { name: "{id}.json" }\n', "format.yml");
    const out = path.join(dir, "folder");
    await mkdir(out);
    for (const id of ["7", "8", "9"]) await writeFile(path.join(out, `${id}.json`), `{"y": "${id}"}`);
    await writeFile(
      path.join(dir, "scorer", "folder.py"),
      `import json, os\nnames = sorted(os.listdir("/scoring/predictions"))\n` +
        `try:\n    open("/scoring/predictions/7.json", "a"); names = []\nexcept OSError:\n    pass\n` +
        `print(json.dumps({"public": len(names), "private": float(json.load(open("/scoring/predictions/9.json"))["y"] == "9")}))\n`,
    );
    const metric = {
      custom: { ...customScorer().custom, command: ["python3", "/scoring/scorer/folder.py"] },
    };
    const scoring = { ...request("folder", metric), format: folder, predictionsPath: out };
    expect(await scoreSubmission(scoring)).toEqual({ public: 3, private: 1 });
    // A file of no expected id: output_invalid, and the scorer never runs.
    await writeFile(path.join(out, "10.json"), "{}");
    const error = await scoreSubmission(scoring).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutputInvalidError);
    expect((error as OutputInvalidError).failure.counts).toEqual({ extra_id: 1 });
    // A built-in metric cannot read a folder (the set-up check refuses it before any run).
    await expect(scoreSubmission({ ...scoring, metric: "accuracy" })).rejects.toThrow(
      /needs a custom scorer/,
    );
  });
});
