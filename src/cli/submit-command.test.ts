import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  GOOD_ZIP,
  SUCCEEDED,
  download,
  postResult,
  startHarness,
  zipOf,
  type Harness,
} from "../gateway/test-support/harness.js";
import type { SubmissionView } from "../gateway-api/index.js";
import { statusCommand } from "./status-command.js";
import { describeSubmission, submitCommand } from "./submit-command.js";
import { tokensCommand } from "./tokens-command.js";
import { cli } from "./test-support/cli.js";
import { UsageError } from "./usage-error.js";

let h: Harness;
let dir: string;
let zip: string;
beforeAll(async () => {
  h = await startHarness();
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-submit-"));
  zip = path.join(dir, "submission.zip");
  await writeFile(zip, await GOOD_ZIP());
  vi.stubEnv("XDG_CONFIG_HOME", path.join(dir, "config"));
  vi.stubEnv("PROCTOR_TOKEN", "");
  vi.stubEnv("PROCTOR_SERVER", "");
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

/** Plays the runner for the next dispatch: downloads the zip and reports `result`. */
async function runnerFor(result: unknown) {
  const seen = h.dispatches().length;
  while (h.dispatches().length === seen) await sleep(10);
  const dispatch = h.dispatches().at(-1)!;
  expect((await download(h, dispatch.submission_id, dispatch.attempt, h.runner)).status).toBe(200);
  await sleep(50);
  expect((await postResult(h, dispatch.submission_id, h.runner, result)).status).toBe(200);
  return dispatch;
}

describe("proctor submit", () => {
  it("uploads, waits for the result and prints it; exit code 0 on succeeded", async () => {
    const token = h.token("cli-user");
    const runner = runnerFor(SUCCEEDED);
    const ran = await cli(submitCommand(), [zip, "--server", h.url, "--token", token, "--wait", "20s"]);
    const dispatch = await runner;
    expect(ran.error).toBeUndefined();
    expect(ran.code).toBe(0);
    // With precision 4 decimals, as the pages show it (the JSON number drops the trailing 0).
    expect(ran.stdout).toContain(`${dispatch.submission_id}: succeeded — public score 0.8750 in 1.2s`);
    expect(ran.stdout).toContain("stdout (last lines):\n    line 3\n    line 4");
    expect(ran.stderr).toContain(`as ${dispatch.submission_id}`);
    expect(ran.stderr).toContain("submissions: 2 of 3 left today");
    expect(ran.stderr).not.toContain("uploading ["); // not a TTY: no progress bar
  });

  it("prints one JSON object with --json, and exits 1 on a participant failure", async () => {
    const token = h.token("cli-json");
    const runner = runnerFor({
      attempt: 1,
      status: "failed",
      reason: "exit code 1",
      public_score: null,
      duration_ms: 3,
      image_digest: "",
    });
    const ran = await cli(submitCommand(), [zip, "--server", h.url, "--token", token, "--json"]);
    await runner;
    expect(ran.code).toBe(1);
    expect(JSON.parse(ran.stdout)).toMatchObject({ state: "final", status: "failed", reason: "exit code 1" });
    expect(ran.stderr).toBe("");
  });

  it("says its place in the queue while it waits, and that it goes on when the wait is over (exit 3)", async () => {
    const token = h.token("cli-queued");
    const ran = await cli(submitCommand(), [zip, "--server", h.url, "--token", token, "--wait", "2s"]);
    // No runner takes it here: the harness dispatches to GitHub, whose runners are seen once one claims.
    expect(ran.stderr).toMatch(/#\d+ in the cpu queue; handed to the Actions runners/);
    expect(ran.stderr.match(/in the cpu queue/g)).toHaveLength(1); // said once, not at every poll
    expect(ran.stderr).toMatch(/still queued after 2.0s; it goes on/);
    expect(ran.code).toBe(3);
  });

  it("does not wait with --wait 0", async () => {
    const token = h.token("cli-nowait");
    const ran = await cli(submitCommand(), [
      zip,
      "--server",
      h.url,
      "--token",
      token,
      "--wait",
      "0",
      "--json",
    ]);
    expect(ran.code).toBeUndefined();
    expect(JSON.parse(ran.stdout)).toMatchObject({
      submission: { state: "queued" },
      quota: { used_today: 1 },
    });
  });

  it("reports a refused zip with the rule (exit 1), a bad token as a usage error, an unreachable gateway as exit 3", async () => {
    const token = h.token("cli-bad");
    const bad = path.join(dir, "bad.zip");
    await writeFile(bad, await zipOf({ "train.py": "x" }));
    const refused = await cli(submitCommand(), [bad, "--server", h.url, "--token", token, "--json"]);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: "invalid_submission", rule: "no_entrypoint" });
    expect(refused.stderr).toMatch(/main\.py/);

    const forged = await cli(submitCommand(), [zip, "--server", h.url, "--token", "pct_nope"]);
    expect(forged.error).toBeInstanceOf(UsageError);
    expect(String((forged.error as Error).message)).toMatch(/refused the token/);

    const unreachable = await cli(submitCommand(), [zip, "--server", "http://127.0.0.1:9", "--token", token]);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toMatch(/could not upload to http:\/\/127.0.0.1:9/);

    const missing = await cli(submitCommand(), [
      path.join(dir, "nope.zip"),
      "--server",
      h.url,
      "--token",
      token,
    ]);
    expect(missing.error).toBeInstanceOf(UsageError);
  });

  it("sends --model after the zip: a missing file is a usage error, a zip competition refuses it (400)", async () => {
    const token = h.token("cli-model");
    const missing = await cli(submitCommand(), [
      zip,
      "--model",
      path.join(dir, "nope.tar.gz"),
      "--server",
      h.url,
      "--token",
      token,
    ]);
    expect(missing.error).toBeInstanceOf(UsageError);
    expect(String((missing.error as Error).message)).toMatch(/--model .*nope\.tar\.gz: no such file/);

    const model = path.join(dir, "model.tar.gz");
    await writeFile(model, "weights");
    const refused = await cli(submitCommand(), [
      zip,
      "--model",
      model,
      "--server",
      h.url,
      "--token",
      token,
      "--json",
    ]);
    expect(refused.code).not.toBe(0);
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: "unexpected_part" });
    expect(refused.stderr).toMatch(/this competition takes zips/);
  });

  it("reads the token from a 0600 credentials file and refuses one others can read", async () => {
    const token = h.token("cli-file");
    const file = path.join(dir, "config", "proctor", "credentials.json");
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify({ server: h.url, token }), { mode: 0o600 });
    const ok = await cli(submitCommand(), [zip, "--wait", "0"]);
    expect(ok.error).toBeUndefined();
    expect(ok.stdout).toMatch(/: queued/);
    await chmod(file, 0o644);
    const open = await cli(statusCommand(), []);
    expect(open.error).toBeInstanceOf(UsageError);
    expect(String((open.error as Error).message)).toMatch(/chmod 600/);
    await rm(file);
  });
});

describe("proctor status", () => {
  it("lists the participant's submissions with the remaining quota, and shows one", async () => {
    const token = h.token("cli-status");
    const runner = runnerFor(SUCCEEDED);
    const submitted = await cli(submitCommand(), [zip, "--server", h.url, "--token", token, "--json"]);
    const dispatch = await runner;
    expect(submitted.code).toBe(0);
    const list = await cli(statusCommand(), ["--server", h.url, "--token", token]);
    expect(list.stdout).toContain(`${dispatch.submission_id}  2025-03-01T10:00:00.000Z  succeeded 0.8750`);
    expect(list.stdout).toContain(
      "submissions: 2 of 3 left today (resets 2025-03-02T00:00:00.000Z); 9 of 10 left in total",
    );
    const one = await cli(statusCommand(), [
      dispatch.submission_id,
      "--server",
      h.url,
      "--token",
      token,
      "--json",
    ]);
    expect(JSON.parse(one.stdout)).toMatchObject({
      status: "succeeded",
      public_score: 0.875,
      score_precision: 4,
    });
    const theirs = await cli(statusCommand(), [
      dispatch.submission_id,
      "--server",
      h.url,
      "--token",
      h.token("x"),
    ]);
    expect(theirs.code).toBe(1);
    expect(theirs.stderr).toMatch(/no submission/);

    // Taken off the leaderboards: the list and the one submission both say so, with the organizers' reason.
    h.gateway.intake.organizer.disqualify(dispatch.submission_id, "shared \u001b[2Jcode");
    const listed = await cli(statusCommand(), ["--server", h.url, "--token", token]);
    expect(listed.stdout).toContain("succeeded 0.8750  disqualified: shared ?[2Jcode");
    const shown = await cli(statusCommand(), [dispatch.submission_id, "--server", h.url, "--token", token]);
    expect(shown.stdout).toContain("\n  disqualified by the organizers: shared ?[2Jcode");
  });
});

describe("proctor tokens", () => {
  it("adds (printing the token once), lists and revokes tokens in a data dir", async () => {
    const dataDir = path.join(dir, "tokens-data");
    const added = await cli(tokensCommand(), ["add", "dana", "--data-dir", dataDir, "--json"]);
    const issued = JSON.parse(added.stdout) as { id: string; token: string };
    expect(issued.token).toMatch(/^pct_/);
    const listed = await cli(tokensCommand(), ["list", "--data-dir", dataDir]);
    expect(listed.stdout).toContain(`${issued.id}  "dana"`);
    expect(listed.stdout).not.toContain(issued.token);
    const revoked = await cli(tokensCommand(), ["revoke", issued.id, "--data-dir", dataDir]);
    expect(revoked.stdout).toContain(`revoked token ${issued.id} of "dana"`);
    const again = await cli(tokensCommand(), ["revoke", issued.id, "--data-dir", dataDir]);
    expect(again.error).toBeInstanceOf(UsageError);
    const bad = await cli(tokensCommand(), ["add", " spaced", "--data-dir", dataDir]);
    expect(bad.error).toBeInstanceOf(UsageError);
  });
});

describe("describeSubmission", () => {
  it("prints what the program produced without its control characters", () => {
    const view = {
      submission_id: "s1",
      state: "final",
      status: "failed",
      public_score: null,
      duration_ms: 1000,
      reason: "exited 1 \u001b[2J",
      earlier_attempts: [{ attempt: 1, status: "infrastructure_error", reason: "\u001b]0;title\u0007" }],
      problems: ["column \u001b[31mred"],
      logs: { visibility: "full", stdout: "a\u001b[1Ab", stderr: "" },
    } as unknown as SubmissionView;
    const text = describeSubmission(view);
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(text).toContain("exited 1 ?[2J");
    expect(text).toContain("column ?[31mred");
    expect(text).toContain("a?[1Ab");
  });
});
