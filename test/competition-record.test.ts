import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminCommand } from "../src/cli/admin-command.js";
import { rescore } from "../src/cli/admin-rescore.js";
import { cli } from "../src/cli/test-support/cli.js";
import { loadCompetition, type Competition } from "../src/config/index.js";
import { createGateway, type Gateway } from "../src/gateway/index.js";
import { FakeClock, getJson, rawRequest, upload, zipOf } from "../src/gateway/test-support/harness.js";
import type { SubmissionView } from "../src/gateway-api/index.js";
import { startFakeGitHub, type FakeGitHub } from "../src/github/test-support/fake-github.js";
import { generateSealingKeys } from "../src/leaderboard/index.js";
import { CLAIM_LABEL } from "../src/runner/index.js";
import { containersCreated } from "../src/runner/test-support/containers-created.js";
import { exampleCompetitionYml } from "../src/runner/test-support/example-competition.js";
import { PATIENCE_MS, TestRunner } from "../src/runner/test-support/test-runner.js";
import { labelledContainers, removeLabelled } from "../src/sandbox/index.js";

/**
 * The competition's record from open to prize (issue 19's whole story), on real parts: a gateway on
 * 127.0.0.1 (real SQLite) and a pull runner running the repository's example submission in the offline
 * runtime, a two-phase timeline (practice on the public sample, then the final phase), and the organizer's
 * tools. Practice entries never reach the final phase's board, quota or pick; a re-run that fails and a
 * cancelled re-run keep the earlier score; a re-score after a metric change shows and then applies the new
 * score without running the program; a disqualified participant is on no board and marked in the export;
 * the reveal after the end publishes the private board on the gateway and on the leaderboard branch.
 */
const keys = generateSealingKeys();

let dir: string;
let gateway: Gateway;
let github: FakeGitHub;
let url: string;
let credential: string;
let runner: TestRunner;
const clock = new FakeClock(new Date("2025-03-02T12:00:00Z"));
const made: string[] = [];
const tokens = new Map<string, string>();

/** The example competition with two phases, sealed private scores and picked finals, scored by `metric`. */
async function competition(metric: string): Promise<Competition> {
  const yml = (await exampleCompetitionYml())
    .replace(/metric: f1_macro[^\n]*/, `metric: ${metric}`)
    .replace(/final_selection:[^\n]*\n[^\n]*\n[^\n]*\n/, "final_selection: { mode: chosen, count: 1 }\n")
    .replace(/\n {2}daily_limit: 5/, "\n  daily_limit: 5\n  sealing_public_key: leaderboard.pub.pem").concat(`
timeline:
  start: 2025-03-01T00:00:00Z
  end: 2025-04-01T00:00:00Z
  phases:
    - { name: practice, start: 2025-03-01T00:00:00Z, data: public_sample, daily_limit: 2 }
    - { name: main, title: Main round, start: 2025-03-10T00:00:00Z }
`);
  const file = path.join(dir, `competition-${metric}.yml`);
  await writeFile(file, yml);
  return loadCompetition(file);
}

const organizer = () => gateway.intake.organizer;
const tokenOf = (participant: string) => {
  if (!tokens.has(participant)) tokens.set(participant, gateway.intake.tokens.add(participant).token);
  return tokens.get(participant)!;
};

/** The example submission from `participant`, once the runner scored it: its id. */
async function scored(participant: string): Promise<string> {
  const zip = await zipOf({
    "main.py": await readFile("example_submission/main.py", "utf8"),
    "model.json": await readFile("example_submission/model.json", "utf8"),
  });
  const response = await upload({ url }, tokenOf(participant), zip);
  expect(response.status, response.text).toBe(202);
  const id = (response.json()["submission"] as SubmissionView).submission_id;
  made.push(id);
  const record = await runner.until(`${id} scored`, () => {
    const r = organizer().submission(id);
    return r.state === "final" && r;
  });
  expect(record.status, record.reason ?? "").toBe("succeeded");
  return id;
}

const board = async (query = "") =>
  (
    (await getJson({ url }, `/v1/leaderboard${query}`)).json() as {
      phase: string | null;
      rows: { participant: string; score: number | null; privateScore?: number }[];
    }
  ).rows.filter((r) => r.score !== null);
const scoreOf = async (participant: string, query = "") =>
  (await board(query)).find((r) => r.participant === participant)?.score;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-record-"));
  await writeFile(path.join(dir, "leaderboard.pub.pem"), keys.publicKeyPem);
  await writeFile(path.join(dir, "leaderboard.key.pem"), keys.privateKeyPem, { mode: 0o600 });
  github = await startFakeGitHub();
  github.addRepo("org", "comp");
  const f1 = await competition("f1_macro");
  gateway = createGateway({
    competition: f1,
    dataDir: path.join(dir, "gateway"),
    clock: clock.read,
    sweepIntervalMs: 250,
    rateLimit: false,
  });
  await gateway.app.listen({ port: 0, host: "127.0.0.1" });
  url = gateway.publicUrl();
  credential = gateway.intake.runners.add("record-runner").token;
  runner = new TestRunner({ server: url, token: credential }, "record-runner");
  await runner.with(f1);
}, PATIENCE_MS);

afterAll(async () => {
  await runner?.stopNow();
  await gateway?.close();
  await github?.close();
  for (const c of await labelledContainers(CLAIM_LABEL)) {
    if (made.some((id) => c.value.startsWith(`${id}.`))) await removeLabelled(CLAIM_LABEL, c.value);
  }
  await rm(dir, { recursive: true, force: true });
});

describe("a two-phase competition from open to prize", () => {
  const ids: Record<string, string> = {};

  it(
    "practice entries stay on the practice board, never using the final phase's quota or pick",
    async () => {
      ids["practice"] = await scored("alice");
      expect(await scoreOf("alice", "?phase=practice")).toEqual(expect.any(Number));
      clock.now = new Date("2025-03-11T12:00:00Z");
      expect(await scoreOf("alice")).toBeUndefined(); // the default board is now the main round's
      const quota = (await getJson({ url }, "/v1/submissions", tokenOf("alice"))).json()["quota"];
      expect(quota).toMatchObject({ daily_limit: 5, used_today: 0, used_total: 0 });

      ids["alice"] = await scored("alice");
      ids["bob"] = await scored("bob");
      ids["carol"] = await scored("carol");
      const pick = (id: string) =>
        rawRequest(url, {
          method: "POST",
          path: `/v1/submissions/${id}/choice`,
          headers: { authorization: `Bearer ${tokenOf("alice")}`, "content-type": "application/json" },
          body: Buffer.from(JSON.stringify({ chosen: true })),
        });
      expect((await pick(ids["practice"]!)).status).toBe(409);
      expect((await pick(ids["alice"]!)).status).toBe(200);
      expect((await board()).map((r) => r.participant).sort()).toEqual(["alice", "bob", "carol"]);
    },
    PATIENCE_MS * 2,
  );

  it(
    "a re-run that fails, and a re-run cancelled while queued, keep the earlier score",
    async () => {
      await runner.drain(); // the organizer's re-runs are answered by hand below
      const before = await scoreOf("alice");
      const id = ids["alice"]!;
      const rerun = organizer().rerun(id);
      const post = (route: string, body: unknown) =>
        rawRequest(url, {
          method: "POST",
          path: route,
          headers: { authorization: `Bearer ${credential}`, "content-type": "application/json" },
          body: Buffer.from(JSON.stringify(body)),
        });
      const claim = await post(`/v1/runner/submissions/${id}/claim`, {
        attempt: rerun.attempt,
        runner: "by-hand",
      });
      expect(claim.status, claim.text).toBe(200);
      const failed = await post(`/v1/runner/submissions/${id}/result`, {
        attempt: rerun.attempt,
        claim_token: claim.json()["claim_token"],
        status: "failed",
        reason: "exit code 1",
        public_score: null,
        private_score_sealed: null,
        duration_ms: 10,
        image_digest: "sha256:" + "e".repeat(64),
        stdout: "",
        stderr: "",
      });
      expect(failed.status, failed.text).toBe(200);
      expect(await scoreOf("alice")).toBe(before);

      organizer().rerun(id);
      organizer().cancel(id);
      expect(await scoreOf("alice")).toBe(before);
      expect(organizer().submission(id)).toMatchObject({ status: "succeeded", publicScore: before });
    },
    PATIENCE_MS,
  );

  it(
    "a re-score after a metric change shows old and new on a dry run, then applies the new score",
    async () => {
      const started = new Date();
      const accuracy = await competition("accuracy");
      await runner.with(accuracy);
      const id = ids["bob"]!;
      const before = await scoreOf("bob");
      const dry = await rescore(organizer(), accuracy, { ids: [id], dryRun: true, waitMs: PATIENCE_MS });
      expect(dry.jobs[0]).toMatchObject({ progress: "done", old: { public_score: before } });
      expect(await scoreOf("bob")).toBe(before);
      const applied = await rescore(organizer(), accuracy, { ids: [id], dryRun: false, waitMs: PATIENCE_MS });
      expect(applied.applied).toEqual([id]);
      expect(await scoreOf("bob")).toBe(applied.jobs[0]!.new.public_score);
      // Scoring only: the engine made no container for either re-score (its own event log says so).
      for (const job of [...dry.jobs, ...applied.jobs])
        expect(await containersCreated(`${id}.${job.attempt}`, started)).toEqual([]);
    },
    PATIENCE_MS * 2,
  );

  it(
    "a disqualified participant is on no board, and marked in the organizers' export",
    async () => {
      organizer().disqualifyParticipant("carol", "two accounts");
      expect((await board()).map((r) => r.participant)).not.toContain("carol");
      const admin = gateway.intake.admins.add("orga").token;
      const exported = await rawRequest(url, {
        path: "/v1/admin/export?format=csv",
        headers: { authorization: `Bearer ${admin}` },
      });
      const rows = parse(exported.text, { columns: true }) as Record<string, string>[];
      expect(rows.find((r) => r["submission_id"] === ids["carol"])).toMatchObject({
        disqualified: "participant: two accounts",
      });
      expect(rows.find((r) => r["submission_id"] === ids["practice"])).toMatchObject({ phase: "practice" });
    },
    PATIENCE_MS,
  );

  it(
    "the reveal after the end publishes the final phase's private board on the gateway and the branch",
    async () => {
      const saved = process.env["GITHUB_TOKEN"];
      process.env["GITHUB_TOKEN"] = github.token;
      try {
        const ran = await cli(adminCommand(), [
          "reveal",
          "--key",
          path.join(dir, "leaderboard.key.pem"),
          "--config",
          path.join(dir, "competition-f1_macro.yml"),
          "--data-dir",
          path.join(dir, "gateway"),
          "--repo",
          "org/comp",
          "--github-api-url",
          github.url,
          "--json",
        ]);
        expect(ran.error).toBeUndefined();
        expect(JSON.parse(ran.stdout)).toMatchObject({ phase: "main", ranked_entries: 2 });
      } finally {
        if (saved === undefined) delete process.env["GITHUB_TOKEN"];
        else process.env["GITHUB_TOKEN"] = saved;
      }
      const finalBoard = await board("?board=private");
      expect(finalBoard.map((r) => r.participant).sort()).toEqual(["alice", "bob"]);
      expect(finalBoard.every((r) => typeof r.privateScore === "number")).toBe(true);
      const branch = JSON.parse(github.file("org", "comp", "private-leaderboard.json", "leaderboard")!) as {
        rows: { participant: string }[];
      };
      expect(branch.rows.map((r) => r.participant).sort()).toEqual(["alice", "bob"]);
    },
    PATIENCE_MS,
  );
});
