/** Durations summed up for the status page: a count, the median and the 95th percentile, in seconds. */
import type { DurationSummary } from "../gateway-api/index.js";

/** The nearest-rank percentile `p` (0–100) of values sorted ascending; undefined when there are none. */
export function nearestRank(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

/** Whole seconds above ten, tenths below (a queue wait of 0.4 s is not "0"). */
const seconds = (ms: number) => {
  const s = Math.max(0, ms) / 1000;
  return s >= 10 ? Math.round(s) : Math.round(s * 10) / 10;
};

export function summarize(durationsMs: readonly number[]): DurationSummary {
  const sorted = [...durationsMs].sort((a, b) => a - b);
  const median = nearestRank(sorted, 50);
  const p95 = nearestRank(sorted, 95);
  return {
    count: sorted.length,
    median_seconds: median === undefined ? null : seconds(median),
    p95_seconds: p95 === undefined ? null : seconds(p95),
  };
}
