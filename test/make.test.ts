import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { engine } from "../src/sandbox/engine.js";
import { buildImage } from "../src/sandbox/registry.js";
import {
  PREDICT_CSV_SH,
  saveAlgorithmImage,
  TEST_IMAGE_LABEL,
} from "../src/sandbox/test-support/algorithm-image.js";

const run = promisify(execFile);
let dir: string;

/** The participant's side of the repository in a temp folder, with the CLI this checkout built. */
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-make-"));
  for (const item of ["Makefile", "data", "example_submission", "submission_format", "examples"])
    await cp(item, path.join(dir, item), { recursive: true });
  for (const item of ["build", "scripts", "node_modules", "runtime"])
    await symlink(path.resolve(item), path.join(dir, item));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function make(target: string, ...variables: string[]) {
  // -o: the CLI is built already (the pretest build); make must not rebuild it here.
  return run("make", ["-s", "-o", "build/proctor.mjs", target, ...variables], { cwd: dir }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

describe("make", () => {
  it("test-submission names a misspelt key of competition.yml, its line and the likely fix, and stops", async () => {
    const text = await readFile("competition.yml", "utf8");
    await writeFile(path.join(dir, "competition.yml"), text.replace(/^ {2}memory: /m, "  memroy: "));
    const result = await make("test-submission");
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(
      /competition\.yml:\d+:\d+: limits\.memroy is not a known key \(did you mean "memory"\?\)/,
    );
    expect(result.stderr).not.toMatch(/cannot be pulled/);
  });

  it("test-submission says proctor's own exit code and what it means before make's line", async () => {
    await cp("competition.yml", path.join(dir, "competition.yml"));
    await writeFile(path.join(dir, "broken.zip"), "not a zip at all\n");
    const result = await make("test-submission", "SUBMISSION=broken.zip");
    // GNU make exits 2 whatever the recipe's code; the line before its own says proctor's.
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /proctor exited 1: the submission's doing: see above, fix it and run again\n/,
    );
  }, 900_000);

  it("test-submission SUBMISSION=algorithm.tar runs a saved image with its own entrypoint, and scores it", async () => {
    await cp("competition.yml", path.join(dir, "competition.yml"));
    // The production environment beside competition.yml: what the offline flavour's note compares.
    await cp("environment-cpu.yml", path.join(dir, "environment-cpu.yml"));
    const algorithm = await saveAlgorithmImage(inject("baseImage"), { script: PREDICT_CSV_SH });
    try {
      const result = await make("test-submission", `SUBMISSION=${algorithm.path}`);
      expect(result.stdout).toContain("✔ succeeded: scored");
      expect(result.stderr).toContain("is an image archive, but competition.yml takes zips");
      // The offline flavour's note is about the runtime image, in which an image submission does not run.
      expect(result.stderr).not.toContain("NOTE: this run uses the offline flavour");
      expect(result.code).toBe(0);
    } finally {
      await algorithm.cleanup();
    }
    // Where the offline runtime is not built yet, make builds it first (the holder of the output folder).
  }, 900_000);

  it("test-submission COMPETITION=examples/per-case … MODEL=model.tar.gz runs the example algorithm per case", async () => {
    // As its README says: built FROM the offline runtime (its Python), saved, and the model packed.
    const example = path.join(dir, "examples", "per-case");
    const tag = `proctor-test-algorithm/per-case-${path.basename(dir).toLowerCase()}:latest`;
    await buildImage({
      context: path.join(example, "algorithm"),
      files: ["Dockerfile", "inference.py"],
      dockerfile: "Dockerfile",
      tag,
      buildArgs: { BASE: inject("baseImage") },
      labels: { [TEST_IMAGE_LABEL]: "per-case" },
    });
    try {
      await run("sh", ["-c", `docker save "$0" -o "$1"`, tag, path.join(example, "algorithm.tar")]);
    } finally {
      await engine().getImage(tag).remove();
    }
    await run("tar", [
      "-czf",
      path.join(example, "model.tar.gz"),
      "-C",
      path.join(example, "algorithm", "model"),
      ".",
    ]);
    const result = await make(
      "test-submission",
      "COMPETITION=examples/per-case/competition.yml",
      "SUBMISSION=examples/per-case/algorithm.tar",
      "MODEL=examples/per-case/model.tar.gz",
    );
    expect(result.stdout, result.stderr).toContain("✔ succeeded: scored");
    expect(result.stdout).toContain('=== case 6 of 6: "case-005" ===');
    expect(result.stdout).toMatch(/score {7}mae: public \d+\.\d\d, private \d+\.\d\d/);
    expect(result.code).toBe(0);
  }, 900_000);

  it("test-submission of a zip says so before the run when the offline flavour stands in", async () => {
    await cp("competition.yml", path.join(dir, "competition.yml"));
    await cp("environment-cpu.yml", path.join(dir, "environment-cpu.yml"));
    const result = await make("test-submission");
    // Where the production image is on this machine, it runs, and no note is due.
    const stoodIn = result.stderr.includes("standing in with the offline flavour");
    expect(result.stderr.includes("NOTE: this run uses the offline flavour"), result.stderr).toBe(stoodIn);
    expect(result.stdout).toContain("✔ succeeded: scored");
  }, 900_000);

  it("test-submission SUBMISSION=… says how to save the image when the archive is not there", async () => {
    const result = await make("test-submission", "SUBMISSION=nowhere/algorithm.tar.gz");
    expect(result.code).not.toBe(0);
    expect(result.stdout).toContain("docker save my-algorithm:latest");
  });
});
