import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_LIMITS } from "../sandbox/test-support/fixtures.js";
import { scoringSetupDigests, type ScoringSetup } from "./setup-digest.js";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-digest-"));
  await mkdir(path.join(dir, "scorer", "lib"), { recursive: true });
  await writeFile(path.join(dir, "scorer", "score.py"), "print('{\"public\": 1}')\n");
  await writeFile(path.join(dir, "scorer", "lib", "util.py"), "X = 1\n");
  await writeFile(path.join(dir, "truth.csv"), "id,y\na,1\n");
  await writeFile(path.join(dir, "format.yml"), "id_column: id\n");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const setup = (over: Partial<ScoringSetup> = {}): ScoringSetup => ({
  metric: "rmse",
  direction: "lower",
  usageColumn: "usage",
  groundTruthPath: path.join(dir, "truth.csv"),
  formatPath: path.join(dir, "format.yml"),
  ...over,
});

const custom = (): ScoringSetup["metric"] => ({
  custom: {
    name: "RMSLE",
    command: ["python3", "/scoring/scorer/score.py"],
    scriptDir: path.join(dir, "scorer"),
    limits: TEST_LIMITS,
  },
});

describe("scoringSetupDigests", () => {
  it("is stable for the same setup and changes with the metric, the usage column, the ground truth or the format", async () => {
    const base = await scoringSetupDigests(setup());
    expect(await scoringSetupDigests(setup())).toEqual(base);
    expect((await scoringSetupDigests(setup({ metric: "mae" }))).metric).not.toBe(base.metric);
    expect((await scoringSetupDigests(setup({ usageColumn: null }))).metric).not.toBe(base.metric);
    const moved = await scoringSetupDigests(setup({ groundTruthPath: path.join(dir, "format.yml") }));
    expect(moved.groundTruth).not.toBe(base.groundTruth);
    expect(moved.metric).toBe(base.metric);
    expect(
      (await scoringSetupDigests(setup({ groundTruthPath: path.join(dir, "none.csv") }))).groundTruth,
    ).toBe("missing");
  });

  it("digests a custom scorer's files, nested ones too: editing one changes the metric's digest", async () => {
    const before = await scoringSetupDigests(setup({ metric: custom() }));
    await writeFile(path.join(dir, "scorer", "lib", "util.py"), "X = 2\n");
    const after = await scoringSetupDigests(setup({ metric: custom() }));
    expect(after.metric).not.toBe(before.metric);
    expect(after.groundTruth).toBe(before.groundTruth);
  });
});
