import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import os from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeZip } from "../../test/support/zips.js";
import { runSubmissionAction, startHarness, upload, type Harness } from "../gateway/test-support/harness.js";
import { generateSealingKeys, openSealedScore } from "../leaderboard/index.js";
import { offlineImage } from "../runtime/test-support/offline-image.js";
import { packSubmission } from "../submission/index.js";

/**
 * run-submission as a self-hosted runner runs it (node dist/index.js) for a gateway's dispatch: the
 * submission read and its zip downloaded from a real gateway with the runner credential, run on the real
 * engine in the offline runtime, scored against the runner's ground truth, reported to the gateway, then
 * posted to a leaderboard branch, a commit status and a comment on the local GitHub API. Every run's public
 * log (the runner's echo of the step's inputs, and what the action printed) is checked for secrets and for
 * anything the participant's program printed.
 */
let h: Harness;
let dir: string;
let image: string;
const zips = new Map<string, Buffer>();
/** What the "noisy" submission prints: it must never reach a public log, summary or comment. */
const PRINTED = "PRINTED-BY-THE-PROGRAM";

beforeAll(async () => {
  image = await offlineImage();
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-runner-"));
  // The runner's disk: the hidden test set lives outside the repository, where competition.yml says.
  await cp("data", path.join(dir, "hidden"), { recursive: true });
  await cp("submission_format", path.join(dir, "submission_format"), { recursive: true });
  const yml = `name: Runner test
runtime: { image: proctor/runtime, cpu_tag: cpu-offline }
limits: { time: 2m, memory: 1g, cpus: 1 }
paths: { data_dir: hidden/test_features, ground_truth: hidden/ground_truth.csv, submission_format: submission_format/format.yml }
runner_paths: { data_dir: ${dir}/hidden/test_features, ground_truth: ${dir}/hidden/ground_truth.csv }
scoring: { metric: f1_macro, direction: higher, precision: 3 }
logs: { evaluation: tail, tail_lines: 5 }
`;
  await writeFile(path.join(dir, "competition.yml"), yml);
  h = await startHarness({}, yml);
  // The fake GitHub of the harness plays the runners' repository too.
  const example = path.join(dir, "example.zip");
  await packSubmission("example_submission", example);
  zips.set("example", await readFile(example));
  const noisy = await writeZip(path.join(dir, "noisy.zip"), {
    "main.py":
      `import sys, pandas as pd\nf = pd.read_csv("/code_execution/data/features.csv")\n` +
      `print("${PRINTED}", f.iloc[0].to_dict())\nprint("${PRINTED} on stderr", file=sys.stderr)\n` +
      `pd.DataFrame({"id": f["id"], "species": "emperor <b>|"}).to_csv("/code_execution/submission/submission.csv", index=False)\n`,
  });
  zips.set("noisy", await readFile(noisy));
});
afterAll(async () => {
  await h?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Uploads a zip as `participant`; returns its id. */
async function submitted(name: string, participant = "ada"): Promise<{ id: string; token: string }> {
  const token = h.token(participant);
  const r = await upload(h, token, zips.get(name)!);
  expect(r.status, r.text).toBe(202);
  return { id: (r.json()["submission"] as { submission_id: string }).submission_id, token };
}

function runner(id: string, extra: Record<string, string> = {}) {
  return runSubmissionAction(h, id, {
    config: path.join(dir, "competition.yml"),
    "leaderboard-branch": "leaderboard",
    image,
    ...extra,
  });
}

/** Nothing secret and nothing the program printed, in anything public. */
function expectNothingLeaked(run: Awaited<ReturnType<typeof runner>>, token: string) {
  const github = JSON.stringify({
    comments: h.fake.comments("org", "comp"),
    statuses: h.fake.statuses("org", "comp"),
  });
  for (const [where, text] of [
    ["log", run.log],
    ["summary", run.summary],
    ["outputs", JSON.stringify(run.outputs)],
    ["comments and statuses", github],
  ] as const) {
    expect(text, where).not.toContain(h.runner);
    expect(text, where).not.toContain(h.runner.slice(-43));
    expect(text, where).not.toContain(token);
    expect(text, where).not.toContain(PRINTED);
    expect(text, where).not.toContain("pg0000"); // a hidden test id
  }
}

const board = () =>
  JSON.parse(h.fake.file("org", "comp", "leaderboard.json", "leaderboard") ?? '{"entries":[]}') as {
    entries: Record<string, unknown>[];
  };

describe("action run-submission", () => {
  it("reads, downloads, runs, scores, reports to the gateway, then posts the branch, a status and a comment", async () => {
    const { id, token } = await submitted("example");
    const head = h.fake.branchHead("org", "comp", "main")!;
    const issue = h.fake.addPullRequest("org", "comp", "Submission by ada");
    const run = await runner(id, { "status-sha": head, "issue-number": String(issue) });
    expect(run.stdout).not.toContain("::error::");
    expect(run.code).toBe(0);
    expect(run.outputs.status).toBe("succeeded");
    // Rounded to scoring.precision (3) wherever it is shown.
    expect(run.outputs["public-score"]).toMatch(/^0\.\d{1,3}$/);
    expect(Number(run.outputs["public-score"])).toBeGreaterThan(0.85);
    expect(run.outputs["image-digest"]).toMatch(/^sha256:/);
    expect(run.log).toContain("runner-credential: ***");
    expect(run.log).toContain("gateway-url: ***");

    const view = h.gateway.intake.get("ada", id);
    expect(view).toMatchObject({ state: "final", status: "succeeded" });
    expect(view.public_score).toBe(Number(run.outputs["public-score"]));
    expect(board().entries).toHaveLength(1);
    expect(board().entries[0]).toMatchObject({
      submissionId: id,
      participant: "ada",
      status: "succeeded",
      privateScore: null,
      publicScore: Number(run.outputs["public-score"]),
    });
    expect(h.fake.file("org", "comp", "README.md", "leaderboard")).toContain("| 1 | ada |");
    expect(h.fake.statuses("org", "comp")).toContainEqual(
      expect.objectContaining({ state: "success", sha: head }),
    );
    expect(h.fake.comments("org", "comp").at(-1)?.body).toContain(`${id}`);
    expect(run.summary).toContain(`Submission ${id}`);
    expectNothingLeaked(run, token);
  });

  it("a participant's failure is recorded at the gateway with its logs, and public surfaces show none of it", async () => {
    const { id, token } = await submitted("noisy", "mallory");
    const issue = h.fake.addPullRequest("org", "comp", "Submission by mallory");
    const run = await runner(id, { "issue-number": String(issue) });
    expect(run.code).toBe(0);
    expect(run.outputs.status).toBe("output_invalid");
    expectNothingLeaked(run, token);
    expect(run.summary).not.toContain("emperor");
    // Its owner sees the logs and the problems on the gateway.
    const view = h.gateway.intake.get("mallory", id);
    expect(view.status).toBe("output_invalid");
    expect(view.logs.stdout).toContain(PRINTED);
    expect(view.problems.join("\n")).toContain("emperor");
    expect(board().entries.find((e) => e["submissionId"] === id)?.["status"]).toBe("output_invalid");
  });

  it("a re-run of a submission the gateway already has writes its result to the branch and runs nothing", async () => {
    const { id } = await submitted("example", "bob");
    expect((await runner(id)).code).toBe(0);
    const before = board().entries.filter((e) => e["submissionId"] === id);
    const again = await runner(id);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already has its final result at the gateway/);
    expect(again.stdout).not.toMatch(/run, validate and score/);
    expect(board().entries.filter((e) => e["submissionId"] === id)).toEqual(before);
  });

  it("a dispatch for an attempt the gateway gave up on runs nothing", async () => {
    const { id } = await submitted("example", "carol");
    const run = await runner(id, { attempt: "2" });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/gateway waits for attempt 1/);
    expect(h.gateway.intake.get("carol", id).state).toBe("queued");
  });

  it("a dispatch for a submission cancelled before it started runs nothing", async () => {
    const { id, token } = await submitted("example", "erin");
    await h.gateway.intake.cancel("erin", id);
    const run = await runner(id);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/the gateway says not to run it: .*was cancelled by the participant/);
    expect(run.stdout).not.toMatch(/download submission/);
    expect(h.gateway.intake.get("erin", id).state).toBe("cancelled");
    expectNothingLeaked(run, token);
  });

  it("without the runner credential (or with a wrong one) nothing is downloaded or reported", async () => {
    const { id } = await submitted("example", "dave");
    const wrong = await runner(id, { "runner-credential": `prc_000000000000_${"A".repeat(43)}` });
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/::error::proctor: no valid runner credential/);
    const missing = await runner(id, { "runner-credential": "" });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/::error::input "runner-credential" is required/);
    expect(h.gateway.intake.get("dave", id).state).toBe("queued");
  });

  it("a runner that cannot get the runtime image reports an infrastructure_error: run again, never counted", async () => {
    const { id, token } = await submitted("example", "erin");
    // Nothing listens on port 1 of the loopback: the engine cannot pull from there.
    const run = await runner(id, { image: "127.0.0.1:1/proctor/runtime:cpu-missing" });
    expect(run.code).toBe(1);
    expect(run.outputs.status).toBe("infrastructure_error");
    expect(run.stdout).toMatch(/::error::.*127\.0\.0\.1:1\/proctor\/runtime:cpu-missing/);
    const view = h.gateway.intake.get("erin", id);
    // The gateway took it as the platform's fault: attempt 2 is dispatched, nothing counted, no logs.
    expect(view).toMatchObject({ state: "queued", attempt: 2 });
    expect(view.earlier_attempts[0]).toMatchObject({ attempt: 1, status: "infrastructure_error" });
    expect(board().entries.some((e) => e["submissionId"] === id)).toBe(false);
    expectNothingLeaked(run, token);
  });

  it("an organizer's mistake on the runner (no ground truth) runs nothing and is never the participant's", async () => {
    const broken = (await readFile(path.join(dir, "competition.yml"), "utf8")).replace(
      "hidden/ground_truth.csv }",
      "hidden/missing.csv }",
    );
    await writeFile(path.join(dir, "broken.yml"), broken);
    const { id, token } = await submitted("example", "frank");
    const run = await runner(id, { config: path.join(dir, "broken.yml") });
    expect(run.code).toBe(1);
    expect(run.outputs.status).toBe("infrastructure_error");
    expect(run.stdout).toMatch(/::error::.*missing\.csv/);
    expect(h.gateway.intake.get("frank", id)).toMatchObject({ state: "queued", attempt: 2 });
    expectNothingLeaked(run, token);
  });

  it("seals the private score to the key given as PEM text, in place of the file competition.yml names", async () => {
    const keys = generateSealingKeys();
    // The file it names is not on this runner: the key from the secret is used and the file never read.
    const yml =
      (await readFile(path.join(dir, "competition.yml"), "utf8")) +
      "leaderboard: { sealing_public_key: keys/absent.pub.pem }\n";
    await writeFile(path.join(dir, "sealed.yml"), yml);
    const { id, token } = await submitted("example", "grace");
    const run = await runner(id, {
      config: path.join(dir, "sealed.yml"),
      "sealing-public-key": keys.publicKeyPem,
    });
    expect(run.code, run.stdout).toBe(0);
    expect(run.outputs.status).toBe("succeeded");
    const entry = board().entries.find((e) => e["submissionId"] === id)!;
    expect(entry["privateScore"]).toBeNull();
    const opened = openSealedScore(entry["sealedPrivateScore"] as string, id, keys.privateKeyPem);
    expect(opened).toBeGreaterThan(0.85);
    expectNothingLeaked(run, token);
  });

  it("refuses a submission id that could be a path or a command", async () => {
    const run = await runner("../../etc;rm");
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/::error::input "submission-id" must match/);
  });
});
