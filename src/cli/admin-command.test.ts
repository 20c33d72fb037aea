import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GOOD_ZIP,
  SUCCEEDED,
  download,
  postResult,
  startHarness,
  upload,
  type Harness,
} from "../gateway/test-support/harness.js";
import { adminCommand } from "./admin-command.js";
import { cancelCommand } from "./cancel-command.js";
import { tokensCommand } from "./tokens-command.js";
import { cli } from "./test-support/cli.js";
import { UsageError } from "./usage-error.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

async function uploaded(participant: string): Promise<{ token: string; id: string }> {
  const token = h.token(participant);
  const response = await upload(h, token, await GOOD_ZIP());
  expect(response.status, response.text).toBe(202);
  return { token, id: (response.json()["submission"] as { submission_id: string }).submission_id };
}

const admin = (...args: string[]) => cli(adminCommand(), [...args, "--data-dir", h.dataDir]);

describe("proctor cancel", () => {
  it("cancels a queued submission, and a started one (which counts); an ended one is refused with the reason", async () => {
    const { token, id } = await uploaded("cli-canceller");
    const ran = await cli(cancelCommand(), [id, "--server", h.url, "--token", token]);
    expect(ran.error).toBeUndefined();
    expect(ran.stdout).toContain(`cancelled ${id}`);
    expect(() => h.gateway.intake.runnerView(id)).toThrow(/was cancelled by the participant/);

    const started = await uploaded("cli-late-canceller");
    expect((await download(h, started.id, 1, h.runner)).status).toBe(200);
    const cancel = () =>
      cli(cancelCommand(), [started.id, "--server", h.url, "--token", started.token, "--json"]);
    const stopped = await cancel();
    expect(stopped.error).toBeUndefined();
    expect(JSON.parse(stopped.stdout)).toMatchObject({ quota: { used_today: 1 } });
    const refused = await cancel();
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: "not_cancellable" });
  });
});

describe("proctor admin", () => {
  it("lists the queue with states and ages, in text and JSON", async () => {
    const { id } = await uploaded('<queued> "team"');
    const text = await admin("queue");
    expect(text.stdout).toContain(id);
    expect(text.stdout).toContain('"<queued> \\"team\\""'); // names JSON-quoted: where one ends is plain
    const json = JSON.parse((await admin("queue", "--json")).stdout) as {
      submissions: { submission_id: string }[];
    };
    expect(json.submissions.map((s) => s.submission_id)).toContain(id);
  });

  it("re-runs, cancels, disqualifies and re-scores; mistakes are usage errors that say why", async () => {
    const { id } = await uploaded("cli-target");
    expect((await postResult(h, id, h.runner, SUCCEEDED)).status).toBe(200);
    expect((await admin("rerun", id)).stdout).toContain("queued again as attempt 2");
    const twice = await admin("rerun", id);
    expect(twice.error).toBeInstanceOf(UsageError);
    expect((twice.error as Error).message).toContain("only a final or cancelled submission");
    expect((await admin("cancel", id)).stdout).toContain("cancelled");
    expect((await admin("disqualify", id, "--reason", "copied")).stdout).toContain("disqualified");
    expect(() => h.gateway.intake.runnerView(id)).toThrow(/cancelled by the organizer/);
    expect(
      (await admin("disqualify", "cli-target", "--participant", "--reason", "copied")).error,
    ).toBeUndefined();
    const config = path.join(h.dir, "competition.yml");
    const unnamed = await admin("rescore", "--config", config);
    expect((unnamed.error as Error).message).toContain("name the submissions to re-score, or pass --all");
    const phased = await admin("rescore", id, "--phase", "final", "--config", config);
    expect((phased.error as Error).message).toContain('--phase "final" goes with --all');
    // Its result was reported by hand, without predictions: it says why, and queues nothing.
    const rescored = JSON.parse((await admin("rescore", id, "--config", config, "--json")).stdout) as {
      jobs: unknown[];
      skipped: { submission_id: string; reason: string }[];
    };
    expect(rescored.jobs).toEqual([]);
    expect(rescored.skipped).toEqual([
      { submission_id: id, reason: expect.stringMatching(/left no predictions on the gateway/) },
    ]);
    const text = await admin("rescore", "--all", "--dry-run", "--config", config);
    expect(text.stdout).toContain(
      `${id}  not re-scored: attempt 1 (whose result stands) left no predictions`,
    );
    expect(text.stdout).toContain("dry run: nothing applied");
    expect((await admin("rerun", "sub-nope")).error).toBeInstanceOf(UsageError);
  });
});

describe("proctor admins", () => {
  it("makes an organizer's token (pad_…) that opens a session, never the API", async () => {
    const ran = await cli(tokensCommand("admin"), ["add", "orga", "--data-dir", h.dataDir]);
    const token = ran.stdout.trim();
    expect(token).toMatch(/^pad_[0-9a-f]{12}_/);
    expect(ran.stderr).toContain("/signin");
    expect(h.gateway.intake.sessions.open(token)?.who).toMatchObject({ kind: "admin", holder: "orga" });
    expect(h.gateway.intake.tokens.authenticate(token)).toBeUndefined();
  });
});
