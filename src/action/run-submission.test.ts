import { createHash } from "node:crypto";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAction } from "../../test/support/action-runner.js";
import { writeZip } from "../../test/support/zips.js";
import { startFakeGitHub, type FakeGitHub } from "../github/test-support/fake-github.js";
import { offlineImage } from "../runtime/test-support/offline-image.js";
import { packSubmission } from "../submission/index.js";

/**
 * run-submission as a self-hosted runner runs it (node dist/index.js): the zip downloaded from a local
 * server, run on the real engine in the offline runtime, scored against the runner's ground truth, and
 * posted to a leaderboard branch, a commit status and a comment on the local GitHub API.
 */
let github: FakeGitHub;
let files: Server;
let filesUrl: string;
let dir: string;
let image: string;
const zips = new Map<string, Buffer>();

beforeAll(async () => {
  image = await offlineImage();
  github = await startFakeGitHub();
  github.addRepo("org", "competition");
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-runner-"));
  // The runner's disk: the hidden test set lives outside the repository, where competition.yml says.
  await cp("data", path.join(dir, "hidden"), { recursive: true });
  await cp("submission_format", path.join(dir, "submission_format"), { recursive: true });
  await writeFile(
    path.join(dir, "competition.yml"),
    `name: Runner test
runtime: { image: proctor/runtime, cpu_tag: cpu-offline }
limits: { time: 2m, memory: 1g, cpus: 1 }
paths: { data_dir: hidden/test_features, ground_truth: hidden/ground_truth.csv, submission_format: submission_format/format.yml }
runner_paths: { data_dir: ${dir}/hidden/test_features, ground_truth: ${dir}/hidden/ground_truth.csv }
scoring: { metric: f1_macro, direction: higher }
logs: { evaluation: tail, tail_lines: 5 }
`,
  );
  const example = path.join(dir, "example.zip");
  await packSubmission("example_submission", example);
  zips.set("example", await readFile(example));
  const bad = await writeZip(path.join(dir, "bad.zip"), {
    "main.py": `import pandas as pd\nf = pd.read_csv("/code_execution/data/features.csv")\npd.DataFrame({"id": f["id"], "species": "emperor"}).to_csv("/code_execution/submission/submission.csv", index=False)\n`,
  });
  zips.set("bad", await readFile(bad));
  files = createServer((req, res) => {
    const zip = zips.get(req.url!.slice(1).split("?")[0]!);
    if (req.url!.startsWith("/go/")) return res.writeHead(302, { location: req.url!.slice(3) }).end();
    if (!zip) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/zip" }).end(zip);
  });
  await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
  filesUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}`;
});
afterAll(async () => {
  files.close();
  await github.close();
  await rm(dir, { recursive: true, force: true });
});

const sha = (name: string) => createHash("sha256").update(zips.get(name)!).digest("hex");

function submit(name: string, id: string, extra: Record<string, string> = {}) {
  return runAction(
    {
      command: "run-submission",
      config: path.join(dir, "competition.yml"),
      "submission-id": id,
      "submission-url": `${filesUrl}/go/${name}?signature=secret-signature`,
      "submission-sha256": sha(name),
      participant: "ada",
      "submitted-at": "2026-11-21T10:00:00Z",
      "github-token": github.token,
      "leaderboard-branch": "leaderboard",
      image,
      ...extra,
    },
    { eventName: "repository_dispatch", env: { GITHUB_API_URL: github.url } },
  );
}

describe("action run-submission", () => {
  it("downloads, runs, scores and posts the result to the leaderboard branch, a status and a comment", async () => {
    const head = github.branchHead("org", "competition", "main")!;
    const issue = github.addPullRequest("org", "competition", "Submission by ada");
    const run = await submit("example", "sub-001", { "status-sha": head, "issue-number": String(issue) });
    expect(run.stdout).not.toContain("::error::");
    expect(run.code).toBe(0);
    expect(run.outputs.status).toBe("succeeded");
    expect(Number(run.outputs["public-score"])).toBeGreaterThan(0.85);
    expect(run.outputs["image-digest"]).toMatch(/^sha256:/);
    expect(run.stdout).not.toContain("secret-signature");

    const board = JSON.parse(github.file("org", "competition", "leaderboard.json", "leaderboard")!);
    expect(board.entries).toHaveLength(1);
    expect(board.entries[0]).toMatchObject({
      submissionId: "sub-001",
      participant: "ada",
      status: "succeeded",
      privateScore: null,
    });
    expect(github.file("org", "competition", "README.md", "leaderboard")).toContain("| 1 | ada |");
    expect(github.file("org", "competition", "index.html", "leaderboard")).toContain("<table");
    expect(github.statuses("org", "competition")).toContainEqual(
      expect.objectContaining({ state: "success", sha: head }),
    );
    expect(github.comments("org", "competition").at(-1)?.body).toMatch(/sub-001.*succeeded/);
    expect(run.summary).toContain("Submission sub-001");
  });

  it("a status that can't be set is a warning, not a failed job: the result is already posted", async () => {
    const run = await submit("example", "sub-004", { "status-sha": "f".repeat(40) });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/::warning::could not set the commit status/);
  });

  it("posting the same submission again keeps one entry", async () => {
    const run = await submit("example", "sub-001");
    expect(run.code).toBe(0);
    const board = JSON.parse(github.file("org", "competition", "leaderboard.json", "leaderboard")!);
    expect(board.entries.filter((e: { submissionId: string }) => e.submissionId === "sub-001")).toHaveLength(
      1,
    );
  });

  it("a participant failure is recorded and shown, and does not fail the job", async () => {
    const run = await submit("bad", "sub-002");
    expect(run.code).toBe(0);
    expect(run.outputs.status).toBe("output_invalid");
    expect(run.summary).toContain("emperor");
    const board = JSON.parse(github.file("org", "competition", "leaderboard.json", "leaderboard")!);
    expect(board.entries.find((e: { submissionId: string }) => e.submissionId === "sub-002").status).toBe(
      "output_invalid",
    );
  });

  it("a zip whose sha256 differs is an infrastructure_error that fails the job so it can be re-run", async () => {
    const run = await submit("example", "sub-003", { "submission-sha256": "0".repeat(64) });
    expect(run.code).toBe(1);
    expect(run.outputs.status).toBe("infrastructure_error");
    expect(run.stdout).toMatch(/::error::infrastructure error \(re-run this job\)/);
  });

  it("refuses a submission id that could be a path or a command", async () => {
    const run = await submit("example", "../../etc;rm");
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/::error::input "submission-id" must match/);
  });
});
