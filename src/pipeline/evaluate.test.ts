import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { writeZip } from "../../test/support/zips.js";
import { loadCompetition, type Competition } from "../config/index.js";
import { MemoryLeaderboardStore, openSealedScore, generateSealingKeys } from "../leaderboard/index.js";
import { evaluateSubmission } from "./evaluate.js";
import { CompetitionSetupError } from "./preflight.js";

const image = inject("baseImage");
let dir: string;
let competition: Competition;
const keys = generateSealingKeys();

/** The repository's example competition, copied into a temp folder with small limits and a sealing key. */
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-evaluate-"));
  for (const item of ["data", "submission_format", "example_submission"])
    await cp(item, path.join(dir, item), { recursive: true });
  await writeFile(path.join(dir, "leaderboard.pub.pem"), keys.publicKeyPem);
  await writeFile(
    path.join(dir, "competition.yml"),
    `name: Test
runtime: { image: proctor/runtime }
limits: { time: 60s, memory: 512m, cpus: 1 }
paths: { data_dir: data/test_features, ground_truth: data/ground_truth.csv, submission_format: submission_format/format.yml }
scoring: { metric: f1_macro, direction: higher }
leaderboard: { daily_limit: 3, sealing_public_key: leaderboard.pub.pem }
logs: { evaluation: none }
`,
  );
  competition = await loadCompetition(path.join(dir, "competition.yml"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

let n = 0;
async function evaluate(
  files: Record<string, string> | string,
  store = new MemoryLeaderboardStore(),
  extra = {},
) {
  const zipPath = typeof files === "string" ? files : await writeZip(path.join(dir, `z${++n}.zip`), files);
  return evaluateSubmission({
    competition,
    zipPath,
    image,
    participant: "ada",
    phase: "local",
    store,
    ...extra,
  });
}

const exampleMain = () =>
  import("node:fs/promises").then((fs) => fs.readFile("example_submission/main.py", "utf8"));
const exampleModel = () =>
  import("node:fs/promises").then((fs) => fs.readFile("example_submission/model.json", "utf8"));

describe("evaluateSubmission", () => {
  it("runs the example end to end: scored, one row per run, private score sealed", async () => {
    const store = new MemoryLeaderboardStore();
    const zip = await writeZip(path.join(dir, "example.zip"), {
      "main.py": await exampleMain(),
      "model.json": await exampleModel(),
    });
    const first = await evaluate(zip, store);
    expect(first.reason).toBe("scored");
    expect(first.status, first.reason).toBe("succeeded");
    expect(first.scores.public).toBeGreaterThan(0.85);
    expect(first.scores.private).toBeGreaterThan(0.85);
    expect(first.entry.privateScore).toBeNull();
    expect(openSealedScore(first.entry.sealedPrivateScore!, first.submissionId, keys.privateKeyPem)).toBe(
      first.scores.private,
    );
    // The same zip again is another run: a row of its own.
    const again = await evaluate(zip, store);
    expect(again.submissionId).not.toBe(first.submissionId);
    expect(await store.list()).toHaveLength(2);
  });

  it("wrong predictions are output_invalid with the problems named, and not scored", async () => {
    const result = await evaluate({
      "main.py": `import pandas as pd
f = pd.read_csv("/code_execution/data/features.csv")
out = pd.DataFrame({"id": f["id"], "species": "emperor"}).iloc[:-3]
out.to_csv("/code_execution/submission/submission.csv", index=False)
`,
    });
    expect(result.status, result.reason).toBe("output_invalid");
    expect(result.scores).toEqual({ public: null, private: null });
    expect(result.problems.join("\n")).toMatch(/emperor/);
    expect(result.problems.join("\n")).toMatch(/missing/i);
    // The reason counts them; every view lists `problems` under it, so the reason lists none (not twice).
    expect(result.reason).toMatch(
      /does not follow the submission format: \d+ problems\n[^]* {2}3 missing ids$/,
    );
    for (const problem of result.problems) expect(result.reason).not.toContain(problem);
    // The facts a hidden-set phase shows instead: the exit code and how often each rule was broken.
    expect(result.diagnosis).toMatchObject({ exitCode: 0, problemCounts: { missing_id: 3 } });
    expect(result.diagnosis.problemCounts.category).toBeGreaterThan(0);
    expect(result.entry.status).toBe("output_invalid");
  });

  it("never limits local runs: past the daily limit, every run still runs and is recorded", async () => {
    const store = new MemoryLeaderboardStore();
    const now = new Date();
    for (let i = 0; i < 3; i++) {
      await store.record({
        submissionId: `old-${i}`,
        participant: "ada",
        submittedAt: now.toISOString(),
        status: "failed",
        publicScore: null,
        privateScore: null,
        sealedPrivateScore: null,
        durationMs: 1,
        imageDigest: "",
        zipSha256: "",
      });
    }
    const result = await evaluate({ "main.py": "pass" }, store);
    expect(result.status).toBe("output_missing");
    expect(await store.list()).toHaveLength(4);
  });

  it("refuses, before running anything, a competition the organizer set up wrong; records nothing", async () => {
    const store = new MemoryLeaderboardStore();
    const broken = {
      ...competition,
      paths: { ...competition.paths, groundTruth: path.join(dir, "nope.csv") },
    };
    const error = await evaluateSubmission({
      competition: broken,
      zipPath: await writeZip(path.join(dir, "never-run.zip"), { "main.py": "raise SystemExit(1)" }),
      image,
      participant: "ada",
      phase: "local",
      store,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CompetitionSetupError);
    expect((error as Error).message).toMatch(/paths\.ground_truth: .*nope\.csv does not exist/);
    expect(await store.list()).toEqual([]);
  });

  it("hides logs in the evaluation phase as competition.yml says", async () => {
    const result = await evaluate({ "main.py": `print("secret-ish debug output")\n` }, undefined, {
      phase: "evaluation",
    });
    expect(result.status).toBe("output_missing");
    expect(result.run.stdout.text).toContain("secret-ish");
    expect(result.logs).toEqual({ stdout: "", stderr: "", visibility: "none" });
  });
});
