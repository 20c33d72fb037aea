import { execFile } from "node:child_process";
import type Docker from "dockerode";

/**
 * What a run used, as the engine measured it (cgroup statistics through the Docker stats API), sampled
 * about once a second while the program runs into a bounded series for a chart.
 */
export interface RunMetrics {
  /** The kernel's own peak where the engine reports it (cgroup v1 max_usage), else the highest sample. */
  peakMemoryBytes: number | null;
  /** CPU time of every process of the run; the last second is extrapolated from the last sample's rate. */
  cpuSeconds: number | null;
  /** Cores: CPU seconds over the run's wall time, and the busiest sampled interval. */
  cpuAverage: number | null;
  cpuPeak: number | null;
  /** Most processes and threads seen at once (sampled). */
  pidsPeak: number | null;
  /** Bytes of the files the program left in the output folder (exact). */
  outputBytes: number | null;
  /**
   * Peak bytes of files in /tmp and /dev/shm (sampled: memory-backed files less the output folder); null
   * where the engine does not report them (cgroup v1).
   */
  tmpBytes: number | null;
  /** Host GPUs while the run had them (nvidia-smi), else null. */
  gpu: GpuMetrics | null;
  /** The series for a chart, oldest first, at most MAX_SAMPLES points `intervalMs` apart. */
  samples: MetricSample[];
  intervalMs: number;
}

export interface MetricSample {
  /** Milliseconds since the program started. */
  tMs: number;
  memoryBytes: number;
  /** Cores busy over the interval that ended here. */
  cpu: number;
  pids: number;
}

export interface GpuMetrics {
  peakMemoryBytes: number;
  peakUtilizationPercent: number;
  averageUtilizationPercent: number;
}

export const MAX_SAMPLES = 120;

/** The slice of the engine's stats JSON we read (cgroup v1 and v2 alike). */
export interface EngineStats {
  read: string;
  pids_stats?: { current?: number };
  memory_stats?: { usage?: number; max_usage?: number; stats?: Record<string, number> };
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
}

interface Point {
  atMs: number;
  cpuNs: number;
}

/** Folds the engine's stats samples into peaks and a bounded series; pure, so it is tested on its own. */
export class MetricsSeries {
  private readonly samples: MetricSample[] = [];
  private stride = 1;
  private pending = 0;
  private last: Point | null = null;
  private lastRate = 0;
  private peakMemory = 0;
  private kernelPeak = 0;
  private peakCpu = 0;
  private peakPids = 0;
  private peakShmem = 0;
  private hasShmem = false;
  /**
   * The last sample's memory, and how much of it was files (tmpfs and shm pages; on cgroup v1 the page
   * cache that holds them): what was using memory when last measured.
   */
  lastFiles = 0;
  lastMemory = 0;
  count = 0;

  constructor(private readonly startedAtMs: number) {}

  add(stats: EngineStats): void {
    const atMs = Date.parse(stats.read);
    const cpuNs = stats.cpu_stats?.cpu_usage?.total_usage;
    const memory = stats.memory_stats?.usage;
    // The engine's first line for a container that is just starting can be all zeros: skip it.
    if (!Number.isFinite(atMs) || cpuNs === undefined || memory === undefined || atMs <= 0) return;
    this.count++;
    // cgroup v2 reports the tmpfs and shm pages (shmem); v1, as the engine passes it on, only the whole
    // page cache (cache), which holds them and what was read from disk: a proxy, never a tmp figure.
    const detail = stats.memory_stats?.stats ?? {};
    const shmem = detail.shmem ?? detail.total_shmem;
    if (shmem !== undefined) this.hasShmem = true;
    const files = shmem ?? detail.cache ?? detail.total_cache ?? 0;
    const pids = stats.pids_stats?.current ?? 0;
    const previous = this.last;
    const rate =
      previous && atMs > previous.atMs ? (cpuNs - previous.cpuNs) / 1e6 / (atMs - previous.atMs) : 0;
    this.last = { atMs, cpuNs };
    this.lastRate = Math.max(0, rate);
    this.lastFiles = files;
    this.lastMemory = memory;
    this.peakMemory = Math.max(this.peakMemory, memory);
    this.kernelPeak = Math.max(this.kernelPeak, stats.memory_stats?.max_usage ?? 0);
    this.peakCpu = Math.max(this.peakCpu, this.lastRate);
    this.peakPids = Math.max(this.peakPids, pids);
    this.peakShmem = Math.max(this.peakShmem, shmem ?? 0);
    this.push({ tMs: Math.max(0, atMs - this.startedAtMs), memoryBytes: memory, cpu: this.lastRate, pids });
  }

  /** Keeps every `stride`-th interval; when full, halves the series (peaks of each pair) and doubles it. */
  private push(sample: MetricSample): void {
    if (this.pending > 0) {
      const held = this.samples[this.samples.length - 1]!;
      this.samples[this.samples.length - 1] = merge(held, sample);
    } else {
      this.samples.push(sample);
    }
    this.pending = (this.pending + 1) % this.stride;
    if (this.samples.length >= MAX_SAMPLES && this.pending === 0) {
      const halved: MetricSample[] = [];
      for (let i = 0; i < this.samples.length; i += 2)
        halved.push(this.samples[i + 1] ? merge(this.samples[i]!, this.samples[i + 1]!) : this.samples[i]!);
      this.samples.splice(0, this.samples.length, ...halved);
      this.stride *= 2;
    }
  }

  /**
   * The run's metrics. `endedAtMs` (the engine's FinishedAt) extrapolates the CPU time of the last
   * moments after the last sample at that sample's rate, capped by the CPU limit.
   */
  finish(end: {
    endedAtMs: number | null;
    durationMs: number;
    cpus: number;
    outputBytes: number | null;
  }): RunMetrics {
    const outputBytes = end.outputBytes;
    let cpuSeconds: number | null = null;
    if (this.last) {
      const tailMs = end.endedAtMs === null ? 0 : Math.max(0, end.endedAtMs - this.last.atMs);
      cpuSeconds = this.last.cpuNs / 1e9 + (Math.min(this.lastRate, end.cpus) * tailMs) / 1000;
    }
    const seconds = end.durationMs / 1000;
    return {
      peakMemoryBytes: this.count > 0 ? Math.max(this.kernelPeak, this.peakMemory) : null,
      cpuSeconds: cpuSeconds === null ? null : round(cpuSeconds, 3),
      cpuAverage:
        cpuSeconds === null || seconds <= 0 ? null : round(Math.min(cpuSeconds / seconds, end.cpus), 3),
      cpuPeak: this.count > 1 ? round(this.peakCpu, 3) : null,
      pidsPeak: this.count > 0 ? this.peakPids : null,
      outputBytes,
      tmpBytes: this.hasShmem ? Math.max(0, this.peakShmem - (outputBytes ?? 0)) : null,
      gpu: null,
      samples: this.samples.map((s) => ({ ...s, cpu: round(s.cpu, 3) })),
      intervalMs: 1000 * this.stride,
    };
  }
}

function merge(a: MetricSample, b: MetricSample): MetricSample {
  return {
    tMs: b.tMs,
    memoryBytes: Math.max(a.memoryBytes, b.memoryBytes),
    cpu: Math.max(a.cpu, b.cpu),
    pids: Math.max(a.pids, b.pids),
  };
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Streams the engine's stats of a running container into a series; `stop()` ends the stream. A stats
 * failure never fails the run: the metrics are then null.
 */
export async function sampleStats(container: Docker.Container, series: MetricsSeries) {
  let stream: NodeJS.ReadableStream | null = null;
  try {
    stream = (await container.stats({ stream: true })) as unknown as NodeJS.ReadableStream;
  } catch {
    return { stop: () => undefined };
  }
  let buffered = "";
  stream.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    let newline = buffered.indexOf("\n");
    while (newline !== -1) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line) {
        try {
          series.add(JSON.parse(line) as EngineStats);
        } catch {
          // A torn or odd line: skip it.
        }
      }
      newline = buffered.indexOf("\n");
    }
  });
  stream.on("error", () => undefined);
  return {
    stop: () => {
      (stream as unknown as { destroy?: () => void }).destroy?.();
    },
  };
}

const GPU_INTERVAL_MS = 2000;

/** Polls nvidia-smi (where it exists) for the host GPUs' memory and utilisation while a GPU run runs. */
export function sampleGpu(command = "nvidia-smi"): { stop: () => GpuMetrics | null } {
  let peakMemory = 0;
  let peakUtil = 0;
  let utilSum = 0;
  let count = 0;
  let stopped = false;
  const poll = () => {
    execFile(
      command,
      ["--query-gpu=memory.used,utilization.gpu", "--format=csv,noheader,nounits"],
      { timeout: 5000 },
      (error, stdout) => {
        if (stopped || error) return;
        const reading = parseNvidiaSmi(stdout);
        if (!reading) return;
        count++;
        peakMemory = Math.max(peakMemory, reading.memoryBytes);
        peakUtil = Math.max(peakUtil, reading.utilizationPercent);
        utilSum += reading.utilizationPercent;
      },
    );
  };
  poll();
  const timer = setInterval(poll, GPU_INTERVAL_MS);
  timer.unref();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
      if (count === 0) return null;
      return {
        peakMemoryBytes: peakMemory,
        peakUtilizationPercent: peakUtil,
        averageUtilizationPercent: Math.round((utilSum / count) * 10) / 10,
      };
    },
  };
}

/** One nvidia-smi reading summed over the GPUs: "12345, 67" per line (MiB, percent). */
export function parseNvidiaSmi(text: string): { memoryBytes: number; utilizationPercent: number } | null {
  const rows = text
    .trim()
    .split("\n")
    .map((line) => line.split(",").map((cell) => Number(cell.trim())))
    .filter((cells) => cells.length === 2 && cells.every(Number.isFinite));
  if (rows.length === 0) return null;
  return {
    memoryBytes: rows.reduce((sum, [mib]) => sum + mib! * 1024 ** 2, 0),
    utilizationPercent: Math.max(...rows.map(([, util]) => util!)),
  };
}
