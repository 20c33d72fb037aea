import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll } from "vitest";

/** A scratch folder for CLI tests with a one-file data/ folder, made before and removed after the file's tests. */
export function cliScratch(prefix: string): { dir: string; data: string } {
  const paths = { dir: "", data: "" };
  beforeAll(async () => {
    paths.dir = await mkdtemp(path.join(os.tmpdir(), prefix));
    paths.data = path.join(paths.dir, "data");
    await mkdir(paths.data);
    await writeFile(path.join(paths.data, "x.csv"), "id\n1\n");
  });
  afterAll(() => rm(paths.dir, { recursive: true, force: true }));
  return paths;
}

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, collecting its output. */
export function spawnCollected(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; onStart?: (pid: number) => void } = {},
): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...options.env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    options.onStart?.(child.pid!);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
