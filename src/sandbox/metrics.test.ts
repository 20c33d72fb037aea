import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_SAMPLES, MetricsSeries, parseNvidiaSmi, sampleGpu, type EngineStats } from "./metrics.js";

const T0 = Date.parse("2026-01-01T00:00:00Z");

/** One engine stats line, `second` seconds after T0, with `cpuSeconds` used so far. */
function stats(
  second: number,
  cpuSeconds: number,
  memory: number,
  extra: Partial<EngineStats> = {},
): EngineStats {
  return {
    read: new Date(T0 + second * 1000).toISOString(),
    cpu_stats: { cpu_usage: { total_usage: cpuSeconds * 1e9 } },
    memory_stats: { usage: memory },
    pids_stats: { current: 3 },
    ...extra,
  };
}

describe("MetricsSeries", () => {
  it("turns engine samples into peaks, CPU seconds (extrapolated to the exit) and a series", () => {
    const series = new MetricsSeries(T0);
    series.add({
      read: "0001-01-01T00:00:00Z",
      cpu_stats: { cpu_usage: { total_usage: 0 } },
      memory_stats: { usage: 0 },
    });
    series.add(stats(1, 0.5, 100));
    series.add(stats(2, 1.5, 300, { memory_stats: { usage: 300, max_usage: 350 } }));
    series.add(stats(3, 2.5, 200));
    const m = series.finish({ endedAtMs: T0 + 3500, durationMs: 3500, cpus: 2, outputBytes: 10 });
    expect(m.peakMemoryBytes).toBe(350); // the kernel's own peak beats the samples
    expect(m.cpuSeconds).toBe(3); // 2.5 s at the last sample + 0.5 s at 1 core
    expect(m.cpuAverage).toBeCloseTo(3 / 3.5, 3);
    expect(m.cpuPeak).toBe(1);
    expect(m.pidsPeak).toBe(3);
    expect(m.outputBytes).toBe(10);
    expect(m.tmpBytes).toBeNull(); // no shmem figure from the engine (cgroup v1)
    expect(m.samples.map((s) => s.tMs)).toEqual([1000, 2000, 3000]);
    expect(m.intervalMs).toBe(1000);
  });

  it("extrapolates no faster than the CPU limit, and reports nothing it did not see", () => {
    const series = new MetricsSeries(T0);
    expect(series.finish({ endedAtMs: null, durationMs: 10, cpus: 1, outputBytes: null })).toMatchObject({
      peakMemoryBytes: null,
      cpuSeconds: null,
      cpuAverage: null,
      cpuPeak: null,
      pidsPeak: null,
      samples: [],
    });
    series.add(stats(1, 0, 1));
    series.add(stats(2, 4, 1)); // a bogus burst of 4 cores
    expect(
      series.finish({ endedAtMs: T0 + 4000, durationMs: 4000, cpus: 1, outputBytes: 0 }).cpuSeconds,
    ).toBe(6);
  });

  it("reads tmpfs pages where the engine reports them (cgroup v2) as /tmp bytes", () => {
    const series = new MetricsSeries(T0);
    series.add(stats(1, 0, 500, { memory_stats: { usage: 500, stats: { shmem: 400 } } }));
    expect(series.finish({ endedAtMs: null, durationMs: 1000, cpus: 1, outputBytes: 150 }).tmpBytes).toBe(
      250,
    );
    expect(series.lastFiles).toBe(400);
  });

  it("keeps at most MAX_SAMPLES points, halving the resolution and keeping the peaks", () => {
    const series = new MetricsSeries(T0);
    const hours = 2 * 3600;
    for (let s = 1; s <= hours; s++) series.add(stats(s, s * 0.5, s === 1234 ? 9999 : 100));
    const m = series.finish({
      endedAtMs: T0 + hours * 1000,
      durationMs: hours * 1000,
      cpus: 1,
      outputBytes: 0,
    });
    expect(m.samples.length).toBeLessThanOrEqual(MAX_SAMPLES);
    expect(m.samples.length).toBeGreaterThan(MAX_SAMPLES / 4);
    expect(m.intervalMs).toBeGreaterThan(1000);
    expect(Math.max(...m.samples.map((s) => s.memoryBytes))).toBe(9999);
    expect(m.peakMemoryBytes).toBe(9999);
    expect(m.samples.at(-1)!.tMs).toBe(hours * 1000);
    for (let i = 1; i < m.samples.length; i++)
      expect(m.samples[i]!.tMs).toBeGreaterThan(m.samples[i - 1]!.tMs);
  });
});

describe("GPU sampling", () => {
  it("parses nvidia-smi's CSV, summing memory and taking the busiest GPU", () => {
    expect(parseNvidiaSmi("1024, 50\n2048, 75\n")).toEqual({
      memoryBytes: 3072 * 1024 ** 2,
      utilizationPercent: 75,
    });
    expect(parseNvidiaSmi("")).toBeNull();
    expect(parseNvidiaSmi("[N/A], [N/A]\n")).toBeNull();
  });

  it("is null where nvidia-smi does not exist, and reads a real program's answers where it does", async () => {
    const missing = sampleGpu("/nonexistent/nvidia-smi");
    await new Promise((r) => setTimeout(r, 200));
    expect(missing.stop()).toBeNull();

    const dir = await mkdtemp(path.join(os.tmpdir(), "proctor-smi-"));
    try {
      const fake = path.join(dir, "nvidia-smi");
      await writeFile(fake, "#!/bin/sh\necho '4096, 30'\n");
      await chmod(fake, 0o755);
      const gpu = sampleGpu(fake);
      await new Promise((r) => setTimeout(r, 300));
      expect(gpu.stop()).toEqual({
        peakMemoryBytes: 4096 * 1024 ** 2,
        peakUtilizationPercent: 30,
        averageUtilizationPercent: 30,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
