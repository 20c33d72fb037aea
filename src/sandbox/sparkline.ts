import { formatBytes, formatDuration } from "../units/index.js";
import type { MetricSample } from "./metrics.js";

export interface SparklineOptions {
  width?: number;
  height?: number;
  /** Scales: the memory line tops out at this (default: the highest sample), the CPU line at this many cores. */
  memoryLimitBytes?: number;
  cpus?: number;
  /** Label the scales (the top's memory and cores, the run's start and end); default true. */
  axes?: boolean;
}

/** Room for a line of labels above and below the chart. */
const LABEL_BAND = 11;

/**
 * A run's memory and CPU over time as a small inline SVG (memory a filled line, CPU a thin line), for the
 * result views (gateway page, job summary). Pure: only numbers reach the markup, so it needs no escaping.
 */
export function renderSparklineSvg(samples: readonly MetricSample[], options: SparklineOptions = {}): string {
  const width = options.width ?? 240;
  const height = options.height ?? (options.axes === false ? 48 : 70);
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
  const axes = options.axes ?? true;
  const top = axes ? LABEL_BAND : 0;
  const bottom = height - (axes ? LABEL_BAND : 0);
  const x = (s: MetricSample) => fixed(pad + ((s.tMs - first) / span) * (width - 2 * pad));
  const y = (value: number, scale: number) =>
    fixed(bottom - pad - (Math.max(0, value) / scale) * (bottom - top - 2 * pad));
  const memory = samples.map((s) => `${x(s)},${y(s.memoryBytes, peakMemory)}`);
  const cpu = samples.map((s) => `${x(s)},${y(s.cpu, peakCpu)}`);
  const area = `${x(samples[0]!)},${bottom - pad} ${memory.join(" ")} ${x(samples[samples.length - 1]!)},${bottom - pad}`;
  const text = (at: number, y: number, anchor: string, fill: string, words: string) =>
    `<text x="${at}" y="${y}" font-size="9" text-anchor="${anchor}" fill="${fill}">${words}</text>`;
  // Only numbers and our own words reach the labels: nothing to escape.
  const labels = axes
    ? `<line x1="0" y1="${bottom}" x2="${width}" y2="${bottom}" stroke="#d0d7de" stroke-width="1"/>` +
      text(pad, 8, "start", "#0969da", `memory, top ${formatBytes(peakMemory)}`) +
      text(width - pad, 8, "end", "#cf222e", `CPU, top ${fixed(peakCpu)} cores`) +
      text(pad, height - 2, "start", "#57606a", "0 s") +
      text(width - pad, height - 2, "end", "#57606a", formatDuration(last))
    : "";
  return (
    open +
    labels +
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
