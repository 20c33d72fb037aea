/**
 * Pull runners on the real engine against a real gateway on 127.0.0.1 (no GitHub): the repository's
 * example competition and submission, run in the offline runtime image. Runner loops in this process, and
 * `proctor runner` processes (the CLI from source), claim, heartbeat, run, report; one is killed, one is
 * cancelled under, one drains, one is stopped at once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCompetition } from "../config/index.js";
import { createGateway, type Gateway } from "../gateway/index.js";
import { getJson, rawRequest, upload, zipOf } from "../gateway/test-support/harness.js";
import type { SubmissionView } from "../gateway-api/index.js";
import { labelledContainers, removeLabelled } from "../sandbox/index.js";
import { CLAIM_LABEL, PullRunner, type RunnerEvent } from "./index.js";
import { exampleCompetitionYml } from "./test-support/example-competition.js";

const IMAGE = "proctor/runtime:cpu-offline";
/** Generous: two cores are shared by everything; nothing here asserts a time. */
const PATIENCE_MS = 240_000;

let gateway: Gateway;
let url: string;
let credential: string;
let dir: string;
let config: string;
let mainPy: string;
let model: string;
const made: string[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-runner-"));
  const competition = await loadCompetition("competition.yml");
  // A short lease so a lost runner is noticed within seconds (heartbeats every 2 s).
  gateway = createGateway({
    competition,
    dataDir: dir,
    sweepIntervalMs: 250,
    leaseMs: 6000,
    rateLimit: false,
  });
  await gateway.app.listen({ port: 0, host: "127.0.0.1" });
  url = gateway.publicUrl();
  credential = gateway.intake.runners.add("test-runner").token;
  // The `proctor runner` processes read a competition.yml whose runner_paths are this clone's data/ (the
  // repository's name /srv/proctor, a runner machine's disk).
  config = path.join(dir, "competition.yml");
  await writeFile(config, await exampleCompetitionYml());
  mainPy = await readFile("example_submission/main.py", "utf8");
  model = await readFile("example_submission/model.json", "utf8");
});

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await gateway?.close();
  // Only what these tests made: the containers of their submissions' claims.
  for (const c of await labelledContainers(CLAIM_LABEL)) {
    if (made.some((id) => c.value.startsWith(`${id}.`))) await removeLabelled(CLAIM_LABEL, c.value);
  }
  await rm(dir, { recursive: true, force: true });
});

/** The example submission, sleeping `seconds` first. */
const exampleZip = (seconds = 0) =>
  zipOf({
    "main.py": seconds > 0 ? `import time\ntime.sleep(${seconds})\n${mainPy}` : mainPy,
    "model.json": model,
  });

async function submit(participant: string, seconds = 0): Promise<{ id: string; token: string }> {
  const token = gateway.intake.tokens.add(participant).token;
  const response = await upload({ url }, token, await exampleZip(seconds));
  expect(response.status, response.text).toBe(202);
  const id = (response.json()["submission"] as SubmissionView).submission_id;
  made.push(id);
  return { id, token };
}

const view = async (id: string, token: string) =>
  (await getJson({ url }, `/v1/submissions/${id}`, token)).json() as unknown as SubmissionView & {
    quota?: unknown;
  };

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  context: () => string[] = () => [],
): Promise<T> {
  const deadline = Date.now() + PATIENCE_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}\n${context().join("\n")}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const containersOf = async (id: string, attempt: number) =>
  (await labelledContainers(CLAIM_LABEL)).filter((c) => c.value === `${id}.${attempt}`);

function inProcessRunner(name: string, events: RunnerEvent[] = []): PullRunner {
  return new PullRunner({
    gateway: { server: url, token: credential },
    kind: "cpu",
    slots: 1,
    competition: gateway.intake.competition,
    image: IMAGE,
    local: true,
    name,
    waitMs: 2000,
    log: (event) => events.push(event),
  });
}

/** `proctor runner` as an organizer starts it, from source; its stdout lines collected. */
function runnerProcess(name: string): {
  child: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
} {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "src/cli/main.ts",
      "runner",
      "--gateway",
      url,
      "--json",
      "--image",
      IMAGE,
      "--name",
      name,
      "--config",
      config,
    ],
    { env: { ...process.env, PROCTOR_RUNNER_CREDENTIAL: credential }, stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(child);
  const lines: string[] = [];
  child.stdout!.on("data", (d: Buffer) => lines.push(...d.toString().split("\n").filter(Boolean)));
  child.stderr!.on("data", (d: Buffer) => lines.push(...d.toString().split("\n").filter(Boolean)));
  const exited = once(child, "exit").then(([code]) => code as number | null);
  return { child, lines, exited };
}

const claimedBy = (id: string) => gateway.intake.organizer.submission(id).claimedBy;

describe("a runner whose credential the gateway refuses", () => {
  it("stops at once with one line naming the fix, instead of retrying forever", async () => {
    const issued = gateway.intake.runners.add("revoked-runner");
    gateway.intake.runners.revoke(issued.id);
    const events: RunnerEvent[] = [];
    const runner = new PullRunner({
      gateway: { server: url, token: issued.token },
      kind: "cpu",
      slots: 2,
      competition: gateway.intake.competition,
      image: IMAGE,
      local: true,
      name: "revoked",
      waitMs: 2000,
      log: (event) => events.push(event),
    });
    await runner.start();
    expect(runner.refused).toMatch(/refused this runner's credential \(401: .*proctor runners add <name>/);
    // One line for the operator, however many slots asked.
    expect(events.filter((e) => e.event === "refused")).toHaveLength(1);
    expect(events.filter((e) => e.event === "error")).toEqual([]);
    expect(events.at(-1)).toEqual({ event: "done" });
  });
});

describe("pull runners", () => {
  it(
    "two runners drain a queue from several participants: each submission run once, scored, one row each",
    { timeout: 600_000 },
    async () => {
      const a = inProcessRunner("a");
      const b = inProcessRunner("b");
      const submitted: { id: string; token: string }[] = [];
      for (const participant of ["ann", "bob", "cat"]) {
        submitted.push(await submit(participant), await submit(participant));
      }
      void a.start();
      void b.start();
      try {
        for (const { id, token } of submitted) {
          const final = await until(`${id} final`, async () => {
            const v = await view(id, token);
            return v.state === "final" ? v : undefined;
          });
          expect(final).toMatchObject({ status: "succeeded", attempt: 1, earlier_attempts: [] });
          expect(final.public_score).toBeGreaterThan(0.5);
        }
        const entries = gateway.intake
          .entries()
          .filter((e) => submitted.some((s) => s.id === e.submissionId));
        expect(entries).toHaveLength(6);
        const list = (await getJson({ url }, "/v1/submissions", submitted[0]!.token)).json();
        expect(list["quota"]).toMatchObject({ used_today: 2 });
      } finally {
        await Promise.all([a.drain(), b.drain()]);
      }
    },
  );

  it(
    "a runner killed with SIGKILL mid-run: the other re-runs it as attempt 2, counted once, one row; the dead one's container goes",
    { timeout: 600_000 },
    async () => {
      const doomed = runnerProcess("doomed");
      const { id, token } = await submit("dan", 8);
      await until(
        "the doomed runner's claim",
        async () => claimedBy(id)?.endsWith("doomed/slot-1"),
        () => doomed.lines,
      );
      await until("its container", async () => (await containersOf(id, 1)).length > 0);
      doomed.child.kill("SIGKILL");
      await doomed.exited;

      const events: RunnerEvent[] = [];
      const other = inProcessRunner("other", events);
      void other.start();
      try {
        const final = await until("the re-run's result", async () => {
          const v = await view(id, token);
          return v.state === "final" ? v : undefined;
        });
        expect(final).toMatchObject({ status: "succeeded", attempt: 2 });
        expect(final.earlier_attempts).toEqual([
          expect.objectContaining({ attempt: 1, status: "infrastructure_error" }),
        ]);
        expect(gateway.intake.entries().filter((e) => e.submissionId === id)).toHaveLength(1);
        const list = (await getJson({ url }, "/v1/submissions", token)).json();
        expect(list["quota"]).toMatchObject({ used_today: 1 });
        // The dead runner's container: its claim is over, so any runner on this engine removes it.
        await other.sweepLeftovers();
        expect(await containersOf(id, 1)).toEqual([]);
        expect(events).toContainEqual(
          expect.objectContaining({ event: "claim", submission_id: id, attempt: 2 }),
        );
      } finally {
        await other.drain();
      }
    },
  );

  it(
    "a cancel during a run stops its container within a heartbeat or two; it ends cancelled and counts",
    { timeout: 600_000 },
    async () => {
      const events: RunnerEvent[] = [];
      const runner = inProcessRunner("canceller", events);
      void runner.start();
      try {
        const { id, token } = await submit("eve", 120);
        await until("its container", async () => (await containersOf(id, 1)).length > 0);
        const cancelled = await rawRequest(url, {
          method: "POST",
          path: `/v1/submissions/${id}/cancel`,
          headers: { authorization: `Bearer ${token}` },
        });
        expect(cancelled.status, cancelled.text).toBe(200);
        expect(cancelled.json()).toMatchObject({
          submission: { state: "cancelled" },
          quota: { used_today: 1 },
        });
        await until("the runner to stop it", async () =>
          events.find((e) => e.event === "stopped" && e.submission_id === id),
        );
        expect(await containersOf(id, 1)).toEqual([]);
        expect(events).toContainEqual(
          expect.objectContaining({ event: "stopped", submission_id: id, why: "cancelled" }),
        );
        expect(events.some((e) => e.event === "result" && e.submission_id === id)).toBe(false);
        expect(await view(id, token)).toMatchObject({ state: "cancelled", status: null });
        // The slot goes on claiming.
        const next = await submit("eve");
        await until("the next one", async () => (await view(next.id, next.token)).state === "final");
      } finally {
        await runner.drain();
      }
    },
  );

  it(
    "SIGTERM drains: the run under way finishes and reports, nothing new is claimed, exit 0",
    { timeout: 600_000 },
    async () => {
      const runner = runnerProcess("drainer");
      const slow = await submit("fay", 5);
      await until(
        "its claim",
        async () => claimedBy(slow.id)?.endsWith("drainer/slot-1"),
        () => runner.lines,
      );
      const waiting = await submit("fay");
      runner.child.kill("SIGTERM");
      expect(await runner.exited).toBe(0);
      expect(await view(slow.id, slow.token)).toMatchObject({
        state: "final",
        status: "succeeded",
        attempt: 1,
      });
      expect(await view(waiting.id, waiting.token)).toMatchObject({ state: "queued" });
      const logged = runner.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as RunnerEvent);
      // (An earlier test's dead runner may leave a container this one removes: a `leftovers` line.)
      const events = logged.map((e) => e.event).filter((e) => e !== "leftovers");
      expect(events).toEqual(["start", "claim", "draining", "result", "done"]);
      // No participant output in the runner's log.
      expect(runner.lines.join("\n")).not.toMatch(/wrote \d+ predictions/);
      gateway.intake.organizer.cancel(waiting.id);
    },
  );

  it(
    "SIGINT twice stops at once: the container goes and the claim is given back to the queue",
    { timeout: 600_000 },
    async () => {
      const runner = runnerProcess("impatient");
      const { id, token } = await submit("gus", 120);
      await until("its container", async () => (await containersOf(id, 1)).length > 0);
      runner.child.kill("SIGINT");
      await until("draining", async () => runner.lines.some((l) => l.includes('"draining"')));
      runner.child.kill("SIGINT");
      expect(await runner.exited).toBe(130);
      expect(await view(id, token)).toMatchObject({ state: "queued", attempt: 2 });
      expect(await containersOf(id, 1)).toEqual([]);
      gateway.intake.organizer.cancel(id);
    },
  );
});
