/**
 * Inspection of a participant's image archive (`docker save -o algorithm.tar`, optionally gzipped), before
 * anything is loaded into an engine. One streaming pass over the file: every entry of the outer tar is
 * hashed; small JSON files are kept (bounded) since manifest.json and index.json come last; every entry
 * that is a tar (or a gzipped tar) is scanned as a layer, its entries checked one by one; then the
 * manifests are resolved: exactly one image, every blob present with the digest its name claims, every
 * layer's uncompressed digest the config's diff_id, the platform the runner's.
 *
 * Memory holds the kept JSON (at most maxMetadataBytes each, 4 × that in all), a hash per entry and tar-stream's
 * and zlib's buffers; never a layer.
 */
import { createHash, type Hash } from "node:crypto";
import { promises as fsp } from "node:fs";
import { basename } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract as tarExtract } from "tar-stream";
import { formatBytes } from "../units/index.js";
import { resolveImage } from "./image-manifests.js";
import { scanLayer } from "./image-layer.js";
import { Meter, mapStreamError, ratioCheck } from "./image-stream.js";
import {
  DEFAULT_PLATFORM,
  InvalidImageError,
  RESAVE,
  checkTarName,
  q,
  refuseArchive,
  resolveImageLimits,
  tooLarge,
  type ImageLimits,
  type Platform,
} from "./image-rules.js";

/** What the run needs from the image's config (Docker's `config` object; absent keys as null/""/[]). */
export interface ImageRunConfig {
  entrypoint: string[] | null;
  cmd: string[] | null;
  /** "" when unset (the engine then runs as root: the run step runs it as 65534 instead). */
  user: string;
  workingDir: string;
  env: string[];
  /** Folders its VOLUME instructions declare. */
  volumes: string[];
}

export interface ImageLayer {
  /** Path of the layer in the archive (e.g. "blobs/sha256/…" or "<id>/layer.tar"). */
  path: string;
  /** sha256 of the layer as stored ("sha256:…"). */
  digest: string;
  /** sha256 of its uncompressed tar, equal to the config's rootfs.diff_ids entry ("sha256:…"). */
  diffId: string;
  compression: "gzip" | "none";
  storedBytes: number;
  uncompressedBytes: number;
  /** Entries of the layer (files, folders, links). */
  entries: number;
  /** What the layer does to the image's account files (the never-root rule reads them). */
  accounts: AccountFiles;
}

/**
 * What a layer does to `/etc/passwd` and `/etc/group`: absent when it leaves the file alone, null when it
 * removes it (a whiteout, an opaque `/etc`), else the file's text as the layer writes it.
 */
export interface AccountFiles {
  passwd?: string | null;
  group?: string | null;
}

export interface InspectedImage {
  archiveName: string;
  /** sha256 of the archive file, lowercase hex (as a zip submission's sha256). */
  sha256: string;
  archiveBytes: number;
  /** The archive file is gzipped (algorithm.tar.gz). */
  gzipped: boolean;
  /** Which manifests the archive has: Docker's manifest.json, OCI's index.json + oci-layout, or both. */
  layout: "docker" | "oci" | "docker+oci";
  /** sha256 of the config blob: the image id the engine will report after loading ("sha256:…"). */
  configDigest: string;
  /** Tags the archive names (RepoTags, or the OCI ref-name annotations); may be empty. */
  repoTags: string[];
  platform: Platform;
  config: ImageRunConfig;
  layers: ImageLayer[];
  /** Sum of the layers' uncompressed sizes: about what loading writes to disk. */
  uncompressedBytes: number;
  /** The image's /etc/passwd and /etc/group once its layers are applied (null: it has none). */
  accounts: { passwd: string | null; group: string | null };
  /**
   * The archive's files the engine is given, by their paths in it (links followed): the config and the
   * layers, in order. Nothing else of the archive is loaded (loadableArchive).
   */
  load: { config: string; layers: string[] };
}

export interface InspectImageOptions {
  limits?: Partial<ImageLimits>;
  /** The runner's platform; default linux/amd64. */
  platform?: Platform;
  /** How messages name the archive; default its file name. */
  name?: string;
}

/** What the pass records of each regular file of the outer tar. */
export interface OuterEntry {
  sha256: string;
  bytes: number;
  /** Kept bytes of a JSON-looking file within the metadata cap. */
  json?: Buffer;
  /** A JSON-looking file left out: over the metadata cap, or past the budget of all kept files (4 × it). */
  jsonDropped?: true;
  /** Set when the entry was scanned as a layer. */
  layer?: Omit<ImageLayer, "path" | "digest">;
}

export interface Pass {
  archiveName: string;
  limits: ImageLimits;
  entries: Map<string, OuterEntry>;
  /** Symbolic links of the outer tar: path → the path they point to, inside the archive. */
  links: Map<string, string>;
  keptJsonBytes: number;
  layerBytes: number;
  layerEntries: number;
  layersScanned: number;
}

/** A pass before its first entry. */
export function newPass(archiveName: string, limits: ImageLimits): Pass {
  return {
    archiveName,
    limits,
    entries: new Map(),
    links: new Map(),
    keptJsonBytes: 0,
    layerBytes: 0,
    layerEntries: 0,
    layersScanned: 0,
  };
}

/**
 * Inspects an image archive and returns what the run needs. Throws InvalidImageError (status
 * invalid_submission) naming the rule, the layer and the entry at the first refusal.
 */
export async function inspectImageArchive(
  archivePath: string,
  options: InspectImageOptions = {},
): Promise<InspectedImage> {
  const limits = resolveImageLimits(options.limits);
  const platform = options.platform ?? DEFAULT_PLATFORM;
  const archiveName = options.name ?? basename(archivePath);
  const handle = await fsp.open(archivePath, "r").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT")
      throw new Error(`image archive ${JSON.stringify(archivePath)} does not exist`);
    throw error;
  });
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      throw refuseArchive("not_an_archive", archiveName, undefined, "it is not a regular file", RESAVE);
    }
    const archiveBytes = stats.size;
    if (archiveBytes > limits.maxArchiveBytes) {
      throw refuseArchive(
        "archive_too_large",
        archiveName,
        undefined,
        `it is ${formatBytes(archiveBytes)}, over the ${formatBytes(limits.maxArchiveBytes)} limit`,
        "build on a smaller base image (python:3.x-slim rather than a full CUDA devel image), leave training data and caches out, and compress with `gzip`",
      );
    }
    const magic = Buffer.alloc(2);
    await handle.read(magic, 0, 2, 0);
    const gzipped = magic[0] === 0x1f && magic[1] === 0x8b;
    const pass = newPass(archiveName, limits);
    const fileHash = createHash("sha256");
    // The descriptor's own stream (autoClose off): the file checked is the file read.
    const input = handle.createReadStream({ autoClose: false, start: 0, highWaterMark: 256 * 1024 });
    try {
      await readOuter(input, gzipped, pass, archiveBytes, fileHash);
    } finally {
      input.destroy();
    }
    return {
      archiveName,
      sha256: fileHash.digest("hex"),
      archiveBytes,
      gzipped,
      ...resolveImage(pass, platform),
    };
  } finally {
    await handle.close();
  }
}

async function readOuter(
  input: Readable,
  gzipped: boolean,
  pass: Pass,
  archiveBytes: number,
  fileHash: Hash,
): Promise<void> {
  const { archiveName, limits } = pass;
  const compressed = new Meter(undefined, fileHash);
  const stages: NodeJS.ReadWriteStream[] = [compressed];
  if (gzipped) stages.push(createGunzip());
  stages.push(
    new Meter((bytes) => {
      if (bytes > limits.maxUncompressedBytes) {
        throw refuseArchive(
          "uncompressed_too_large",
          archiveName,
          undefined,
          tooLarge("the uncompressed archive", bytes, limits.maxUncompressedBytes),
          "make the image smaller (a slim base image, no training data or caches in it)",
        );
      }
      if (gzipped && ratioCheck(bytes, compressed.bytes, limits.maxCompressionRatio)) {
        throw refuseArchive(
          "compression_ratio",
          archiveName,
          undefined,
          `it expands over ${limits.maxCompressionRatio}× (${formatBytes(compressed.bytes)} to ${formatBytes(bytes)} so far), which marks a gzip bomb`,
          RESAVE,
        );
      }
    }),
  );
  const extract = tarExtract();
  const feeding = pipeline([input, ...stages, extract]).catch((error: unknown) => error);
  let count = 0;
  try {
    for await (const entry of extract) {
      count++;
      const { name, type } = entry.header;
      if (count > limits.maxEntries) {
        entry.resume();
        throw refuseArchive(
          "too_many_entries",
          archiveName,
          undefined,
          `it has more than ${limits.maxEntries} entries`,
          "save one image, with fewer layers (combine RUN steps)",
        );
      }
      const checked = checkTarName(name);
      if ("rule" in checked) {
        entry.resume();
        throw refuseArchive(checked.rule, archiveName, name, checked.what, RESAVE);
      }
      if (type === "directory") {
        entry.resume();
        continue;
      }
      const path = checked.segments.join("/");
      if (type === "symlink") {
        // Docker before 25 links a layer saved twice to its first copy: <id>/layer.tar -> ../<id>/layer.tar.
        entry.resume();
        const target = outerLinkTarget(checked.segments, entry.header.linkname ?? "");
        if (target === undefined) {
          throw refuseArchive(
            "link_escape",
            archiveName,
            name,
            `the archive's symbolic link points to ${q(entry.header.linkname ?? "")}, outside the archive`,
            RESAVE,
          );
        }
        if (pass.entries.has(path) || pass.links.has(path)) throw duplicateEntry(archiveName, name);
        pass.links.set(path, target);
        continue;
      }
      if (type !== "file" && type !== "contiguous-file") {
        entry.resume();
        throw refuseArchive(
          "special_entry",
          archiveName,
          name,
          `the archive holds a ${type ?? "special entry"}, not a regular file, folder or symbolic link`,
          RESAVE,
        );
      }
      if (pass.entries.has(path) || pass.links.has(path)) {
        entry.resume();
        throw duplicateEntry(archiveName, name);
      }
      pass.entries.set(path, await readOuterEntry(entry as unknown as Readable, path, pass));
    }
  } catch (error) {
    extract.destroy();
    await feeding;
    throw mapStreamError(error, pass, undefined) ?? error;
  }
  const failed = await feeding;
  if (failed !== undefined) throw mapStreamError(failed, pass, undefined) ?? failed;
  if (count === 0) {
    throw refuseArchive(
      "not_an_archive",
      archiveName,
      undefined,
      `the file (${formatBytes(archiveBytes)}) holds no entries`,
      RESAVE,
    );
  }
}

/** Where a symbolic link of the outer tar points, as an archive path; undefined when it leaves the archive. */
function outerLinkTarget(segments: string[], linkname: string): string | undefined {
  if (linkname.startsWith("/")) return undefined;
  const out = segments.slice(0, -1);
  for (const segment of linkname.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment !== "..") out.push(segment);
    else if (out.pop() === undefined) return undefined;
  }
  return out.length === 0 ? undefined : out.join("/");
}

function duplicateEntry(archiveName: string, name: string): InvalidImageError {
  return refuseArchive(
    "duplicate_entry",
    archiveName,
    name,
    "the archive holds this path twice (a loader would read only one of them)",
    RESAVE,
  );
}

const USTAR = Buffer.from("ustar");

function looksLikeTar(head: Buffer): boolean {
  if (head.length < 512) return false;
  if (head.subarray(257, 262).equals(USTAR)) return true;
  // An empty tar (two zero blocks): Docker's empty layer.
  return head.subarray(0, 512).every((byte) => byte === 0);
}

/** Reads one regular file of the outer tar: hashes it, keeps it if JSON-sized, scans it if a layer. */
async function readOuterEntry(entry: Readable, path: string, pass: Pass): Promise<OuterEntry> {
  const { limits } = pass;
  const hash = createHash("sha256");
  let bytes = 0;
  const chunks = entry[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  // Gather the first 512 bytes: enough to tell a tar or a gzip stream from JSON.
  const head: Buffer[] = [];
  let headBytes = 0;
  let done = false;
  while (headBytes < 512) {
    const next = await chunks.next();
    if (next.done) {
      done = true;
      break;
    }
    head.push(next.value);
    headBytes += next.value.length;
  }
  const first = Buffer.concat(head);
  const isGzip = first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b;
  async function* body(): AsyncGenerator<Buffer> {
    if (first.length > 0) {
      hash.update(first);
      bytes += first.length;
      yield first;
    }
    if (done) return;
    for (;;) {
      const next = await chunks.next();
      if (next.done) return;
      hash.update(next.value);
      bytes += next.value.length;
      yield next.value;
    }
  }
  if (isGzip || looksLikeTar(first)) {
    const layer = await scanLayer(body(), isGzip, path, pass);
    return { sha256: hash.digest("hex"), bytes, layer };
  }
  const kept: Buffer[] = [];
  let keep = first[0] === 0x7b /* { */ || first[0] === 0x5b; /* [ */
  for await (const chunk of body()) {
    if (!keep) continue;
    if (bytes > limits.maxMetadataBytes || pass.keptJsonBytes + bytes > 4 * limits.maxMetadataBytes) {
      keep = false;
      kept.length = 0;
      continue;
    }
    kept.push(chunk);
  }
  const result: OuterEntry = { sha256: hash.digest("hex"), bytes };
  if (!keep && (first[0] === 0x7b || first[0] === 0x5b)) result.jsonDropped = true;
  if (keep) {
    result.json = Buffer.concat(kept);
    pass.keptJsonBytes += result.json.length;
  }
  return result;
}
