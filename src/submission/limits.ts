import { GiB } from "../units/index.js";

/** Caps applied to a submission zip, checked from the central directory and again while streaming. */
export interface ZipLimits {
  /** Size of the zip file itself. */
  maxZipBytes: number;
  /** Sum of the uncompressed sizes of all entries. */
  maxTotalBytes: number;
  /** Uncompressed size of one entry. */
  maxEntryBytes: number;
  /** Entries in the central directory, junk included. */
  maxEntries: number;
  /** Uncompressed/compressed, per entry and for the whole archive (see RATIO_FLOOR_BYTES). */
  maxCompressionRatio: number;
}

export const DEFAULT_ZIP_LIMITS: Readonly<ZipLimits> = Object.freeze({
  maxZipBytes: 1 * GiB,
  maxTotalBytes: 4 * GiB,
  maxEntryBytes: 2 * GiB,
  maxEntries: 20_000,
  maxCompressionRatio: 200,
});

/**
 * The compression-ratio cap only applies to entries (and archives) of at least this many uncompressed
 * bytes: tiny files of repeated bytes legitimately compress far beyond any sane ratio, and cannot hurt.
 */
export const RATIO_FLOOR_BYTES = 1024 * 1024;

/** Merges overrides onto the defaults; a limit that is not a positive number is a programming error. */
export function resolveLimits(overrides: Partial<ZipLimits> = {}): ZipLimits {
  return resolveCaps(DEFAULT_ZIP_LIMITS, overrides, "zip limit");
}

/** Merges overrides onto any set of numeric caps (`what` names them in the error, e.g. "zip limit"). */
export function resolveCaps<T extends { [K in keyof T]: number }>(
  defaults: Readonly<T>,
  overrides: Partial<T>,
  what: string,
): T {
  const limits = { ...defaults } as T;
  for (const key of Object.keys(defaults) as (keyof T)[]) {
    const value = overrides[key];
    if (value === undefined) continue;
    if (typeof value !== "number" || !(value > 0)) {
      throw new RangeError(`${what} ${String(key)} must be a positive number, got ${String(value)}`);
    }
    limits[key] = value;
  }
  return limits;
}
