import { formatBytes, formatDuration, GiB, MiB } from "../units/index.js";

/** Every limit one sandboxed run is held to. */
export interface SandboxLimits {
  /** Wall clock from start; then SIGTERM, `graceMs` later SIGKILL. */
  timeLimitMs: number;
  graceMs: number;
  /** Memory and memory+swap alike: no swapping past the limit. */
  memoryBytes: number;
  cpus: number;
  pids: number;
  /** Size of /dev/shm (counts against memory when used). */
  shmBytes: number;
  /** Size of the /tmp tmpfs (counts against memory when used). */
  tmpBytes: number;
  nofile: number;
  /** The writable output folder is a filesystem of exactly this size and this many files (in memory). */
  outputBytes: number;
  outputFiles: number;
  /** Captured log budget per stream: this much of the head and of the tail is kept. */
  logHeadBytes: number;
  logTailBytes: number;
  /** The engine's OCI runtime: `runc`, or `runsc` for gVisor's stronger boundary. */
  runtime: string;
}

const PAGE = 4096;

/**
 * The output folder, /tmp and /dev/shm live in memory and count against the memory limit. Unless set,
 * their caps are derived from it: a quarter (at most 512 MiB), a quarter (at most 1 GiB) and an eighth (at
 * most 1 GiB), so together they never exceed five eighths of it and a full folder reads as full, not as
 * an out-of-memory kill.
 */
export function derivedCaps(
  memoryBytes: number,
): Pick<SandboxLimits, "outputBytes" | "tmpBytes" | "shmBytes"> {
  const pages = (bytes: number) => Math.max(PAGE, Math.floor(bytes / PAGE) * PAGE);
  return {
    outputBytes: pages(Math.min(512 * MiB, memoryBytes / 4)),
    tmpBytes: pages(Math.min(GiB, memoryBytes / 4)),
    shmBytes: pages(Math.min(GiB, memoryBytes / 8)),
  };
}

/** Says how the derived defaults are chosen, for --help and errors. */
export const DERIVED_CAPS_RULE =
  "default: derived from the memory limit (output a quarter, at most 512 MiB; /tmp a quarter, at most 1 GiB; /dev/shm an eighth, at most 1 GiB) so the three fit in it";

/**
 * The problem with caps set by hand whose sum exceeds the memory limit (a run filling them would be
 * killed as out of memory), or null. `names` are how the caller's input spells the four settings.
 */
export function capsProblem(
  limits: Pick<SandboxLimits, "memoryBytes" | "outputBytes" | "tmpBytes" | "shmBytes">,
  names: { memory: string; output: string; tmp: string; shm: string },
): string | null {
  const sum = limits.outputBytes + limits.tmpBytes + limits.shmBytes;
  if (sum <= limits.memoryBytes) return null;
  return (
    `${names.output} (${formatBytes(limits.outputBytes)}) + ${names.tmp} (${formatBytes(limits.tmpBytes)}) + ` +
    `${names.shm} (${formatBytes(limits.shmBytes)}) = ${formatBytes(sum)}, more than ${names.memory} ` +
    `(${formatBytes(limits.memoryBytes)}); these folders are held in memory and count against it: ` +
    `lower them, raise ${names.memory}, or leave them unset to derive them from it`
  );
}

export const DEFAULT_LIMITS: SandboxLimits = {
  timeLimitMs: 30 * 60_000,
  graceMs: 10_000,
  memoryBytes: 8 * GiB,
  cpus: 2,
  pids: 256,
  ...derivedCaps(8 * GiB),
  nofile: 1024,
  outputFiles: 1000,
  logHeadBytes: 64 * 1024,
  logTailBytes: 64 * 1024,
  runtime: "runc",
};

export function describeLimits(limits: SandboxLimits): Record<string, string | number> {
  return {
    time_limit: formatDuration(limits.timeLimitMs),
    memory: formatBytes(limits.memoryBytes),
    cpus: limits.cpus,
    pids: limits.pids,
    shm: formatBytes(limits.shmBytes),
    tmp: formatBytes(limits.tmpBytes),
    output: `${formatBytes(limits.outputBytes)} / ${limits.outputFiles} files`,
  };
}
