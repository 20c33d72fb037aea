import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
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
import { writeZip } from "./support/zips.js";

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
  return makeWithInput("", target, ...variables);
}

/** make, its standard input `input` (commands for interact-container's shell). */
async function makeWithInput(input: string, target: string, ...variables: string[]) {
  // -o: the CLI is built already (the pretest build); make must not rebuild it here.
  const made = run("make", ["-s", "-o", "build/proctor.mjs", target, ...variables], { cwd: dir });
  made.child.stdin?.end(input);
  return made.then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

/** The example submission's files, its main.py printing `marker` first. */
async function exampleFiles(marker: string): Promise<Record<string, string>> {
  return {
    "main.py": `print(${JSON.stringify(marker)})\n${await readFile("example_submission/main.py", "utf8")}`,
    "model.json": await readFile("example_submission/model.json", "utf8"),
  };
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

  it("test-submission runs submission/submission.zip, where DrivenData's runtimes pack it, when there is no submission.zip", async () => {
    await cp("competition.yml", path.join(dir, "competition.yml"));
    await mkdir(path.join(dir, "submission"), { recursive: true });
    await writeZip(
      path.join(dir, "submission", "submission.zip"),
      await exampleFiles("packed the DrivenData way"),
    );
    try {
      const result = await make("test-submission");
      expect(result.stdout, result.stderr).toContain(
        "no submission.zip: testing submission/submission.zip (where DrivenData's runtimes pack it",
      );
      expect(result.stdout).toContain("packed the DrivenData way");
      expect(result.stdout).toContain("✔ succeeded: scored");
      expect(result.code).toBe(0);
    } finally {
      await rm(path.join(dir, "submission"), { recursive: true, force: true });
    }
  }, 900_000);

  it("test-submission COMPETITION=… without a zip runs that competition's own example, or says to pack one", async () => {
    const custom = await make("test-submission", "COMPETITION=examples/custom-scorer/competition.yml");
    expect(custom.stdout, custom.stderr).toContain(
      "no submission.zip yet: testing examples/custom-scorer/example_submission/",
    );
    expect(custom.stdout).toMatch(/score {7}RMSLE: public/);
    expect(custom.code).toBe(0);
    // No example beside it: nothing runs (before, the root's example ran against the root's competition).
    const perCase = await make("test-submission", "COMPETITION=examples/per-case/competition.yml");
    expect(perCase.code).toBe(2);
    expect(perCase.stdout).toContain(
      "no submission.zip to test (and no examples/per-case/example_submission/ beside examples/per-case/competition.yml): make pack-submission packs your submission_src/ into it",
    );
    expect(perCase.stdout).not.toContain("packed");
  }, 900_000);

  it("interact-container COMPETITION=… mounts that competition's data, and runs that competition's example", async () => {
    const result = await makeWithInput(
      "head -n 1 data/features.csv; ls\n",
      "interact-container",
      "COMPETITION=examples/custom-scorer/competition.yml",
    );
    expect(result.stderr + result.stdout).toContain("examples/custom-scorer/example_submission (packed");
    // The house prices of examples/custom-scorer, not the root competition's penguins.
    expect(result.stdout, result.stderr).toContain("id,area_m2,rooms,age_years");
    expect(result.stdout).not.toContain("bill_length_mm");
    expect(result.code).toBe(0);
  }, 900_000);

  it("pack-submission over an existing zip says the make way to replace it", async () => {
    await mkdir(path.join(dir, "submission_src"), { recursive: true });
    await cp("example_submission/main.py", path.join(dir, "submission_src", "main.py"));
    try {
      expect((await make("pack-submission")).code).toBe(0);
      const again = await make("pack-submission");
      expect(again.code).toBe(2);
      expect(again.stderr).toContain("submission.zip already exists");
      expect(again.stderr).toContain("make pack-submission FORCE=1 replaces submission.zip");
      expect((await make("pack-submission", "FORCE=1")).code).toBe(0);
    } finally {
      await rm(path.join(dir, "submission_src"), { recursive: true, force: true });
      await rm(path.join(dir, "submission.zip"), { force: true });
    }
  });

  it("test-submission COMPETITION=… of a competition with no environment files says the offline flavour stands in all the same; its set-up error is not called an engine fault", async () => {
    // A competition of its own outside this repository: no environment-cpu.yml beside it or above it.
    const other = await mkdtemp(path.join(os.tmpdir(), "proctor-make-other-"));
    try {
      await cp("data/test_features", path.join(other, "data"), { recursive: true });
      await cp("data/ground_truth.csv", path.join(other, "ground_truth.csv"));
      await cp("submission_format/format.yml", path.join(other, "format.yml"));
      const competition = path.join(other, "competition.yml");
      await writeFile(
        competition,
        [
          "name: elsewhere",
          "runtime: { image: proctor/runtime, cpu_tag: cpu-latest, offline_tag: cpu-offline }",
          "paths: { data_dir: data, ground_truth: ground_truth.csv, submission_format: format.yml }",
          "scoring: { metric: f1_macro }",
          `leaderboard: { store: ${path.join(other, "store.sqlite")} }`,
          "",
        ].join("\n"),
      );
      const zip = await writeZip(path.join(other, "submission.zip"), await exampleFiles("elsewhere"));
      const result = await make("test-submission", `COMPETITION=${competition}`, `SUBMISSION=${zip}`);
      expect(result.stdout, result.stderr).toContain("✔ succeeded: scored");
      // Where the production image is on this machine, it runs, and no note is due.
      if (result.stderr.includes("standing in with the offline flavour"))
        expect(result.stderr).toContain(
          `which packages differ is not known here: no environment-cpu.yml or runtime/environment-offline.yml beside ${competition}`,
        );
      else expect(result.stderr).not.toContain("NOTE: this run uses the offline flavour");

      await rm(path.join(other, "ground_truth.csv"));
      const broken = await make("test-submission", `COMPETITION=${competition}`, `SUBMISSION=${zip}`);
      expect(broken.code).toBe(2);
      expect(broken.stderr).toContain("paths.ground_truth");
      expect(broken.stderr).toMatch(
        /proctor exited 3: not the submission's doing: the competition's set-up or the engine/,
      );
      expect(broken.stderr).not.toContain("check the engine");
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  }, 900_000);

  it("pull that cannot reach the registry says what works without it", async () => {
    const result = await make("pull", "IMAGE=127.0.0.1:9/proctor-nowhere:latest");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "could not pull 127.0.0.1:9/proctor-nowhere:latest (see above). Without it, make test-submission stands in the offline flavour by itself",
    );
  });
});
