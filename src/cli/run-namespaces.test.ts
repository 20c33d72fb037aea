import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { cliScratch, spawnCollected } from "../../test/support/cli.js";
import { writeZip } from "../../test/support/zips.js";
import { LEASE_LABEL } from "../sandbox/cleanup.js";
import { engine } from "../sandbox/engine.js";

/**
 * `proctor run` as runners start it: the built CLI, from its own PID namespace (runners in containers
 * sharing one engine) and from a private mount namespace (systemd sandboxing), where the engine's mounts
 * are not visible. Both need root for unshare.
 */
const image = inject("baseImage");
const CLI = path.resolve("build/proctor.mjs");
const scratch = cliScratch("proctor-ns-");

const spawnRun = (prefix: string[], args: string[]) => {
  const [command, ...rest] = [...prefix, process.execPath, CLI, ...args];
  return spawnCollected(command!, rest);
};

let n = 0;
async function runArgs(program: string, extra: string[] = []) {
  const zip = await writeZip(path.join(scratch.dir, `s${++n}.zip`), { "main.py": program });
  const output = path.join(scratch.dir, `out${n}`);
  const args = ["run", "--submission", zip, "--image", image, "--data", scratch.data, "--output", output];
  return { args: [...args, "--expect", "submission.csv", "--json", ...extra], output };
}

const WRITE = `open("/code_execution/submission/submission.csv", "w").write("id,y\\n1,0\\n")\n`;

/** Our sandbox containers running now (they carry a lease; other proctors' do not). */
async function runningSandboxes(): Promise<string[]> {
  const list = await engine().listContainers({
    filters: JSON.stringify({ label: [LEASE_LABEL], status: ["running"] }),
  });
  return list.filter((c) => !c.Names.some((name) => name.endsWith("-holder"))).map((c) => c.Id);
}

const asRoot = process.getuid?.() === 0;

describe.skipIf(!asRoot)("proctor run from other namespaces", () => {
  it("two runs from separate PID namespaces at once both succeed: neither sweeps the other's live run", async () => {
    const slow = await runArgs(`import time\ntime.sleep(4)\n${WRITE}`);
    const quick = await runArgs(WRITE);
    const before = new Set(await runningSandboxes());
    // A few forks first, so the slow run's proctor has a PID the quick one's namespace does not have.
    const first = spawnRun(
      ["unshare", "--pid", "--fork", "--mount-proc", "bash", "-c", '(:); (:); (:); (:); exec "$@"', "-"],
      slow.args,
    );
    for (let i = 0; i < 100; i++) {
      if ((await runningSandboxes()).some((id) => !before.has(id))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const second = await spawnRun(["unshare", "--pid", "--fork", "--mount-proc"], quick.args);
    const [a, b] = [await first, second];
    for (const [ran, out] of [
      [a, slow.output],
      [b, quick.output],
    ] as const) {
      expect(ran.stderr).toBe("");
      expect(JSON.parse(ran.stdout)).toMatchObject({ status: "succeeded" });
      expect(await readFile(path.join(out, "submission.csv"), "utf8")).toBe("id,y\n1,0\n");
    }
  });

  it("a run from a private mount namespace copies out what the program wrote", async () => {
    const { args, output } = await runArgs(WRITE);
    const ran = await spawnRun(["unshare", "--mount", "--propagation", "private"], args);
    expect(JSON.parse(ran.stdout)).toMatchObject({
      status: "succeeded",
      output_files: [{ path: "submission.csv", bytes: 9 }],
    });
    expect(await readFile(path.join(output, "submission.csv"), "utf8")).toBe("id,y\n1,0\n");
  });
});

describe("proctor run: runtime, caps and metrics", () => {
  it("refuses an unknown --runtime as a usage error naming the engine's runtimes and how to register runsc", async () => {
    const { args } = await runArgs(WRITE, ["--runtime", "gvisor"]);
    const ran = await spawnRun([], args);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toMatch(
      /--runtime gvisor: runtime "gvisor" is not registered with this Docker engine \(it has: .*runc/,
    );
    expect(ran.stdout).toBe("");
  });

  it("refuses memory-backed caps that exceed --memory, naming the flags", async () => {
    const { args } = await runArgs(WRITE, ["--memory", "256m", "--tmp", "200m"]);
    const ran = await spawnRun([], args);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toMatch(
      /--output-size \(64.0 MiB\) \+ --tmp \(200.0 MiB\) \+ --shm \(32.0 MiB\) = 296.0 MiB, more than --memory/,
    );
  });

  it("reports the runtime, the derived caps and what the run used in its JSON and summary", async () => {
    const { args } = await runArgs(
      `import time\nx = bytearray(64 * 1024 * 1024)\ntime.sleep(1.5)\n${WRITE}`,
      ["--memory", "512m"],
    );
    const json = JSON.parse((await spawnRun([], args)).stdout);
    expect(json).toMatchObject({
      status: "succeeded",
      runtime: "runc",
      limits: {
        runtime: "runc",
        output_bytes: 128 * 1024 ** 2,
        tmp_bytes: 128 * 1024 ** 2,
        shm_bytes: 64 * 1024 ** 2,
      },
      metrics: { output_bytes: 9 },
    });
    expect(json.metrics.peak_memory_bytes).toBeGreaterThan(64 * 1024 ** 2);
    expect(json.metrics.cpu_seconds).toBeGreaterThan(0);
    expect(json.metrics.samples[0]).toEqual(
      expect.objectContaining({
        t_ms: expect.any(Number),
        memory_bytes: expect.any(Number),
        cpu_cores: expect.any(Number),
      }),
    );
    const { args: textArgs } = await runArgs(`import time\ntime.sleep(1.2)\n${WRITE}`);
    const text = (
      await spawnRun(
        [],
        textArgs.filter((a) => a !== "--json"),
      )
    ).stdout;
    expect(text).toMatch(/ {2}runtime runc\n/);
    expect(text).toMatch(/ {2}used {4}peak memory [\d.]+ [KM]iB, CPU [\d.]+ s/);
  });
});
