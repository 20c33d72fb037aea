import * as core from "@actions/core";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { loadCompetition, type Competition } from "../config/index.js";
import { commentOnIssue, createGitHubClient } from "../github/index.js";
import { MemoryLeaderboardStore } from "../leaderboard/store.js";
import { evaluateSubmission } from "../pipeline/evaluate.js";
import {
  buildRuntime,
  checkImageSize,
  diffPackages,
  publishedPackages,
  publishRuntime,
  resolvedPackages,
  testImports,
  type Flavour,
} from "../runtime/index.js";
import { resolveImage } from "../sandbox/index.js";
import { packSubmission } from "../submission/index.js";
import { formatBytes } from "../units/index.js";
import { githubContext, pullRequestNumber } from "./github-context.js";
import { InputError, oneOf, optional, required, size } from "./inputs.js";
import { packageDiffComment } from "./package-diff.js";

interface RuntimeInputs {
  competition: Competition;
  flavour: Flavour;
  /** Repository of the runtime image (no tag). */
  repository: string;
  /** The image the build job leaves for test and publish: <repository>:<flavour>-build. */
  buildRef: string;
}

async function runtimeInputs(): Promise<RuntimeInputs> {
  const competition = await loadCompetition(core.getInput("config") || "competition.yml");
  const flavour = oneOf("cpu-or-gpu", ["cpu", "gpu"] as const, "cpu");
  const repository = optional("image") ?? competition.image.repository;
  return { competition, flavour, repository, buildRef: `${repository}:${flavour}-build` };
}

/** Runs `work` inside a folded log group. */
async function group<T>(title: string, work: () => Promise<T>): Promise<T> {
  return core.group(title, work);
}

/** KEY=VALUE lines of the build-args input. */
function buildArgs(): Record<string, string> {
  const args: Record<string, string> = {};
  for (const line of core.getMultilineInput("build-args")) {
    const at = line.indexOf("=");
    if (at <= 0) throw new InputError(`input "build-args": "${line}" is not KEY=VALUE`);
    args[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return args;
}

export async function buildRuntimeCommand(): Promise<void> {
  const { flavour, buildRef } = await runtimeInputs();
  const context = await githubContext();
  // BuildKit's GitHub cache works wherever the runner hands actions its cache token.
  const cache = process.env.ACTIONS_RUNTIME_TOKEN && process.env.ACTIONS_CACHE_URL ? "type=gha" : undefined;
  const built = await group(`docker build runtime (${flavour})`, () =>
    buildRuntime(
      {
        repoRoot: context.workspace,
        flavour,
        tag: buildRef,
        revision: context.sha,
        dockerfile: core.getInput("dockerfile") || "runtime/Dockerfile",
        buildArgs: buildArgs(),
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
  const { competition, flavour, repository, buildRef } = await runtimeInputs();
  const image = buildRef;
  const context = await githubContext();
  const budget = size("image-size-budget", "12g");
  const resolved = await resolveImage(image);

  const imports = await group("import every package of the environment file", () =>
    testImports(
      image,
      path.join(context.workspace, optional("environment-file") ?? `environment-${flavour}.yml`),
    ),
  );
  for (const result of imports.results)
    core.info(`${result.ok ? "ok  " : "FAIL"} ${result.package}${result.error ? `: ${result.error}` : ""}`);

  const smoke = await group("run the example submission through the sandbox", async () => {
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
    ...(imports.problem ? [`import test could not run: ${imports.problem}`] : []),
    ...imports.failed.map((f) => `${f.package} does not import: ${f.error ?? "failed"}`),
    ...(smoke.status === "succeeded"
      ? []
      : [`the example submission ended ${smoke.status}: ${smoke.reason}`]),
    ...(sizeProblem ? [sizeProblem] : []),
  ];

  const pr = pullRequestNumber(context);
  if (pr !== null) {
    const published = optional("published-image") ?? `${repository}:${flavour}-latest`;
    const before = await group(`packages of the published image ${published}`, () =>
      publishedPackages(published),
    );
    const after = await resolvedPackages(image);
    const body = packageDiffComment(flavour, published, before && diffPackages(before, after));
    const token = optional("github-token");
    if (token) {
      const client = createGitHubClient({ token, baseUrl: context.apiUrl });
      // A fork's PR gets a read-only token: the comparison is in the summary and the log either way.
      await commentOnIssue(client, { owner: context.owner, repo: context.repo, issueNumber: pr, body }).catch(
        (error: unknown) =>
          core.warning(
            `could not comment on #${pr} (${(error as Error).message}); the comparison is in the job summary`,
          ),
      );
    }
    core.info(body);
    await core.summary.addRaw(body, true).write();
  }

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
        "example submission",
        `${smoke.status}${smoke.scores.public === null ? "" : `, public score ${smoke.scores.public}`}`,
      ],
      ["image size", sizeProblem ?? `within ${formatBytes(budget)}`],
    ])
    .write();
  if (failures.length > 0) throw new Error(`runtime tests failed:\n- ${failures.join("\n- ")}`);
}

export async function publishRuntimeCommand(): Promise<void> {
  const { flavour, repository, buildRef } = await runtimeInputs();
  const context = await githubContext();
  const registry = optional("registry");
  const username = optional("username");
  const password = optional("password");
  if (password) core.setSecret(password);
  const auth =
    username && password ? { username, password, ...(registry && { serveraddress: registry }) } : null;
  if (!auth) required("username", "publish-runtime");
  const target = registry ? `${registry}/${repository}` : repository;
  const published = await group(`push ${target}`, () =>
    publishRuntime(buildRef, target, flavour, context.sha, auth, (line) => core.info(line)),
  );
  core.setOutput("image", published.refs[0]);
  core.setOutput("image-digest", published.digest);
  await core.summary
    .addHeading(`Runtime published (${flavour})`, 3)
    .addList(published.refs.map((ref) => `${ref}@${published.digest}`))
    .write();
}
