/**
 * Human units used in flags and competition.yml: durations ("90s", "30m", "1h30m", "250ms") and byte
 * sizes ("512m", "8g", "1.5GiB", "100k"). Sizes use binary multiples, as Docker does. Also how much of a
 * text is shown (cutText).
 */

export class UnitError extends Error {}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses "90s", "30m", "1h30m", "250ms"; a bare number is seconds. Returns milliseconds. */
export function parseDuration(input: string, what = "duration"): number {
  const text = input.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const match of text.matchAll(part)) {
    if (match.index !== consumed) break;
    total += Number(match[1]) * DURATION_UNITS[match[2]!]!;
    consumed += match[0].length;
  }
  if (consumed === 0 || consumed !== text.length || total <= 0) {
    throw new UnitError(
      `${what} "${input}" is not a positive duration; write it like 90s, 30m, 1h30m or 250ms`,
    );
  }
  return Math.round(total);
}

export const MiB = 1024 ** 2;
export const GiB = 1024 ** 3;

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  m: MiB,
  g: GiB,
  t: 1024 * GiB,
};

/** Parses "512m", "8g", "1.5GiB", "100KB", "4096"; binary multiples. Returns bytes. */
export function parseSize(input: string, what = "size"): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(input.trim());
  const value = match ? Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]! : NaN;
  if (!match || !Number.isFinite(value) || value <= 0) {
    throw new UnitError(`${what} "${input}" is not a positive size; write it like 512m, 8g or 100k`);
  }
  return Math.floor(value);
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** A duration for people, coarser as it grows: 250ms, 12.3s, 2m5s, 1h30m, 2d3h (an age of days needs no seconds). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 59_950) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  const m = Math.floor(s / 60);
  if (m < 24 * 60) return `${Math.floor(m / 60)}h${m % 60}m`;
  const h = Math.floor(m / 60);
  return `${Math.floor(h / 24)}d${h % 24}h`;
}

/** `text` cut to `max` characters (whole code points, never half a pair), with "…" where it was cut. */
export function cutText(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length > max ? `${chars.slice(0, max).join("")}…` : text;
}
