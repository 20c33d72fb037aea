import { spawn } from "node:child_process";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCompetition } from "../src/config/index.js";
import { createGateway, type Gateway } from "../src/gateway/index.js";
import { createGitHubClient } from "../src/github/index.js";
import { startFakeGitHub, type FakeGitHub } from "../src/github/test-support/fake-github.js";
import type { DispatchPayload } from "../src/gateway-api/index.js";
import { offlineImage } from "../src/runtime/test-support/offline-image.js";
import { packSubmission } from "../src/submission/index.js";
import { runAction } from "./support/action-runner.js";

/**
 * The whole platform on one machine: a participant uploads through the gateway (`proctor submit`), the
 * dispatch reaches the local GitHub API, a runner runs the bundled action (`node dist/index.js`,
 * run-submission) with the dispatch's public payload and its runner credential — it reads the submission
 * and fetches the zip from the gateway, runs, scores, reports back, posts the leaderboard — and the
 * participant reads the result (`proctor status`). Nothing secret and nothing the program printed appears
 * in the runner's public log.
 */
let github: FakeGitHub;
let gateway: Gateway;
let dir: string;
let image: string;
let zip: string;
let token: string;
let credential: string;

function proctor(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
      env: { ...process.env, PROCTOR_TOKEN: token, PROCTOR_SERVER: gateway.publicUrl() },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  image = await offlineImage();
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-e2e-"));
  await cp("data", path.join(dir, "hidden"), { recursive: true });
  await cp("submission_format", path.join(dir, "submission_format"), { recursive: true });
  await writeFile(
    path.join(dir, "competition.yml"),
    `name: End to end
runtime: { image: proctor/runtime, cpu_tag: cpu-offline }
limits: { time: 2m, memory: 1g, cpus: 1 }
paths: { data_dir: hidden/test_features, ground_truth: hidden/ground_truth.csv, submission_format: submission_format/format.yml }
runner_paths: { data_dir: ${dir}/hidden/test_features, ground_truth: ${dir}/hidden/ground_truth.csv }
scoring: { metric: f1_macro, direction: higher }
leaderboard: { daily_limit: 5 }
`,
  );
  zip = path.join(dir, "submission.zip");
  await packSubmission("example_submission", zip);
  github = await startFakeGitHub();
  github.addRepo("org", "competition");
  gateway = createGateway({
    competition: await loadCompetition(path.join(dir, "competition.yml")),
    dataDir: path.join(dir, "gateway"),
    github: {
      client: createGitHubClient({ token: github.token, baseUrl: github.url }),
      owner: "org",
      repo: "competition",
    },
    sweepIntervalMs: 0,
    dispatchWaitMs: 10_000,
    rateLimit: false,
  });
  await gateway.app.listen({ port: 0, host: "127.0.0.1" });
  token = gateway.intake.tokens.add("ada").token;
  credential = gateway.intake.runners.add("runner-1").token;
});
afterAll(async () => {
  await gateway?.close();
  await github?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("end to end: gateway → dispatch → runner → result", () => {
  it("a participant's upload is run by a runner and its score comes back to `proctor status`", async () => {
    const submitted = await proctor(["submit", zip, "--wait", "0", "--json"]);
    expect(submitted.stderr).toBe("");
    expect(submitted.code).toBe(0);
    const id = JSON.parse(submitted.stdout).submission.submission_id as string;

    const dispatch = github.dispatches("org", "competition").at(-1)!;
    expect(dispatch.eventType).toBe("submission");
    const payload = dispatch.clientPayload as unknown as DispatchPayload;
    expect(Object.keys(payload).length).toBeLessThanOrEqual(10);
    expect(payload).toMatchObject({ submission_id: id, participant: "ada", cpu_or_gpu: "cpu" });
    expect(JSON.stringify(payload)).not.toContain("PK\u0003\u0004");

    // The runner's job, as submission.yml runs it: the payload's checked ids, the gateway URL and the
    // credential from repository secrets (masked by the runner).
    const run = await runAction(
      {
        command: "run-submission",
        config: path.join(dir, "competition.yml"),
        "cpu-or-gpu": payload.cpu_or_gpu,
        "submission-id": payload.submission_id,
        attempt: String(payload.attempt),
        "gateway-url": gateway.publicUrl(),
        "runner-credential": credential,
        "github-token": github.token,
        image,
      },
      {
        eventName: "repository_dispatch",
        event: { client_payload: payload },
        env: { GITHUB_API_URL: github.url },
        secretInputs: ["runner-credential", "gateway-url", "github-token"],
      },
    );
    expect(run.log).not.toContain(credential);
    expect(run.log).not.toContain(token);
    expect(run.log).not.toMatch(/wrote \d+ predictions/); // what the example program prints
    expect(run.stdout).not.toContain("::error::");
    expect(run.stdout).not.toContain("::warning::");
    expect(run.outputs.status).toBe("succeeded");

    const status = await proctor(["status", id, "--json"]);
    expect(status.code).toBe(0);
    const view = JSON.parse(status.stdout);
    expect(view).toMatchObject({ submission_id: id, state: "final", status: "succeeded" });
    expect(view.public_score).toBe(Number(run.outputs["public-score"]));
    expect(view.public_score).toBeGreaterThan(0.85);

    const human = await proctor(["status"]);
    expect(human.stdout).toContain(id);
    expect(human.stdout).toMatch(/succeeded/);

    const board = JSON.parse(github.file("org", "competition", "leaderboard.json", "leaderboard")!);
    expect(board.entries.map((e: { submissionId: string }) => e.submissionId)).toEqual([id]);
  });
});
