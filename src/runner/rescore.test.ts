/**
 * Re-scoring without re-running, end to end on the real engine: a gateway on 127.0.0.1 (real SQLite), a
 * pull runner in this process scoring the repository's example submission in the offline runtime image.
 * The runner keeps the run's predictions on the gateway; the metric changes on the runners; `proctor
 * admin rescore --dry-run` shows old and new and changes nothing; `rescore` applies it; no container is
 * made for either re-score (the engine's own event log says so). A missing predictions file and a failing
 * scorer each leave the earlier score, and say why.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rescore } from "../cli/admin-rescore.js";
import { loadCompetition, type Competition } from "../config/index.js";
import { createGateway, type Gateway } from "../gateway/index.js";
import { upload, zipOf } from "../gateway/test-support/harness.js";
import type { SubmissionView } from "../gateway-api/index.js";
import { labelledContainers, removeLabelled } from "../sandbox/index.js";
import { CLAIM_LABEL } from "./index.js";
import { containersCreated } from "./test-support/containers-created.js";
import { exampleCompetitionYml } from "./test-support/example-competition.js";
import { PATIENCE_MS, TestRunner } from "./test-support/test-runner.js";

let gateway: Gateway;
let url: string;
let credential: string;
let dir: string;
let yml: string;
const made: string[] = [];
let runner: TestRunner;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-rescore-"));
  yml = await exampleCompetitionYml();
  gateway = createGateway({
    competition: await competitionWith("f1_macro"),
    dataDir: path.join(dir, "gateway"),
    sweepIntervalMs: 250,
    rateLimit: false,
  });
  await gateway.app.listen({ port: 0, host: "127.0.0.1" });
  url = gateway.publicUrl();
  credential = gateway.intake.runners.add("rescore-runner").token;
  runner = new TestRunner({ server: url, token: credential }, "rescorer");
});

afterAll(async () => {
  await runner?.stopNow();
  await gateway?.close();
  for (const c of await labelledContainers(CLAIM_LABEL)) {
    if (made.some((id) => c.value.startsWith(`${id}.`))) await removeLabelled(CLAIM_LABEL, c.value);
  }
  await rm(dir, { recursive: true, force: true });
});

/** The example competition scored by `metric` (a YAML value), as the runners have it. */
async function competitionWith(metric: string): Promise<Competition> {
  const file = path.join(dir, `competition-${made.length}-${Math.random().toString(36).slice(2)}.yml`);
  await writeFile(file, yml.replace(/metric: f1_macro[^\n]*/, `metric: ${metric}`));
  return loadCompetition(file);
}

/** The example submission, scored by a runner: its id. */
async function scoredSubmission(participant: string): Promise<string> {
  const token = gateway.intake.tokens.add(participant).token;
  const zip = await zipOf({
    "main.py": await readFile("example_submission/main.py", "utf8"),
    "model.json": await readFile("example_submission/model.json", "utf8"),
  });
  const response = await upload({ url }, token, zip);
  expect(response.status, response.text).toBe(202);
  const id = (response.json()["submission"] as SubmissionView).submission_id;
  made.push(id);
  await runner.until(`${id} scored`, () => {
    const r = gateway.intake.organizer.submission(id);
    return r.state === "final" && r;
  });
  return id;
}

const organizer = () => gateway.intake.organizer;
const standing = (id: string) => {
  const r = organizer().submission(id);
  return { status: r.status, publicScore: r.publicScore, standingAttempt: r.standingAttempt };
};

describe("re-scoring kept predictions", () => {
  let id: string;
  let f1: number;
  const started = new Date();

  it(
    "keeps a scored run's predictions on the gateway (0600, organizer-only) with what scored it",
    async () => {
      await runner.with(await competitionWith("f1_macro"));
      id = await scoredSubmission("ada");
      const r = organizer().submission(id);
      expect(r.status, r.reason ?? "").toBe("succeeded");
      f1 = r.publicScore!;
      const first = r.attempts[0]!;
      expect(first).toMatchObject({ job: "run", predictionsSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(first.scorerDigest).toMatch(/^[0-9a-f]{64}$/);
      expect(first.groundTruthDigest).toMatch(/^[0-9a-f]{64}$/);
      expect(r).toMatchObject({
        scorerDigest: first.scorerDigest,
        groundTruthDigest: first.groundTruthDigest,
      });
      const file = path.join(dir, "gateway", "predictions", `${id}.1.tar`);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      // The program ran in a container of its claim: the engine's log shows it (so the checks below can).
      expect(await containersCreated(`${id}.1`, started)).not.toEqual([]);
    },
    PATIENCE_MS,
  );

  it(
    "after a metric change, --dry-run shows old and new and changes nothing; rescore applies it; no program runs",
    async () => {
      const accuracy = await competitionWith("accuracy");
      await runner.with(accuracy);
      const version = gateway.intake.resultsVersion;
      const board = JSON.stringify(gateway.intake.standings());

      const dry = await rescore(organizer(), accuracy, { ids: [id], dryRun: true, waitMs: PATIENCE_MS });
      expect(dry.skipped).toEqual([]);
      const [seen] = dry.jobs;
      expect(seen).toMatchObject({
        progress: "done",
        applicable: true,
        old: { status: "succeeded", public_score: f1 },
      });
      expect(seen!.new.status).toBe("succeeded");
      expect(seen!.new.public_score).not.toBe(f1);
      expect(dry.applied).toEqual([]);
      // Nothing a participant sees changed: the standing score, the board, its version.
      expect(standing(id)).toEqual({ status: "succeeded", publicScore: f1, standingAttempt: 1 });
      expect(JSON.stringify(gateway.intake.standings())).toBe(board);
      expect(gateway.intake.resultsVersion).toBe(version);
      // Its owner is not shown the organizers' dry run as an attempt of theirs.
      expect(gateway.intake.get("ada", id).earlier_attempts).toEqual([]);

      const applied = await rescore(organizer(), accuracy, { ids: [id], dryRun: false, waitMs: PATIENCE_MS });
      expect(applied.applied).toEqual([id]);
      const accuracyScore = applied.jobs[0]!.new.public_score;
      expect(accuracyScore).toBe(seen!.new.public_score);
      const r = organizer().submission(id);
      expect(standing(id)).toEqual({ status: "succeeded", publicScore: accuracyScore, standingAttempt: 3 });
      expect(r.attempts.map((a) => [a.attempt, a.why, a.job, a.rescoreOf, a.status])).toEqual([
        [1, "upload", "run", null, "succeeded"],
        [2, "rescore", "rescore", 1, "succeeded"],
        [3, "rescore", "rescore", 1, "succeeded"],
      ]);
      // What scored it changed with the metric; the ground truth and the run's image did not.
      expect(r.scorerDigest).not.toBe(r.attempts[0]!.scorerDigest);
      expect(r.groundTruthDigest).toBe(r.attempts[0]!.groundTruthDigest);
      expect(r.imageDigest).toBe(r.attempts[0]!.imageDigest);
      expect(gateway.intake.standings().rows[0]).toMatchObject({
        submissionId: id,
        publicScore: accuracyScore,
      });
      // The public board names what scored it and the submission, never the ground truth.
      const published = (await (await fetch(`${url}/v1/leaderboard`)).json()) as {
        rows: Record<string, unknown>[];
      };
      const row = published.rows.find((x) => x["submissionId"] === id);
      expect(row).toMatchObject({ scorerDigest: r.scorerDigest, submissionSha256: r.zipSha256 });
      expect(JSON.stringify(published)).not.toContain(r.groundTruthDigest!);
      // The program never ran again: no container was made for either re-score's claim.
      expect(await containersCreated(`${id}.2`, started)).toEqual([]);
      expect(await containersCreated(`${id}.3`, started)).toEqual([]);
    },
    PATIENCE_MS,
  );

  it(
    "a scorer that fails never replaces the score, and is said to have failed",
    async () => {
      const broken = await competitionWith(
        '{ custom: { name: Broken, direction: higher, command: [sh, -c, "echo no >&2; exit 3"] } }',
      );
      await runner.with(broken);
      const before = standing(id);
      const report = await rescore(organizer(), broken, { ids: [id], dryRun: false, waitMs: PATIENCE_MS });
      const [job] = report.jobs;
      expect(job).toMatchObject({ progress: "done", applicable: false });
      expect(job!.new.status, job!.new.reason ?? "").toBe("scorer_failed");
      expect(job!.new.reason).toMatch(/Broken|scorer/);
      expect(report.applied).toEqual([]);
      expect(standing(id)).toEqual(before);
    },
    PATIENCE_MS,
  );

  it("a missing predictions file, or none kept, is said per submission; nothing is queued for it", async () => {
    const r = organizer().submission(id);
    await rm(path.join(dir, "gateway", "predictions", `${id}.1.tar`));
    const { jobs, skipped } = organizer().rescores.queue({ ids: [id, "sub-missing"] });
    expect(jobs).toEqual([]);
    expect(skipped[0]!.reason).toMatch(
      new RegExp(
        `the predictions of attempt 1 are missing from .*${id}\\.1\\.tar.*proctor admin rerun ${id}`,
      ),
    );
    expect(skipped[1]).toEqual({ submission_id: "sub-missing", reason: 'no submission "sub-missing"' });
    expect(organizer().submission(id).attempt).toBe(r.attempt);
  });
});
