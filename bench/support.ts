import { execFileSync, spawn } from "node:child_process";
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
