/**
 * The package diff of a fork's pull request, end to end in the emulated runner (issue 21): the runtime
 * workflow's diff step runs with the fork's read-only token and hands package-diff.json on as an artifact;
 * package-diff-comment.yml's job (workflow_run, write token, never the PR's code) reads it as data and posts
 * one comment on the emulated GitHub. Hostile artifacts are refused without repeating them. The publish
 * job's signing is skipped with a notice without the key, and the record job commits runtime/published.json.
 * The scripts run with bash and the CLI bundle (build/proctor.mjs, `npm run build`).
 */
import { execFileSync } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { startFakeGitHub, type FakeGitHub } from "../../src/github/test-support/fake-github.js";
import { runStep, shouldRun, type JobContext } from "./step-runner.js";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const FIXTURES = path.join(ROOT, "src/runtime/test-support/locks");

type Step = Record<string, unknown>;
type Job = { steps: Step[]; if?: string };
const load = async (file: string) =>
  parseYaml(await readFile(path.join(ROOT, ".github/workflows", file), "utf8")) as {
    jobs: Record<string, Job>;
  };
const named = (job: Job, name: string): Step => {
  const step = job.steps.find((s) => s.name === name);
  if (!step) throw new Error(`no step "${name}"`);
  return step;
};

const FORK_TOKEN = "ghs_fork-pr-read-only-token";
const WRITE_TOKEN = "ghs_workflow-run-write-token";
const HEAD_SHA = "f".repeat(40);

let dir: string;
let github: FakeGitHub;
let runtime: Awaited<ReturnType<typeof load>>;
let comment: Awaited<ReturnType<typeof load>>;
let pr: number;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "proctor-package-diff-wf-"));
  github = await startFakeGitHub();
  github.addRepo("org", "comp");
  github.addToken(FORK_TOKEN, { login: "github-actions[bot]", readOnly: true });
  github.addToken(WRITE_TOKEN, { login: "github-actions[bot]" });
  pr = github.addPullRequest("org", "comp", "Add lightgbm", [], {
    owner: "alice",
    branch: "main",
    sha: HEAD_SHA,
  });
  [runtime, comment] = await Promise.all([load("runtime.yml"), load("package-diff-comment.yml")]);
});
afterAll(async () => {
  await github.close();
  await rm(dir, { recursive: true, force: true });
});

/** A checkout with the fixture CPU environment and lock (numpy at `numpy`), and the CLI bundle. */
async function checkout(name: string, numpy = "2.2.6"): Promise<string> {
  const root = path.join(dir, name);
  await mkdir(path.join(root, "runtime", "lock"), { recursive: true });
  await cp(path.join(FIXTURES, "environment-cpu.yml"), path.join(root, "environment-cpu.yml"));
  const lock = await readFile(path.join(FIXTURES, "cpu.conda-lock.yml"), "utf8");
  await writeFile(
    path.join(root, "runtime", "lock", "cpu.conda-lock.yml"),
    lock.replace(/(name: numpy\n\s+version: )2\.2\.6/, `$1${numpy}`),
  );
  await symlink(path.join(ROOT, "build"), path.join(root, "build"));
  return root;
}

/** The fork's pull request run of the diff step: its workspace (base beside it under .proctor/base). */
async function prRun(name: string, body: string) {
  const workspace = await checkout(`${name}/pr`, "1.26.4");
  const base = await checkout(`${name}/base`);
  await cp(base, path.join(workspace, ".proctor", "base"), { recursive: true, dereference: false });
  const temp = path.join(dir, name, "temp");
  await mkdir(temp, { recursive: true });
  const context: JobContext = {
    github: {
      token: FORK_TOKEN,
      event_name: "pull_request",
      event: {
        pull_request: {
          number: pr,
          body,
          head: { sha: HEAD_SHA, repo: { full_name: "alice/comp" } },
          base: { sha: "e".repeat(40) },
        },
      },
    },
    matrix: { "cpu-or-gpu": "cpu" },
    steps: {
      cli: { outcome: "success", outputs: {} },
      build: { outcome: "success", outputs: { "image-size": "2147483648" } },
    },
    runner: { temp },
    // The image tests failed: the diff still runs (always()).
    failed: true,
  };
  const step = named(runtime.jobs.test!, "Package diff with the published image");
  expect(shouldRun(step.if, context)).toBe(true);
  const ran = await runStep(step, { context, cwd: workspace });
  return { ran, workspace };
}

/** What actions/upload-artifact then download-artifact (pattern package-diff-*) leave: one folder per artifact. */
async function downloaded(name: string, files: Record<string, string | Buffer>): Promise<string> {
  const temp = path.join(dir, name, "comment-temp");
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(temp, "package-diff", file)), { recursive: true });
    await writeFile(path.join(temp, "package-diff", file), content);
  }
  await mkdir(temp, { recursive: true });
  return temp;
}

/** package-diff-comment.yml's comment step, as the workflow_run runs it: the write token, the default branch. */
async function commentRun(temp: string, over: { headSha?: string; token?: string } = {}) {
  const job = comment.jobs.comment!;
  const context: JobContext = {
    github: {
      token: over.token ?? WRITE_TOKEN,
      event_name: "workflow_run",
      event: {
        workflow_run: {
          id: 77,
          event: "pull_request",
          conclusion: "failure",
          head_sha: over.headSha ?? HEAD_SHA,
          head_branch: "main",
          head_repository: { owner: { login: "alice" }, full_name: "alice/comp" },
          html_url: "https://github.com/org/comp/actions/runs/77",
        },
      },
    },
    steps: { download: { outcome: "success", outputs: {} } },
    runner: { temp },
  };
  expect(shouldRun(job.if, context)).toBe(true);
  return runStep(named(job, "Post or update the comment"), {
    context,
    cwd: ROOT,
    env: { GITHUB_API_URL: github.url, GITHUB_REPOSITORY: "org/comp" },
  });
}

const comments = () => github.comments("org", "comp").filter((c) => c.issueNumber === pr);

describe("a fork's package PR, in the emulated runner", () => {
  let report: string;

  it("the PR's run (read-only token) fails on a downgrade nobody asked for and still hands the diff on", async () => {
    const { ran, workspace } = await prRun(
      "unasked",
      "Adds nothing, honestly.\n$(touch /tmp/owned) ${{ secrets.X }}",
    );
    expect(ran.status, ran.stderr).toBe(2);
    expect(ran.stdout).toMatch(/FAIL \[unasked_downgrade\] numpy is downgraded 2\.2\.6 → 1\.26\.4 \(cpu\)/);
    expect(ran.summary).toContain("| ⚠️ downgraded | `numpy` | `2.2.6` | `1.26.4` |");
    // The runner prints env: values (the description is public anyway); never the token.
    expect(ran.log).toContain("PR_BODY: Adds nothing, honestly.");
    expect(ran.log).not.toContain(FORK_TOKEN);
    report = await readFile(path.join(workspace, "package-diff", "package-diff.json"), "utf8");
    expect(JSON.parse(report)).toMatchObject({
      pullRequest: pr,
      headSha: HEAD_SHA,
      unacknowledged: ["numpy"],
    });
  });

  it("passes once the description acknowledges the downgrade", async () => {
    const { ran } = await prRun("acknowledged", "Needs the old numpy.\r\nallow-downgrade: numpy\r\n");
    expect(ran.status, ran.stdout + ran.stderr).toBe(0);
    expect(ran.summary).toContain("Downgrades acknowledged in the description: `numpy`.");
  });

  it("the fork's token cannot comment: GitHub refuses the write", async () => {
    const temp = await downloaded("fork-token", { "package-diff-cpu/package-diff.json": report });
    const ran = await commentRun(temp, { token: FORK_TOKEN });
    expect(ran.status).not.toBe(0);
    expect(ran.stderr).toMatch(/403/);
    expect(comments()).toEqual([]);
  });

  it("the workflow_run job posts one comment from the artifact, and updates it on the next run", async () => {
    const temp = await downloaded("post", { "package-diff-cpu/package-diff.json": report });
    const first = await commentRun(temp);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`created comment \\d+ on org/comp#${pr}`));
    expect(first.log).not.toContain(WRITE_TOKEN);
    const second = await commentRun(temp);
    expect(second.stdout).toMatch(/updated comment/);
    expect(comments()).toHaveLength(1);
    const [posted] = comments();
    expect(posted!.author).toBe("github-actions[bot]");
    expect(posted!.body).toMatch(/^<!-- proctor:package-diff -->/);
    expect(posted!.body).toContain("| ⚠️ downgraded | `numpy` | `2.2.6` | `1.26.4` |");
    expect(posted!.body).toContain("**❌ Downgrades nobody asked for** (they fail the check): `numpy`");
    expect(posted!.body).toContain("https://github.com/org/comp/actions/runs/77");
  });

  const hostile = (over: Record<string, unknown>) => () => JSON.stringify({ ...JSON.parse(report), ...over });
  it.each([
    ["oversized", () => " ".repeat(1024 * 1024 + 1), /over the 1\.0 MiB/],
    [
      "HTML and Markdown in a package name",
      hostile({ unacknowledged: ["<img src=x onerror=alert(1)>](https://evil.example)"] }),
      /is not a package diff: unacknowledged\.0/,
    ],
    [
      "an expression in a version",
      hostile({
        changes: [{ name: "numpy", source: "conda", kind: "added", after: "${{ secrets.GITHUB_TOKEN }}" }],
      }),
      /changes\.0\.after must be a version/,
    ],
    ["a comment of its own", hostile({ body: "# please merge" }), /is not a package diff/],
    [
      "another pull request's number",
      hostile({ pullRequest: 999 }),
      /names pull request #\d+, but the run's commit is the head of #\d+: not posted/,
    ],
    [
      "another commit",
      hostile({ headSha: "0".repeat(40) }),
      /names commit 0{40} but the run ran on f{40}: not posted/,
    ],
  ])("refuses a hostile artifact: %s", async (name, content, message) => {
    const before = comments().map((c) => c.body);
    const temp = await downloaded(`hostile-${name.replace(/\W+/g, "-")}`, {
      "package-diff-cpu/package-diff.json": content(),
    });
    const ran = await commentRun(temp);
    expect(ran.status).toBe(1);
    expect(ran.stdout).toMatch(message);
    expect(ran.log).not.toMatch(/onerror|evil\.example|please merge|secrets\.GITHUB_TOKEN/);
    expect(comments().map((c) => c.body)).toEqual(before);
  });

  it("says there is nothing to comment on when the PR moved on since the run", async () => {
    const moved = "1".repeat(40);
    const temp = await downloaded("moved", {
      "package-diff-cpu/package-diff.json": JSON.stringify({ ...JSON.parse(report), headSha: moved }),
    });
    const ran = await commentRun(temp, { headSha: moved });
    expect(ran.status).toBe(0);
    expect(ran.stdout).toContain("nothing to comment on");
  });

  it("skips fork runs that were cancelled and runs of other events", async () => {
    const job = comment.jobs.comment!;
    const context = (event: string, conclusion: string): JobContext => ({
      github: { token: WRITE_TOKEN, event: { workflow_run: { event, conclusion } } },
      runner: { temp: dir },
    });
    expect(shouldRun(job.if, context("push", "success"))).toBe(false);
    expect(shouldRun(job.if, context("pull_request", "cancelled"))).toBe(false);
    expect(shouldRun(job.if, context("pull_request", "success"))).toBe(true);
  });
});

/** git with an identity, its output as text. */
const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
    cwd,
    stdio: "pipe",
    encoding: "utf8",
  });

/** A bare repository org/comp at file://<base>/server (the jobs' GITHUB_SERVER_URL) and an empty work tree on main. */
async function repositoryOnAServer(name: string): Promise<{ base: string; server: string; work: string }> {
  const base = path.join(dir, name);
  const server = path.join(base, "server", "org", "comp.git");
  const work = path.join(base, "work");
  await mkdir(path.dirname(server), { recursive: true });
  git(path.dirname(server), "init", "--quiet", "--bare", "-b", "main", "comp.git");
  await mkdir(work, { recursive: true });
  git(work, "init", "--quiet", "-b", "main");
  return { base, server, work };
}

describe("signed and recorded (publish and record jobs)", () => {
  const publish = () => runtime.jobs.publish!;

  it("without COSIGN_PRIVATE_KEY: signing is skipped with a notice, the image is still recorded", async () => {
    const temp = path.join(dir, "signing");
    await mkdir(temp, { recursive: true });
    const context: JobContext = {
      github: { token: WRITE_TOKEN },
      secrets: { DOCKERHUB_USERNAME: "org", DOCKERHUB_TOKEN: "dckr_pat_secret" },
      steps: { registry: { outcome: "success", outputs: { publish: "true" } } },
      runner: { temp },
    };
    const check = named(publish(), "Check the signing key");
    expect(shouldRun(check.if, context)).toBe(true);
    const ran = await runStep(check, { context, cwd: temp });
    expect(ran.status).toBe(0);
    expect(ran.env).toEqual({ HAS_KEY: "false" });
    expect(ran.outputs).toEqual({ sign: "false" });
    expect(ran.stdout).toMatch(
      /^::notice title=runtime image not signed::.*COSIGN_PRIVATE_KEY is not set.*docs\/runtime\.md\.$/m,
    );
    const after = {
      ...context,
      steps: { ...context.steps, signing: { outcome: "success" as const, outputs: ran.outputs } },
    };
    expect(shouldRun(named(publish(), "Install cosign").if, after)).toBe(false);
    expect(shouldRun(named(publish(), "Sign the image digest").if, after)).toBe(false);
    expect(shouldRun(named(publish(), "Record the published image").if, after)).toBe(true);

    const keyed = await runStep(check, {
      context: {
        ...context,
        secrets: { ...context.secrets, COSIGN_PRIVATE_KEY: "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----" },
      },
      cwd: temp,
    });
    expect(keyed.outputs).toEqual({ sign: "true" });
    expect(keyed.stdout).toBe("");
  });

  it("the sign step sees the key and the registry token only as masked env: values", () => {
    const sign = named(publish(), "Sign the image digest");
    expect(sign.env).toMatchObject({
      COSIGN_PRIVATE_KEY: "${{ secrets.COSIGN_PRIVATE_KEY }}",
      REGISTRY_TOKEN: "${{ secrets.DOCKERHUB_TOKEN }}",
    });
    expect(String(sign.run)).toContain("--password-stdin");
    expect(String(sign.run)).toContain(
      'cosign sign --yes --key env://COSIGN_PRIVATE_KEY "${IMAGE%:*}@${DIGEST}"',
    );
  });

  it("the record job commits both records to runtime/published.json on main, on top of a main that moved, the token never printed", async () => {
    const { base, server, work } = await repositoryOnAServer("record");
    await mkdir(path.join(work, "runtime", "lock"), { recursive: true });
    await writeFile(
      path.join(work, "runtime", "published.json"),
      '{\n  "format": "proctor-published/1",\n  "images": []\n}\n',
    );
    await cp(
      path.join(FIXTURES, "cpu.conda-lock.yml"),
      path.join(work, "runtime", "lock", "cpu.conda-lock.yml"),
    );
    await cp(
      path.join(FIXTURES, "gpu.conda-lock.yml"),
      path.join(work, "runtime", "lock", "gpu.conda-lock.yml"),
    );
    await writeFile(path.join(work, ".gitignore"), "build\n");
    git(work, "add", ".");
    git(work, "commit", "--quiet", "-m", "base");
    git(work, "push", "--quiet", server, "main");
    // Someone merges meanwhile: the job's checkout is behind main.
    const other = path.join(base, "other");
    git(base, "clone", "--quiet", server, other);
    await writeFile(path.join(other, "README.md"), "moved\n");
    git(other, "add", ".");
    git(other, "commit", "--quiet", "-m", "moved");
    git(other, "push", "--quiet", "origin", "main");
    await symlink(path.join(ROOT, "build"), path.join(work, "build"));

    const temp = path.join(base, "temp");
    for (const flavour of ["cpu", "gpu"]) {
      execFileSync(process.execPath, [
        path.join(ROOT, "build", "proctor.mjs"),
        "runtime",
        "record",
        "--flavour",
        flavour,
        "--image",
        `docker.io/org/runtime:${flavour}-${"a".repeat(40)}`,
        "--digest",
        `sha256:${(flavour === "cpu" ? "c" : "d").repeat(64)}`,
        "--commit",
        "a".repeat(40),
        "--size",
        "1234",
        "--root",
        work,
        "--out",
        path.join(temp, "published", `published-${flavour}`, "published", `${flavour}.json`),
      ]);
    }
    const context: JobContext = { github: { token: WRITE_TOKEN }, runner: { temp } };
    const ran = await runStep(named(runtime.jobs.record!, "Commit them to runtime/published.json on main"), {
      context,
      cwd: work,
      env: {
        GITHUB_SERVER_URL: `file://${path.join(base, "server")}`,
        GITHUB_REPOSITORY: "org/comp",
        GITHUB_SHA: "a".repeat(40),
      },
    });
    expect(ran.stdout + ran.stderr).not.toContain(WRITE_TOKEN);
    expect(ran.status, ran.stderr).toBe(0);
    expect(ran.stdout).toContain("::notice title=published images recorded::");
    const pushed = JSON.parse(
      execFileSync("git", ["--git-dir", server, "show", "main:runtime/published.json"], { encoding: "utf8" }),
    );
    expect(
      pushed.images.map((i: { flavour: string; digest: string }) => `${i.flavour} ${i.digest.slice(0, 8)}`),
    ).toEqual(["cpu sha256:c", "gpu sha256:d"]);
    expect(execFileSync("git", ["--git-dir", server, "show", "main:README.md"], { encoding: "utf8" })).toBe(
      "moved\n",
    );
  });

  it("the record job puts each published image's SBOM on the leaderboard branch under runtime/, and says so where that branch is not made yet", async () => {
    const { base, server, work } = await repositoryOnAServer("sboms");
    await writeFile(path.join(work, "README.md"), "competition\n");
    git(work, "add", ".");
    git(work, "commit", "--quiet", "-m", "base");
    git(work, "push", "--quiet", server, "main");
    const temp = path.join(base, "temp");
    for (const flavour of ["cpu", "gpu"]) {
      const folder = path.join(temp, "published", `published-${flavour}`, "sbom");
      await mkdir(folder, { recursive: true });
      await writeFile(
        path.join(folder, `${flavour}.cdx.json`),
        `{"bomFormat":"CycloneDX","flavour":"${flavour}"}\n`,
      );
    }
    const step = named(runtime.jobs.record!, "Publish the SBOMs on the leaderboard branch");
    const run = () =>
      runStep(step, {
        context: { github: { token: WRITE_TOKEN }, runner: { temp } } as JobContext,
        cwd: work,
        env: {
          GITHUB_SERVER_URL: `file://${path.join(base, "server")}`,
          GITHUB_REPOSITORY: "org/comp",
          GITHUB_SHA: "b".repeat(40),
        },
      });
    const before = await run();
    expect(before.status, before.stderr).toBe(0);
    expect(before.stdout).toContain(
      "::notice title=SBOMs not on leaderboard::the branch leaderboard does not exist yet",
    );
    // The first scored submission makes the branch.
    git(work, "push", "--quiet", server, "main:leaderboard");
    const ran = await run();
    expect(ran.stdout + ran.stderr).not.toContain(WRITE_TOKEN);
    expect(ran.status, ran.stderr).toBe(0);
    expect(ran.stdout).toContain("::notice title=SBOMs published::");
    const show = (file: string) =>
      execFileSync("git", ["--git-dir", server, "show", `leaderboard:${file}`], { encoding: "utf8" });
    expect(JSON.parse(show("runtime/sbom-gpu.cdx.json"))).toEqual({ bomFormat: "CycloneDX", flavour: "gpu" });
    expect(show("README.md")).toBe("competition\n");
    const again = await run();
    expect(again.stdout).toContain("the SBOMs on leaderboard are current");
  });
});
