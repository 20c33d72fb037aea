import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { cliScratch, spawnCollected, type Ran } from "../../test/support/cli.js";
import { writeZip } from "../../test/support/zips.js";
import { offlineImage } from "../runtime/test-support/offline-image.js";
import { engine } from "../sandbox/engine.js";
import { engineHasImage, saveAlgorithmImage } from "../sandbox/test-support/algorithm-image.js";
import { leftoversLabelled } from "../sandbox/test-support/fixtures.js";

const image = inject("baseImage");
const CLI = path.resolve("src/cli/main.ts");
const scratch = cliScratch("proctor-cli-");

function proctor(args: string[], env: NodeJS.ProcessEnv = {}, onStart?: (pid: number) => void): Promise<Ran> {
  return spawnCollected(process.execPath, ["--import", "tsx", CLI, ...args], { env, onStart });
}

let n = 0;
async function runArgs(program: string, extra: string[] = []): Promise<string[]> {
  const zip = await writeZip(path.join(scratch.dir, `c${++n}.zip`), { "main.py": program });
  return [
    "run",
    "--submission",
    zip,
    "--image",
    image,
    "--data",
    scratch.data,
    "--output",
    path.join(scratch.dir, `o${n}`),
    ...extra,
  ];
}

describe("proctor run", () => {
  it("--json prints exactly one JSON object with the run's facts and exits 0 on success", async () => {
    const args = await runArgs(
      `import sys\nprint("hi")\nprint("careful", file=sys.stderr)\nopen("/code_execution/submission/submission.csv","w").write("id\\n")\n`,
      [
        "--json",
        "--time-limit",
        "90s",
        "--memory",
        "512m",
        "--cpus",
        "1",
        "--pids",
        "64",
        "--shm",
        "64m",
        "--expect",
        "submission.csv",
      ],
    );
    const ran = await proctor(args);
    expect(ran.code).toBe(0);
    const lines = ran.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const json = JSON.parse(lines[0]!);
    expect(json).toMatchObject({
      status: "succeeded",
      exit_code: 0,
      stdout: "hi\n",
      stderr: "careful\n",
      stderr_line_count: 1,
      output_files: [{ path: "submission.csv", bytes: 3 }],
      limits: {
        time_limit_ms: 90_000,
        memory_bytes: 512 * 1024 ** 2,
        cpus: 1,
        pids: 64,
        shm_bytes: 64 * 1024 ** 2,
      },
    });
    expect(json.duration_ms).toBeGreaterThan(0);
    expect(json.image.id).toMatch(/^sha256:/);
    expect(json.image.ref).toBe(image);
    expect(json.submission_sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("prints a readable summary with stderr lines labelled as such, and exits 1 for a participant failure", async () => {
    const ran = await proctor(await runArgs(`import sys\nprint("boom", file=sys.stderr)\nsys.exit(4)\n`));
    expect(ran.code).toBe(1);
    expect(ran.stdout).toMatch(/✘ failed in .*exit code 4/);
    expect(ran.stdout).toContain("stderr: boom");
    expect(ran.stdout).not.toContain("warning: boom"); // logging, loguru and tqdm write there: not warnings
  });

  it("says a program that exited 0 without its predictions exited 0 (not the runtime entrypoint's own code)", async () => {
    // The runtime image, whose entrypoint reports the missing file with a code of its own.
    const runtime = await offlineImage();
    const args = (await runArgs(`print("done")\n`, ["--expect", "submission.csv"])).map((a) =>
      a === image ? runtime : a,
    );
    const ran = await proctor(args);
    expect(ran.code).toBe(1);
    expect(ran.stdout).toMatch(/✘ output_missing in .*, exit code 0\n/);
    expect(ran.stdout).toContain("the program exited 0 but wrote no submission.csv");
    expect(ran.stdout).not.toMatch(/\b65\b/);
    const json = JSON.parse((await proctor([...args, "--json"])).stdout);
    expect(json).toMatchObject({ status: "output_missing", exit_code: 0 });
  });

  it("exits 3 with infrastructure_error when the engine can't be reached", async () => {
    const ran = await proctor(await runArgs("pass", ["--json"]), {
      DOCKER_HOST: `unix://${scratch.dir}/no-such.sock`,
    });
    expect(ran.code).toBe(3);
    const json = JSON.parse(ran.stdout);
    expect(json.status).toBe("infrastructure_error");
    expect(json.reason).toMatch(/cannot reach the engine/);
  });

  it("exits 2 and names the flag and the expected form for bad flags and paths", async () => {
    const badDuration = await proctor(await runArgs("pass", ["--time-limit", "soon"]));
    expect(badDuration.code).toBe(2);
    expect(badDuration.stderr).toMatch(/--time-limit "soon" is not a positive duration; write it like 90s/);
    const noZip = await proctor([
      "run",
      "--submission",
      "nope.zip",
      "--image",
      image,
      "--data",
      scratch.data,
      "--output",
      path.join(scratch.dir, "x"),
    ]);
    expect(noZip.code).toBe(2);
    expect(noZip.stderr).toMatch(/--submission nope.zip: no such file/);
    const missing = await proctor(["run", "--image", image]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/required option '--submission <file>'/);
  });

  it("refuses a non-zip as invalid_submission, exit 1, with no container started", async () => {
    const fake = path.join(scratch.dir, "fake.zip");
    await writeFile(fake, "this is not a zip");
    const ran = await proctor([
      "run",
      "--submission",
      fake,
      "--image",
      image,
      "--data",
      scratch.data,
      "--output",
      path.join(scratch.dir, "fake-out"),
      "--json",
    ]);
    expect(ran.code).toBe(1);
    expect(JSON.parse(ran.stdout).status).toBe("invalid_submission");
  });

  it.each(["SIGINT", "SIGTERM"] as const)(
    "removes its containers and volume when interrupted mid-run (%s)",
    async (signal) => {
      const args = await runArgs(`import time\nprint("started", flush=True)\ntime.sleep(120)\n`);
      let pid = 0;
      const ran = proctor(args, {}, (p) => (pid = p));
      const owner = `${os.hostname()}:`;
      // Wait until the sandbox container of this proctor process runs.
      const filters = () =>
        JSON.stringify({ label: [`org.proctor.owner=${owner}${pid}`], status: ["running"] });
      for (let i = 0; i < 200; i++) {
        const running = await engine().listContainers({ filters: filters() });
        if (running.length >= 2) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      process.kill(pid, signal);
      const ended = await ran;
      expect(ended.signal).toBe(signal);
      // The sandbox is removed before proctor exits; the holder and its volume by the engine just after.
      expect(await leftoversLabelled(`org.proctor.owner=${owner}${pid}`)).toEqual([]);
    },
  );

  it("runs an image archive (docker save) with its own entrypoint, no --image needed beside a helper", async () => {
    const algorithm = await saveAlgorithmImage(image, { user: "", gzip: true });
    try {
      const out = path.join(scratch.dir, "image-out");
      const ran = await proctor([
        "run",
        "--submission",
        algorithm.path,
        "--image",
        image,
        "--data",
        scratch.data,
        "--output",
        out,
        "--expect",
        "results.json",
        "--json",
      ]);
      const json = JSON.parse(ran.stdout);
      expect(json).toMatchObject({
        status: "succeeded",
        image: { id: algorithm.id, ref: algorithm.tag },
        notes: [expect.stringContaining("65534")],
        output_files: [{ path: "results.json" }],
      });
      expect(ran.code).toBe(0);
      expect(await engineHasImage(algorithm.id)).toBe(false);
    } finally {
      await algorithm.cleanup();
    }
  });

  it("asks for --image for a zip", async () => {
    const zip = await writeZip(path.join(scratch.dir, "noimage.zip"), { "main.py": "print(1)\n" });
    const ran = await proctor([
      "run",
      "--submission",
      zip,
      "--data",
      scratch.data,
      "--output",
      path.join(scratch.dir, "ni"),
    ]);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain("--image is required for a zip");
  });
});
