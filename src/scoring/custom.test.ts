import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { TEST_LIMITS } from "../sandbox/test-support/fixtures.js";
import { parseScorerOutput, runCustomScorer, ScorerFailedError } from "./custom.js";
import { ScoringError } from "./errors.js";

const image = inject("baseImage");
let dir: string;
let scripts: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-scorer-"));
  scripts = path.join(dir, "scorer");
  await mkdir(scripts);
  await writeFile(path.join(dir, "pred.csv"), "id,y\na,1\nb,0\n");
  await writeFile(path.join(dir, "truth.csv"), "id,y,usage\na,1,Public\nb,1,Private\n");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function score(program: string, columns?: { id: string; usage: string | null }) {
  await writeFile(path.join(scripts, "score.py"), program);
  return runCustomScorer(
    { command: ["python3", "/scoring/scorer/score.py"], image, scriptDir: scripts, limits: TEST_LIMITS },
    path.join(dir, "pred.csv"),
    path.join(dir, "truth.csv"),
    "/scoring/predictions.csv",
    columns,
  );
}

describe("custom scorer", () => {
  it("runs in its own sandbox with predictions and ground truth read-only and reads its JSON", async () => {
    const scores = await score(`
import csv, json, socket
pred = {r["id"]: r["y"] for r in csv.DictReader(open("/scoring/predictions.csv"))}
rows = list(csv.DictReader(open("/scoring/ground_truth.csv")))
acc = lambda usage: sum(pred[r["id"]] == r["y"] for r in rows if r["usage"] == usage) / sum(r["usage"] == usage for r in rows)
try:
    open("/scoring/ground_truth.csv", "a"); print("WRITABLE")
except OSError:
    pass
print("scoring...")
print(json.dumps({"public": acc("Public"), "private": acc("Private"), "rows": len(rows)}))
`);
    expect(scores).toEqual({ public: 1, private: 0, all: { public: 1, private: 0, rows: 2 } });
  });

  it("tells the scorer its inputs and columns in its environment (docs/scoring.md)", async () => {
    const scores = await score(
      `
import json, os
keys = ["PROCTOR_PREDICTIONS", "PROCTOR_GROUND_TRUTH", "PROCTOR_ID_COLUMN", "PROCTOR_USAGE_COLUMN"]
seen = [os.environ[k] for k in keys]
assert seen == ["/scoring/predictions.csv", "/scoring/ground_truth.csv", "id", "usage"], seen
assert os.path.isfile(seen[0]) and os.path.isfile(seen[1])
print(json.dumps({"public": 1}))
`,
      { id: "id", usage: "usage" },
    );
    expect(scores.public).toBe(1);
  });

  it("a scorer that crashes is a ScorerFailedError (scorer_failed: the organizers') with the end of its stderr", async () => {
    const error = await score(`raise RuntimeError("ground truth has no column y_true")`).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ScorerFailedError);
    expect((error as ScorerFailedError).infrastructure).toBe(false);
    expect(error).toBeInstanceOf(ScoringError);
    expect((error as ScoringError).status).toBe("scorer_failed");
    expect((error as Error).message).toMatch(/exited with code 1.*ground truth has no column y_true/);
  });

  it.each([
    ["a bare number", "0.93", /JSON object of numbers/],
    ["not JSON", "score: high", /must print a JSON object/],
    ["a list", "[1, 2]", /JSON object of numbers/],
    ["a string score", '{"public": "high"}', /JSON object of numbers/],
    ["no public key", '{"score": 0.5}', /no "public" score \(keys: score\)/],
    ["nothing", "", /must print a JSON object/],
  ])("refuses output that is %s", (_what, stdout, pattern) => {
    expect(() => parseScorerOutput(stdout)).toThrow(pattern);
  });

  it("refuses NaN and infinities (not valid JSON numbers) and accepts a public-only score", () => {
    expect(() => parseScorerOutput('{"public": NaN}')).toThrow(ScoringError);
    expect(parseScorerOutput('log line\n{"public": 0.5}\n')).toEqual({
      public: 0.5,
      private: null,
      all: { public: 0.5 },
    });
  });
});
