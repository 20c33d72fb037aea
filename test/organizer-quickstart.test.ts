import { spawn } from "node:child_process";
import { once } from "node:events";
import { cp, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { offlineImage } from "../src/runtime/test-support/offline-image.js";

/**
 * The README's organizer quick start, as a new organizer runs it on a copy of the repository's own example
 * competition, no GitHub anywhere: `proctor tokens add alice`, `proctor serve` (one local runner slot on this
 * machine's engine), `proctor pack example_submission`, `proctor submit` — the score comes back, is on the
 * leaderboard page and /v1/status, and SIGTERM drains the runner and stops the gateway with 0.
 */
let work: string;
beforeAll(async () => {
  // The runner falls back to the offline flavour where the published runtime is not here (no Docker Hub).
  await offlineImage();
  work = await mkdtemp(path.join(os.tmpdir(), "proctor-quickstart-"));
  for (const part of ["competition.yml", "data", "submission_format", "example_submission"])
    await cp(part, path.join(work, part), { recursive: true });
}, 900_000);
afterAll(() => rm(work, { recursive: true, force: true }));

const CLI = path.resolve("src/cli/main.ts");
// Resolved here: the commands run in the competition's folder, where no node_modules is.
const TSX = import.meta.resolve("tsx");

function proctor(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ["--import", TSX, CLI, ...args], {
    cwd: work,
    env: { ...process.env, ...env },
  });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (d) => (out.stdout += d));
  child.stderr.on("data", (d) => (out.stderr += d));
  const done = once(child, "close").then(([code]) => ({ code: code as number | null, ...out }));
  return { child, out, done };
}

describe("an organizer's rehearsal with proctor serve alone", () => {
  it("takes a participant's submission to a score on the leaderboard, and stops cleanly", async () => {
    const tokens = await proctor(["tokens", "add", "alice"]).done;
    expect(tokens.code, tokens.stderr).toBe(0);
    const token = tokens.stdout.trim().split("\n")[0]!;
    expect(token).toMatch(/^pct_/);

    const serve = proctor(["serve", "--port", "0", "--log-level", "silent"]);
    const listening = /listening on (http:\/\/127\.0\.0\.1:\d+); no GitHub dispatch; 1 local runner slot/;
    for (let waited = 0; !listening.test(serve.out.stderr); waited += 100) {
      expect(serve.child.exitCode, serve.out.stderr).toBeNull();
      expect(waited, serve.out.stderr).toBeLessThan(60_000);
      await sleep(100);
    }
    const url = listening.exec(serve.out.stderr)![1]!;
    try {
      expect((await proctor(["pack", "example_submission"]).done).code).toBe(0);
      const submitted = await proctor(["submit", "submission.zip"], {
        PROCTOR_SERVER: url,
        PROCTOR_TOKEN: token,
      }).done;
      expect(submitted.stdout + submitted.stderr).toMatch(/succeeded — public score \d\.\d{4}/);
      expect(submitted.code).toBe(0);

      const page = await (await fetch(`${url}/leaderboard`)).text();
      expect(page).toMatch(/alice<\/th><td class="num">\d\.\d{4}/);
      const status = (await (await fetch(`${url}/v1/status`)).json()) as {
        kinds: { cpu: { runners_online: number; run_time: { last_hour: { count: number } } } };
      };
      expect(status.kinds.cpu).toMatchObject({ runners_online: 1, run_time: { last_hour: { count: 1 } } });
      expect(serve.out.stderr).toMatch(/slot 1: claimed sub-\S+ attempt 1 \(alice\)/);
    } finally {
      serve.child.kill("SIGTERM");
    }
    const stopped = await serve.done;
    expect(stopped.stderr).toContain("runner stopped");
    expect(stopped.code).toBe(0);
  }, 300_000);
});
