/**
 * The rules a `docker save` archive (a participant's own image) must follow before anything is loaded into
 * an engine: its caps, its rule names, and the checks on the names inside it. The streaming that feeds
 * them is image-archive.ts.
 */
import { formatBytes, GiB, MiB } from "../units/index.js";
import { InvalidSubmissionError } from "./errors.js";
import { resolveCaps } from "./limits.js";

/** Caps on an image archive, all checked while it streams. */
export interface ImageLimits {
  /** The archive file as uploaded (compressed when it is .tar.gz). */
  maxArchiveBytes: number;
  /** What loading would write: the outer tar, and the sum of the layers' uncompressed tars, each. */
  maxUncompressedBytes: number;
  /** One layer's uncompressed tar. */
  maxLayerBytes: number;
  /** Layers of the image (an engine stacks at most 127 with overlayfs). */
  maxLayers: number;
  /** Entries of the outer tar (blobs, manifests, folders). */
  maxEntries: number;
  /** Entries of all layers together (files, folders, links). */
  maxLayerEntries: number;
  /** One JSON file of the archive (manifest.json, index.json, a config, a manifest blob). */
  maxMetadataBytes: number;
  /** Uncompressed/compressed of one gzip stream (the archive's or a layer's), from 1 MiB up. */
  maxCompressionRatio: number;
}

export const DEFAULT_IMAGE_LIMITS: Readonly<ImageLimits> = Object.freeze({
  maxArchiveBytes: 2 * GiB,
  maxUncompressedBytes: 10 * GiB,
  maxLayerBytes: 10 * GiB,
  maxLayers: 127,
  maxEntries: 2_000,
  maxLayerEntries: 1_000_000,
  maxMetadataBytes: 4 * MiB,
  maxCompressionRatio: 200,
});

export function resolveImageLimits(overrides: Partial<ImageLimits> = {}): ImageLimits {
  return resolveCaps(DEFAULT_IMAGE_LIMITS, overrides, "image limit");
}

/** The platform the runner runs images on. */
export interface Platform {
  os: string;
  architecture: string;
  /** e.g. "v8" for arm64; compared only when set here. */
  variant?: string;
}

export const DEFAULT_PLATFORM: Readonly<Platform> = Object.freeze({ os: "linux", architecture: "amd64" });

/** Stable rule names carried by InvalidImageError.rule. */
export const IMAGE_RULES = [
  "not_an_archive",
  "corrupt_archive",
  "archive_too_large",
  "uncompressed_too_large",
  "compression_ratio",
  "too_many_entries",
  "bad_name",
  "absolute_path",
  "parent_segment",
  "special_entry",
  "duplicate_entry",
  "metadata_too_large",
  "no_manifest",
  "bad_manifest",
  "duplicate_key",
  "no_image",
  "multiple_images",
  "inconsistent_manifests",
  "missing_blob",
  "digest_mismatch",
  "bad_config",
  "unknown_user",
  "platform",
  "too_many_layers",
  "layer_not_tar",
  "corrupt_layer",
  "layer_too_large",
  "too_many_layer_entries",
  "device_file",
  "link_escape",
  "unsupported_entry",
  "account_file_link",
  "account_file_type",
  "account_file_too_large",
  "base_image",
] as const;
export type ImageRule = (typeof IMAGE_RULES)[number];

/**
 * An image archive refused before loading. `layer` is the layer's path in the archive (its blob) when the
 * rule broke inside one, `entry` the entry (of that layer, or of the archive itself).
 */
export class InvalidImageError extends InvalidSubmissionError {
  constructor(
    override readonly rule: ImageRule,
    readonly layer: string | undefined,
    entry: string | undefined,
    message: string,
  ) {
    super(rule, entry, message);
    this.name = "InvalidImageError";
  }
}

/** JSON quoting escapes control characters and quotes, so untrusted names print safely. */
export const q = (text: string): string =>
  JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);

export const RESAVE = "build the image again and save it with `docker save -o algorithm.tar <image>`";

/** A refusal of the archive as a whole, or of one of its own entries. */
export function refuseArchive(
  rule: ImageRule,
  archiveName: string,
  entry: string | undefined,
  what: string,
  fix: string,
): InvalidImageError {
  const at = entry === undefined ? "" : ` at ${q(entry)}`;
  return new InvalidImageError(rule, undefined, entry, `${q(archiveName)}${at}: ${what}: ${fix}`);
}

/** A refusal inside a layer: names the archive, the layer and the entry. */
export function refuseLayer(
  rule: ImageRule,
  archiveName: string,
  layer: string,
  entry: string | undefined,
  what: string,
  fix: string,
): InvalidImageError {
  const at = entry === undefined ? "" : `, entry ${q(entry)}`;
  return new InvalidImageError(
    rule,
    layer,
    entry,
    `${q(archiveName)}, layer ${q(layer)}${at}: ${what}: ${fix}`,
  );
}

export function tooLarge(what: string, bytes: number, limit: number): string {
  return `${what} is over ${formatBytes(limit)} (${formatBytes(bytes)} so far)`;
}

/**
 * Splits a tar entry name into "/"-separated segments after checking it: a leading "./" is dropped, a
 * trailing "/" too; returns the problem instead when the name is absolute, climbs with "..", or is empty or
 * has control characters.
 */
export function checkTarName(
  name: string,
): { segments: string[] } | { rule: "absolute_path" | "parent_segment" | "bad_name"; what: string } {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name))
    return { rule: "bad_name", what: "the name has control characters" };
  if (name.startsWith("/")) return { rule: "absolute_path", what: "the name is an absolute path" };
  const segments = name.split("/").filter((segment) => segment !== "" && segment !== ".");
  if (segments.includes("..")) return { rule: "parent_segment", what: 'the name climbs out with ".."' };
  if (segments.length === 0 && name !== "./" && name !== ".")
    return { rule: "bad_name", what: "the name is empty" };
  return { segments };
}

/**
 * Whether a symbolic link at `segments` pointing to `target` leaves the image's root. Absolute targets are
 * resolved inside the container's root filesystem, so only relative ones that climb above it escape.
 */
export function symlinkEscapes(segments: string[], target: string): boolean {
  if (target.startsWith("/")) return false;
  let depth = segments.length - 1;
  for (const segment of target.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      depth--;
      if (depth < 0) return true;
    } else depth++;
  }
  return false;
}

/** An allowed base image as the engine knows it: its reference and its layers' diff_ids, base first. */
export interface AllowedBase {
  reference: string;
  diffIds: string[];
}

/**
 * The allowed base image the image is built on (the one whose layers begin the image's, the longest when
 * several do); refuses an image built on none of them. An empty allow-list allows any base.
 */
export function checkBaseImage(
  archiveName: string,
  diffIds: string[],
  allowed: AllowedBase[],
): AllowedBase | undefined {
  if (allowed.length === 0) return undefined;
  const matches = allowed.filter(
    (base) =>
      base.diffIds.length > 0 &&
      base.diffIds.length <= diffIds.length &&
      base.diffIds.every((diffId, i) => diffIds[i] === diffId),
  );
  const best = matches.sort((a, b) => b.diffIds.length - a.diffIds.length)[0];
  if (best !== undefined) return best;
  throw new InvalidImageError(
    "base_image",
    undefined,
    undefined,
    `${q(archiveName)}: the image is not built on an allowed base image (${allowed.map((base) => base.reference).join(", ")}): ` +
      `start your Dockerfile FROM one of them, exactly that version, and build again`,
  );
}
