import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { engine } from "../engine.js";
import { DEFAULT_LIMITS, type SandboxLimits } from "../limits.js";
import type { SandboxRequest } from "../spec.js";
import { newRunId } from "../run.js";

/** Limits small enough that adversarial tests end quickly. */
export const TEST_LIMITS: SandboxLimits = {
  ...DEFAULT_LIMITS,
  timeLimitMs: 20_000,
  graceMs: 2_000,
  memoryBytes: 256 * 1024 ** 2,
  cpus: 1,
  pids: 64,
  shmBytes: 16 * 1024 ** 2,
  tmpBytes: 16 * 1024 ** 2,
  outputBytes: 4 * 1024 ** 2,
  outputFiles: 50,
  logHeadBytes: 4096,
  logTailBytes: 4096,
};

export interface Workspace {
  root: string;
  code: string;
  data: string;
  out: string;
  request(program: string, overrides?: Partial<SandboxRequest>): Promise<SandboxRequest>;
  cleanup(): Promise<void>;
}

/** A throwaway host folder with code/, data/ and out/, and requests that run python3 main.py in it. */
export async function workspace(image: string): Promise<Workspace> {
  const root = await mkdtemp(path.join(os.tmpdir(), "proctor-test-"));
  const code = path.join(root, "code");
  const data = path.join(root, "data");
  const out = path.join(root, "out");
  for (const dir of [code, data]) {
    await mkdir(dir);
    await chmod(dir, 0o755);
  }
  await writeFile(path.join(data, "features.csv"), "id,x\n1,0.5\n");
  await chmod(path.join(data, "features.csv"), 0o644);
  return {
    root,
    code,
    data,
    out,
    async request(program, overrides = {}) {
      await writeFile(path.join(code, "main.py"), program, { mode: 0o644 });
      return {
        runId: newRunId(),
        image,
        command: ["python3", "/code_execution/src/main.py"],
        workingDir: "/code_execution/src",
        mounts: [
          { source: code, target: "/code_execution/src" },
          { source: data, target: "/code_execution/data" },
        ],
        output: { target: "/code_execution/submission", hostDir: out, expectedFile: "submission.csv" },
        limits: TEST_LIMITS,
        ...overrides,
      };
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/**
 * Containers and volumes of a run still on the engine once it has had time to remove what the run let go:
 * the output holder and its volume are removed by the engine just after the run returns (there must be
 * none left).
 */
export function leftoversOf(runId: string, settleMs = 15_000): Promise<string[]> {
  return leftoversLabelled(`org.proctor.run=${runId}`, settleMs);
}

/** The same for everything carrying `label` (key=value), e.g. all runs of one proctor process. */
export async function leftoversLabelled(label: string, settleMs = 15_000): Promise<string[]> {
  const filters = JSON.stringify({ label: [label] });
  const deadline = Date.now() + settleMs;
  for (;;) {
    const [containers, volumes] = await Promise.all([
      engine().listContainers({ all: true, filters }),
      engine().listVolumes({ filters }),
    ]);
    const left = [...containers.map((c) => c.Names.join(",")), ...(volumes.Volumes ?? []).map((v) => v.Name)];
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function filesIn(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}
