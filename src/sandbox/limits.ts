import { formatBytes, formatDuration } from "../units/index.js";

/** Every limit one sandboxed run is held to. */
export interface SandboxLimits {
  /** Wall clock from start; then SIGTERM, `graceMs` later SIGKILL. */
  timeLimitMs: number;
  graceMs: number;
  /** Memory and memory+swap alike: no swapping past the limit. */
  memoryBytes: number;
  cpus: number;
  pids: number;
  shmBytes: number;
  /** Size of the /tmp tmpfs (counts against memory when used). */
  tmpBytes: number;
  nofile: number;
  /** The writable output folder is a filesystem of exactly this size and this many files. */
  outputBytes: number;
  outputFiles: number;
  /** Captured log budget per stream: this much of the head and of the tail is kept. */
  logHeadBytes: number;
  logTailBytes: number;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  timeLimitMs: 30 * 60_000,
  graceMs: 10_000,
  memoryBytes: 8 * 1024 ** 3,
  cpus: 2,
  pids: 256,
  shmBytes: 1024 ** 3,
  tmpBytes: 1024 ** 3,
  nofile: 1024,
  outputBytes: 512 * 1024 ** 2,
  outputFiles: 1000,
  logHeadBytes: 64 * 1024,
  logTailBytes: 64 * 1024,
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
