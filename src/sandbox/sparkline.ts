import type { MetricSample } from "./metrics.js";

export interface SparklineOptions {
  width?: number;
  height?: number;
  /** Scales: the memory line tops out at this (default: the highest sample), the CPU line at this many cores. */
  memoryLimitBytes?: number;
  cpus?: number;
}

/**
 * A run's memory and CPU over time as a small inline SVG (memory a filled line, CPU a thin line), for the
 * result views (gateway page, job summary). Pure: only numbers reach the markup, so it needs no escaping.
 */
export function renderSparklineSvg(samples: readonly MetricSample[], options: SparklineOptions = {}): string {
  const width = options.width ?? 240;
  const height = options.height ?? 48;
  const label = summary(samples);
  const open = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${label}"><title>${label}</title>`;
  if (samples.length < 2) {
    return `${open}<text x="4" y="${height / 2 + 4}" font-size="11" fill="#57606a">too short to chart</text></svg>`;
  }
  const last = samples[samples.length - 1]!.tMs;
  const first = samples[0]!.tMs;
  const span = Math.max(1, last - first);
  const peakMemory = Math.max(1, options.memoryLimitBytes ?? 0, ...samples.map((s) => s.memoryBytes));
  const peakCpu = Math.max(1e-9, options.cpus ?? 0, ...samples.map((s) => s.cpu));
  const pad = 1;
  const x = (s: MetricSample) => fixed(pad + ((s.tMs - first) / span) * (width - 2 * pad));
  const y = (value: number, top: number) =>
    fixed(height - pad - (Math.max(0, value) / top) * (height - 2 * pad));
  const memory = samples.map((s) => `${x(s)},${y(s.memoryBytes, peakMemory)}`);
  const cpu = samples.map((s) => `${x(s)},${y(s.cpu, peakCpu)}`);
  const area = `${x(samples[0]!)},${height - pad} ${memory.join(" ")} ${x(samples[samples.length - 1]!)},${height - pad}`;
  return (
    open +
    `<polygon points="${area}" fill="#0969da" fill-opacity="0.2" stroke="none"/>` +
    `<polyline points="${memory.join(" ")}" fill="none" stroke="#0969da" stroke-width="1.5"/>` +
    `<polyline points="${cpu.join(" ")}" fill="none" stroke="#cf222e" stroke-width="1"/>` +
    "</svg>"
  );
}

function summary(samples: readonly MetricSample[]): string {
  if (samples.length === 0) return "no resource samples";
  const peakMemory = Math.max(...samples.map((s) => s.memoryBytes));
  const peakCpu = Math.max(...samples.map((s) => s.cpu));
  return `memory (blue) peak ${(peakMemory / 1024 ** 2).toFixed(0)} MiB, CPU (red) peak ${peakCpu.toFixed(2)} cores, over ${(samples[samples.length - 1]!.tMs / 1000).toFixed(0)} s`;
}

const fixed = (n: number) => Math.round(n * 10) / 10;
