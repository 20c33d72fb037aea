import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

/** Median of a list of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Times each of `fns` once per round, in turn, for `reps` rounds (after `warmup` untimed rounds): a load
 * that drifts during the benchmark then weighs on each alike. Milliseconds, per name, in round order.
 */
export async function timeInterleaved<K extends string>(
  fns: Record<K, () => Promise<unknown>>,
  reps: number,
  warmup = 1,
): Promise<Record<K, number[]>> {
  const names = Object.keys(fns) as K[];
  const times = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>;
  for (let round = -warmup; round < reps; round++) {
    for (const name of names) {
      const start = performance.now();
      await fns[name]();
      if (round >= 0) times[name].push(performance.now() - start);
    }
  }
  return times;
}

/** Times `fn` `reps` times, after `warmup` untimed calls. Milliseconds. */
export async function timeIt(fn: () => Promise<unknown>, reps: number, warmup = 1): Promise<number[]> {
  return (await timeInterleaved({ fn }, reps, warmup)).fn;
}

/** The median of the ratios of paired timings (each pair measured back to back in one round). */
export function pairedRatio(times: number[], baseline: number[]): number {
  return median(times.map((t, i) => t / baseline[i]!));
}

export interface Spawned {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Peak resident set size of a node child run with PEAK_RSS_PRELOAD (bytes). */
  maxRssBytes: number | null;
}

/** Preloaded into a node child: prints the kernel's count of its peak RSS (getrusage) as it exits. */
export const PEAK_RSS_PRELOAD = fileURLToPath(new URL("./peak-rss.mjs", import.meta.url));

/** Runs a command to completion; a node child run with PEAK_RSS_PRELOAD reports its peak RSS. */
export function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...options.env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      const kb = /PEAK_RSS_KB=(\d+)/.exec(stderr)?.[1];
      resolve({ code, stdout, stderr, maxRssBytes: kb ? Number(kb) * 1024 : null });
    });
  });
}

export function row(cells: (string | number)[], widths: number[]): string {
  return cells.map((c, i) => String(c).padEnd(widths[i] ?? 12)).join(" ");
}

export function verdict(ok: boolean): string {
  return ok ? "meets target" : "MISSES target";
}

export const ms = (n: number) => `${n.toFixed(0)} ms`;
export const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MB`;

/** Text that deflates about 4×, like code, CSV and JSON do. */
export function textLike(bytes: number, seed: number): Buffer {
  const lines: string[] = [];
  let length = 0;
  for (let i = 0; length < bytes; i++) {
    const line = `${seed + i},${((seed * 31 + i * 17) % 9973) / 7},label_${(seed + i) % 13},${(i * 7919) % 104729}\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join("")).subarray(0, bytes);
}

/** The offline base image (built by debootstrap when missing): what the run benchmarks run. */
export function baseImage(): string {
  return execFileSync("bash", ["scripts/build-base-image.sh"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  })
    .trim()
    .split("\n")
    .pop()!;
}

/**
 * The p-th percentile (0 to 100) of `values` by nearest rank: always a value that occurred, so a p95 of 20
 * samples is the 19th smallest. NaN when there are none.
 */
export function percentile(values: number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} must be from 0 to 100`);
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

/** A size field of /proc/<pid>/status (VmRSS: resident now, VmHWM: its peak) in bytes; null without one. */
export async function procStatusBytes(pid: number, field: "VmRSS" | "VmHWM"): Promise<number | null> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => null);
  const kb = status && new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1];
  return kb ? Number(kb) * 1024 : null;
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat; null without one. */
export async function procCpuMs(pid: number): Promise<number | null> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  // The fields after the command name (which may hold spaces), from field 3 on: utime and stime are 14, 15.
  const fields = stat?.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (!fields || fields.length < 13) return null;
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

export interface NodeChild {
  child: ChildProcess;
  /** What `ready` matched in its output. */
  ready: RegExpExecArray;
  /** Everything it wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** SIGTERM, then its exit code (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Starts a long-running node child (the built CLI, a server) and waits for `ready` to match its output;
 * throws with what it wrote when it exits first.
 */
export async function startNode(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; ready: RegExp },
): Promise<NodeChild> {
  const child = spawn(process.execPath, args, { env: { ...process.env, NODE_OPTIONS: "", ...options.env } });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const stop = async (graceMs = 60_000) => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  for (;;) {
    const ready = options.ready.exec(output);
    if (ready) return { child, ready, output: () => output, stop };
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`node ${args.join(" ")} exited before it was ready:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
