import * as core from "@actions/core";
import { execFile } from "node:child_process";
import { access, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { loadCompetition } from "../config/index.js";
import { MemoryLeaderboardStore } from "../leaderboard/store.js";
import { evaluateSubmission } from "../pipeline/evaluate.js";
import {
  alignmentIssues,
  buildRuntime,
  checkImageSize,
  publishRuntime,
  readEnvironment,
  testGpu,
  testImports,
  type GpuTestReport,
} from "../runtime/index.js";
import { resolveImage } from "../sandbox/index.js";
import { packSubmission } from "../submission/index.js";
import { formatBytes } from "../units/index.js";
import { githubContext } from "./github-context.js";
import { buildRuntimeInputs, publishRuntimeInputs, testRuntimeInputs, type RuntimeInputs } from "./inputs.js";

/** The competition, its image repository, and the image the build job leaves for test and publish. */
async function runtimeTarget(inputs: RuntimeInputs) {
  const competition = await loadCompetition(inputs.config);
  const repository = inputs.image ?? competition.image.repository;
  return { competition, repository, buildRef: `${repository}:${inputs.flavour}-build` };
}

export async function buildRuntimeCommand(): Promise<void> {
  const inputs = buildRuntimeInputs();
  const { flavour } = inputs;
  const { buildRef } = await runtimeTarget(inputs);
  const context = await githubContext();
  // BuildKit's GitHub cache works wherever the runner hands actions its cache token.
  const cache = process.env.ACTIONS_RUNTIME_TOKEN && process.env.ACTIONS_CACHE_URL ? "type=gha" : undefined;
  const built = await core.group(`docker build runtime (${flavour})`, () =>
    buildRuntime(
      {
        repoRoot: context.workspace,
        flavour,
        tag: buildRef,
        revision: context.sha,
        ...(context.owner && { source: `${context.serverUrl}/${context.owner}/${context.repo}` }),
        dockerfile: inputs.dockerfile,
        buildArgs: inputs.buildArgs,
        ...(cache && { cache }),
      },
      (line) => core.info(line),
    ),
  );
  core.setOutput("image", built.tag);
  core.setOutput("image-id", built.id);
  core.setOutput("image-size", built.sizeBytes);
  await core.summary
    .addHeading(`Runtime image built (${flavour})`, 3)
    .addTable([
      [
        { data: "image", header: true },
        { data: "id", header: true },
        { data: "size", header: true },
        { data: "builder", header: true },
      ],
      [built.tag, built.id, formatBytes(built.sizeBytes), built.builder],
    ])
    .write();
}

export async function testRuntimeCommand(): Promise<void> {
  const inputs = testRuntimeInputs();
  const { flavour } = inputs;
  const { competition, buildRef: image } = await runtimeTarget(inputs);
  const context = await githubContext();
  const budget = inputs.imageSizeBudget;
  const resolved = await resolveImage(image);

  // Participants add a package to both files at the same version: say so on their PR where they don't.
  const alignment = await core.group("the CPU and GPU environment files list the same packages", () =>
    environmentAlignment(context.workspace),
  );
  core.info(
    alignment === null
      ? "only one of environment-cpu.yml and environment-gpu.yml exists: nothing to compare"
      : alignment.length === 0
        ? "environment-cpu.yml and environment-gpu.yml list the same packages at the same versions"
        : alignment.join("\n"),
  );

  const imports = await core.group("import every package of the environment file", () =>
    testImports(image, path.join(context.workspace, inputs.environmentFile ?? `environment-${flavour}.yml`)),
  );
  for (const result of imports.results)
    core.info(`${result.ok ? "ok  " : "FAIL"} ${result.package}${result.error ? `: ${result.error}` : ""}`);

  // The GPU image is tested on the GPU where the runner has one; hosted runners have none: the test skips.
  const gpu =
    flavour === "gpu"
      ? await core.group("test the GPU (runtime/tests/test_gpu.py)", async () => {
          const report = await testGpu(image, { gpu: await runnerHasGpu() });
          core.info(report.output);
          return report;
        })
      : null;

  const smoke = await core.group("run the example submission through the sandbox", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "proctor-smoke-"));
    try {
      const zipPath = path.join(dir, "example.zip");
      await packSubmission(path.join(context.workspace, "example_submission"), zipPath);
      return await evaluateSubmission({
        competition,
        zipPath,
        image,
        participant: "example",
        submissionId: `smoke-${flavour}`,
        phase: "smoke_test",
        store: new MemoryLeaderboardStore(),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  core.info(`example submission: ${smoke.status} (${smoke.reason})`);

  let sizeProblem: string | null = null;
  try {
    checkImageSize({ tag: image, sizeBytes: resolved.sizeBytes }, budget);
  } catch (error) {
    sizeProblem = (error as Error).message;
  }

  const failures = [
    ...(alignment ?? []),
    ...(imports.problem ? [`import test could not run: ${imports.problem}`] : []),
    ...imports.failed.map((f) => `${f.package} does not import: ${f.error ?? "failed"}`),
    ...(smoke.status === "succeeded"
      ? []
      : [`the example submission ended ${smoke.status}: ${smoke.reason}`]),
    ...(gpu && !gpu.ok ? [`the GPU test failed: ${lastLine(gpu.output)}`] : []),
    ...(sizeProblem ? [sizeProblem] : []),
  ];

  core.setOutput("image", image);
  core.setOutput("image-id", resolved.id);
  await core.summary
    .addHeading(`Runtime tests (${flavour})`, 3)
    .addTable([
      [
        { data: "check", header: true },
        { data: "result", header: true },
      ],
      [
        "imports",
        imports.ok
          ? `all ${imports.results.length} import`
          : `${imports.failed.length} of ${imports.results.length} failed`,
      ],
      [
        "CPU and GPU environment files",
        alignment === null
          ? "only one exists"
          : alignment.length === 0
            ? "aligned"
            : `${alignment.length} difference(s)`,
      ],
      ...(gpu ? [["GPU test", gpuVerdict(gpu)]] : []),
      [
        "example submission",
        `${smoke.status}${smoke.scores.public === null ? "" : `, public score ${smoke.scores.public}`}`,
      ],
      ["image size", sizeProblem ?? `within ${formatBytes(budget)}`],
    ])
    .write();
  if (failures.length > 0) throw new Error(`runtime tests failed:\n- ${failures.join("\n- ")}`);
}

export async function publishRuntimeCommand(): Promise<void> {
  const inputs = publishRuntimeInputs();
  const { flavour, auth } = inputs;
  const { repository, buildRef } = await runtimeTarget(inputs);
  const context = await githubContext();
  const target = auth.serveraddress ? `${auth.serveraddress}/${repository}` : repository;
  const published = await core.group(`push ${target}`, () =>
    publishRuntime(buildRef, target, flavour, context.sha, auth, (line) => core.info(line)),
  );
  core.setOutput("image", published.refs[0]);
  core.setOutput("image-digest", published.digest);
  await core.summary
    .addHeading(`Runtime published (${flavour})`, 3)
    .addList(published.refs.map((ref) => `${ref}@${published.digest}`))
    .write();
}

/**
 * Where environment-cpu.yml and environment-gpu.yml of the repository disagree (a package in one only, or
 * at two versions), as lines that say what to change; null where the repository has only one of them.
 */
async function environmentAlignment(workspace: string): Promise<string[] | null> {
  const [cpu, gpu] = ["environment-cpu.yml", "environment-gpu.yml"].map((f) => path.join(workspace, f));
  const exists = (file: string) =>
    access(file).then(
      () => true,
      () => false,
    );
  if (!(await exists(cpu!)) || !(await exists(gpu!))) return null;
  const issues = alignmentIssues(await readEnvironment(cpu!), await readEnvironment(gpu!));
  return issues.map((issue) => issue.replaceAll(`${workspace}/`, ""));
}

/** Whether this runner has an NVIDIA GPU (nvidia-smi lists one), as the Makefile decides CPU_OR_GPU. */
function runnerHasGpu(): Promise<boolean> {
  return new Promise((resolve) => execFile("nvidia-smi", ["-L"], (error) => resolve(error === null)));
}

function gpuVerdict(report: GpuTestReport): string {
  if (report.skipped) return "skipped (no GPU on this runner)";
  return report.ok ? "passed" : `failed: ${lastLine(report.output)}`;
}

const lastLine = (text: string) => text.trimEnd().split("\n").at(-1) ?? "";
