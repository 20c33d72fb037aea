import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { engine } from "./engine.js";
import { runSandboxed, type SandboxResult } from "./run.js";
import { engineRuntimes } from "./runtimes.js";
import { SandboxWatch } from "./sandbox-events.js";
import { leftoversOf, TEST_LIMITS, workspace, type Workspace } from "./test-support/fixtures.js";

const docker = promisify(execFile);
const image = inject("baseImage");
const RUNTIMES = (await engineRuntimes()).filter((r) => r === "runc" || r === "runsc");
const workspaces: Workspace[] = [];

afterAll(async () => {
  await Promise.all(workspaces.map((ws) => ws.cleanup()));
});

/** Runs `program` as main.py in a workspace of its own (runs may go side by side); leaves nothing behind. */
async function run(
  runtime: string,
  program: string,
  limits: Partial<typeof TEST_LIMITS> = {},
  during?: (runId: string) => Promise<void>,
): Promise<SandboxResult> {
  const ws = await workspace(image);
  workspaces.push(ws);
  const request = await ws.request(program, { limits: { ...TEST_LIMITS, runtime, ...limits } });
  const [result] = await Promise.all([runSandboxed(request), during?.(request.runId)]);
  expect(await leftoversOf(request.runId)).toEqual([]);
  return result;
}

/** Once the run's program container runs (and has had a moment to print), does `docker <args> <id>`. */
function fromOutside(...args: string[]) {
  return async (runId: string) => {
    for (;;) {
      const [sandbox] = await engine().listContainers({
        filters: JSON.stringify({ label: [`org.proctor.run=${runId}`], status: ["running"] }),
      });
      if (sandbox?.Command.includes("main.py")) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await docker("docker", [...args, sandbox.Id]);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
}

const MEMORY_BOMB = `chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 * 1024))\n`;
/** Says something (that must never reach a reason), then waits for the time limit. */
const WAITS = `import time\nprint("program-said-this", flush=True)\ntime.sleep(60)\n`;

describe.each(RUNTIMES)("the sandbox's own account, under %s", (runtime) => {
  it("memory bombs side by side are each oom_killed, also when the engine logs the OOM after the exit", async () => {
    // Four at once on a loaded engine made the engine's OOM flag miss about one run in five (its `oom`
    // event came after the `die`); the event decides now.
    const results = await Promise.all(
      [1, 2, 3, 4].map(() => run(runtime, MEMORY_BOMB, { memoryBytes: 128 * 1024 ** 2 })),
    );
    for (const result of results) {
      expect(result.status).toBe("oom_killed");
      expect(result.reason).toMatch(/memory limit of 128 MiB/);
    }
  });

  it("a docker kill from outside mid-run is infrastructure_error, and its reason holds nothing the program said", async () => {
    const result = await run(runtime, WAITS, {}, fromOutside("kill"));
    expect(result.status).toBe("infrastructure_error");
    expect(result.reason).toMatch(/^the sandbox container was killed from outside proctor \(SIGKILL/);
    expect(result.reason).not.toContain("program-said-this");
  });

  it("a docker rm -f mid-run is infrastructure_error; the run ends and leaves nothing", async () => {
    const result = await run(runtime, WAITS, {}, fromOutside("rm", "-f"));
    expect(result.status).toBe("infrastructure_error");
    expect(result.reason).toMatch(/killed from outside proctor \(SIGKILL/);
    expect(result.reason).not.toContain("program-said-this");
  });

  it("a docker stop mid-run is infrastructure_error, whether the program leaves on SIGTERM or not", async () => {
    const result = await run(runtime, WAITS, {}, fromOutside("stop", "-t", "1"));
    expect(result.status).toBe("infrastructure_error");
    expect(result.reason).toMatch(/killed from outside proctor \(SIGTERM/);
  });

  it("a shell that kills itself with kill -9 $$ is failed, not an engine's kill", async () => {
    const result = await run(runtime, `import os\nos.execv("/bin/sh", ["sh", "-c", "kill -9 $$"])\n`);
    expect(result.status).toBe("failed");
    expect(result.exitCode).toBe(137);
  });

  it("proctor's own time limit is timed_out, its kills its own", async () => {
    const result = await run(
      runtime,
      `import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)\n`,
      { timeLimitMs: 1500, graceMs: 1000 },
    );
    expect(result.status).toBe("timed_out");
    expect(result.reason).toMatch(/killed with SIGKILL/);
  });
});

describe("SandboxWatch", () => {
  const label = { "org.proctor.test": `sandbox-events-${randomBytes(4).toString("hex")}` };
  const made: string[] = [];
  let since = 0;

  beforeAll(() => {
    since = Math.floor(Date.now() / 1000) - 1;
  });
  afterAll(async () => {
    for (const id of made)
      await engine()
        .getContainer(id)
        .remove({ force: true })
        .catch(() => undefined);
  });

  async function sleeper() {
    const container = await engine().createContainer({
      Image: image,
      Cmd: ["sleep", "60"],
      Labels: label,
      HostConfig: { NetworkMode: "none" },
    });
    made.push(container.id);
    await container.start();
    return container;
  }

  it("takes the kills proctor says it sends, and its own removal's, as its own", async () => {
    const killed = await sleeper();
    const watch = new SandboxWatch(killed.id, since);
    const removed = await sleeper();
    const watchRemoved = new SandboxWatch(removed.id, since);
    try {
      watch.killing("SIGKILL");
      await killed.kill({ signal: "SIGKILL" });
      watchRemoved.removing();
      await removed.remove({ force: true });
      expect(await watch.settle(137)).toEqual({ oomKilled: false, interference: null });
      expect(await watchRemoved.settle(137)).toEqual({ oomKilled: false, interference: null });
    } finally {
      watch.stop();
      watchRemoved.stop();
    }
  });

  it("takes any other kill, by any client and signal, as someone else's", async () => {
    const container = await sleeper();
    const watch = new SandboxWatch(container.id, since);
    try {
      await docker("docker", ["kill", "--signal", "SIGINT", container.id]);
      await docker("docker", ["kill", container.id]);
      expect(await watch.settle(137)).toEqual({
        oomKilled: false,
        interference: { signal: "SIGINT", afterOwnStop: false },
      });
    } finally {
      watch.stop();
    }
  });
});
