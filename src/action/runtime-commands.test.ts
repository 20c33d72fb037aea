import { execFileSync } from "node:child_process";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runAction } from "../../test/support/action-runner.js";
import { engine } from "../sandbox/engine.js";
import { startRegistry, type LocalRegistry } from "../sandbox/test-support/registry.js";

/**
 * The runtime commands as a runner runs them (node dist/index.js), on the real engine and a real local
 * registry. The production Dockerfile needs the internet, so these build the offline flavour through the
 * same command (dockerfile + build-args inputs).
 */
const base = inject("baseImage");
const repository = `proctor-action-test/runtime-${process.pid}`;
let registry: LocalRegistry;

beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry.stop();
  const images = await engine().listImages({
    filters: JSON.stringify({ reference: [`${repository}*`, `*/${repository}*`] }),
  });
  // Only this file's tags: an identical build elsewhere (the offline runtime, another checkout's run) shares
  // the image id, and removing by id would take their tags with it.
  const ours = images.flatMap((i) => (i.RepoTags ?? []).filter((tag) => tag.includes(repository)));
  await Promise.allSettled(ours.map((tag) => engine().getImage(tag).remove()));
});

describe("action runtime commands", () => {
  it("build-runtime builds the image and reports its id and size", async () => {
    const run = await runAction({
      command: "build-runtime",
      image: repository,
      dockerfile: "runtime/Dockerfile.offline",
      "build-args": `BASE_IMAGE=${base}`,
    });
    expect(run.stdout).not.toContain("::error::");
    expect(run.code).toBe(0);
    expect(run.outputs.image).toBe(`${repository}:cpu-build`);
    expect(run.outputs["image-id"]).toMatch(/^sha256:/);
    expect(Number(run.outputs["image-size"])).toBeGreaterThan(0);
    expect(run.stdout).toContain("::group::docker build runtime (cpu)");
    expect(run.summary).toContain("Runtime image built (cpu)");
  });

  it("test-runtime imports every package and runs the example submission through the sandbox", async () => {
    const run = await runAction({
      command: "test-runtime",
      image: repository,
      "environment-file": "runtime/environment-offline.yml",
      "image-size-budget": "4g",
    });
    expect(run.stdout).not.toContain("::error::");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/ok +numpy/);
    expect(run.stdout).toContain("example submission: succeeded");
    expect(run.summary).toContain("Runtime tests (cpu)");
    // The repository's own CPU and GPU files agree; the CPU flavour has no GPU test.
    expect(run.summary).toContain("aligned");
    expect(run.stdout).not.toContain("test_gpu.py");
  });

  it("test-runtime fails the job, naming each problem: a package that doesn't import, an image over budget", async () => {
    const run = await runAction({
      command: "test-runtime",
      image: repository,
      "environment-file": "environment-cpu.yml",
      "image-size-budget": "100m",
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/::error::.*runtime tests failed/);
    expect(run.stdout).toMatch(/lightgbm does not import/);
    expect(run.stdout).toMatch(/over the budget of 0\.10 GiB/);
  });

  // Where this host has a GPU the GPU test runs with --require-gpu, and the offline image has no PyTorch.
  const hostHasGpu = (() => {
    try {
      execFileSync("nvidia-smi", ["-L"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(hostHasGpu)(
    "test-runtime of the GPU flavour runs test_gpu.py (skipped without a GPU) and names CPU/GPU files that disagree",
    async () => {
      // A repository whose GPU file moved numpy and dropped lightgbm, and a GPU image (the offline build).
      const workspace = await mkdtemp(path.join(os.tmpdir(), "proctor-workspace-"));
      try {
        for (const item of ["environment-cpu.yml", "runtime/environment-offline.yml", "example_submission"])
          await cp(item, path.join(workspace, item), { recursive: true });
        const gpuFile = (await readFile("environment-gpu.yml", "utf8"))
          .replace("numpy=2.2.6", "numpy=2.2.5")
          .replace(/^ {2}- lightgbm=.*\n/m, "");
        await writeFile(path.join(workspace, "environment-gpu.yml"), gpuFile);
        await engine().getImage(`${repository}:cpu-build`).tag({ repo: repository, tag: "gpu-build" });

        const run = await runAction(
          {
            command: "test-runtime",
            "cpu-or-gpu": "gpu",
            image: repository,
            "environment-file": "runtime/environment-offline.yml",
            "image-size-budget": "4g",
          },
          { env: { GITHUB_WORKSPACE: workspace } },
        );
        expect(run.code).toBe(1);
        expect(run.stdout).toContain("::group::test the GPU (runtime/tests/test_gpu.py)");
        expect(run.stdout).toContain("SKIP: no NVIDIA GPU is visible in this container");
        expect(run.summary).toContain("skipped (no GPU on this runner)");
        expect(run.stdout).toContain("example submission: succeeded");
        expect(run.stdout).toMatch(/::error::proctor: runtime tests failed/);
        expect(run.stdout).toContain(
          "lightgbm is in environment-cpu.yml but not in environment-gpu.yml: add it there at the same version",
        );
        expect(run.stdout).toContain(
          "numpy is 2.2.6 in environment-cpu.yml but 2.2.5 in environment-gpu.yml: use one version in both",
        );
        expect(run.summary).toContain("2 difference(s)");
      } finally {
        await rm(workspace, { recursive: true, force: true });
      }
    },
  );

  it("publish-runtime pushes <flavour>-latest and <flavour>-<sha> with credentials and outputs the digest", async () => {
    const run = await runAction({
      command: "publish-runtime",
      image: repository,
      registry: registry.address,
      username: registry.username,
      password: registry.password,
    });
    expect(run.stdout).not.toContain("::error::");
    expect(run.code).toBe(0);
    expect(run.outputs["image-digest"]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(run.summary).toContain(
      `${registry.address}/${repository}:cpu-latest@${run.outputs["image-digest"]}`,
    );
    expect(run.summary).toContain(`${registry.address}/${repository}:cpu-0123456789ab@`);
    // The runner masks what ::add-mask:: names; nowhere else may the password appear.
    expect(run.stdout).toContain(`::add-mask::${registry.password}`);
    expect(run.stdout.replace(`::add-mask::${registry.password}`, "")).not.toContain(registry.password);
  });

  it("publish-runtime fails loudly with wrong credentials", async () => {
    const run = await runAction({
      command: "publish-runtime",
      image: repository,
      registry: registry.address,
      username: registry.username,
      password: "not-the-password",
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /::error::proctor: pushing .* failed: .*(unauthorized|authentication required)/i,
    );
  });

  it("refuses an unknown command and a bad flavour with the allowed values", async () => {
    const unknown = await runAction({ command: "deploy" });
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toMatch(
      /::error::input "command" must be one of build-runtime, test-runtime, publish-runtime, run-submission/,
    );
    const flavour = await runAction({ command: "build-runtime", "cpu-or-gpu": "tpu" });
    expect(flavour.stdout).toMatch(/::error::input "cpu-or-gpu" must be one of cpu, gpu, got "tpu"/);
  });
});
