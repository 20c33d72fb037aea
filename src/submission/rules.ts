/**
 * The rules a submission zip must follow: one code path, fed entry by entry from the central directory
 * (by both inspection and extraction) and, for sizes, again while the data streams to disk.
 */
import { formatBytes } from "../units/index.js";
import { InvalidSubmissionError } from "./errors.js";
import { RATIO_FLOOR_BYTES, type ZipLimits } from "./limits.js";

/** Stable rule names carried by InvalidSubmissionError.rule. */
export const RULES = [
  "not_a_zip",
  "corrupt_zip",
  "zip_too_large",
  "empty_zip",
  "too_many_entries",
  "control_char",
  "backslash",
  "absolute_path",
  "parent_segment",
  "bad_name",
  "name_too_long",
  "symlink",
  "special_file",
  "duplicate_entry",
  "directory_with_data",
  "encrypted",
  "unsupported_compression",
  "entry_too_large",
  "total_too_large",
  "compression_ratio",
  "archive_compression_ratio",
  "overlapping_entries",
  "size_mismatch",
  "no_entrypoint",
] as const;
export type Rule = (typeof RULES)[number];

export const ENTRYPOINTS = ["main.py", "main.sh"] as const;
export type Entrypoint = (typeof ENTRYPOINTS)[number];

const REPACK = "re-create it with `proctor pack` or `zip -r`";
const FROM_INSIDE =
  "zip the files from inside your submission folder (cd submission && zip -r ../submission.zip .)";

/** JSON quoting escapes control characters and quotes, so untrusted names print safely. */
const q = (text: string): string => JSON.stringify(text);

function refuse(rule: Rule, entry: string | undefined, message: string): InvalidSubmissionError {
  return new InvalidSubmissionError(rule, entry, message);
}

/** The central-directory fields the rules look at (a subset of yauzl's Entry, decoded name included). */
export interface EntryFacts {
  /** Decoded name, exactly as stored (no separator conversion). */
  name: string;
  generalPurposeBitFlag: number;
  compressionMethod: number;
  compressedSize: number;
  uncompressedSize: number;
  externalFileAttributes: number;
  relativeOffsetOfLocalHeader: number;
  crc32: number;
}

/** A file to write, with what reading it takes (the rules keep no reader objects: 20k entries add up). */
export interface PlannedFile {
  /** Relative path, "/"-separated; also the entry's name in the zip. */
  path: string;
  /** 0o644, or 0o755 when the zip marks it owner-executable. */
  mode: number;
  /** Declared uncompressed size. */
  size: number;
  crc32: number;
  compressedSize: number;
  compressionMethod: number;
  generalPurposeBitFlag: number;
  relativeOffsetOfLocalHeader: number;
}

export interface ArchivePlan {
  /** Files to write, in central-directory order (junk left out). */
  files: PlannedFile[];
  /** Every folder to create (explicit or implied by a file), parents before children. */
  dirs: string[];
  /** "" or "<top folder>/": where the entrypoint sits. */
  rootPrefix: string;
  entrypoint: Entrypoint;
  /** Sum of the declared sizes of the files to write. */
  totalBytes: number;
}

const S_IFMT = 0o170000;
const SPECIAL_TYPES: Record<number, string> = {
  0o010000: "a FIFO (named pipe)",
  0o020000: "a character device",
  0o060000: "a block device",
  0o140000: "a socket",
};
const COMPRESSION_NAMES: Record<number, string> = {
  1: "shrink",
  6: "implode",
  9: "deflate64",
  12: "bzip2",
  14: "lzma",
  93: "zstd",
  95: "xz",
  98: "ppmd",
  99: "AES encryption",
};

/** `__MACOSX/` trees and `.DS_Store` files: checked like any entry, but never extracted. */
export function isJunk(path: string): boolean {
  return path === "__MACOSX" || path.startsWith("__MACOSX/") || path.split("/").at(-1) === ".DS_Store";
}

/**
 * Checks one entry name and returns it normalised (trailing "/" removed) with whether the name marks a
 * directory.
 */
export function checkName(name: string): { path: string; dirByName: boolean } {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) {
    throw refuse(
      "control_char",
      name,
      `entry ${q(name)} contains a NUL or control character in its name: rename the file and ${REPACK}`,
    );
  }
  if (name.includes("\\")) {
    throw refuse(
      "backslash",
      name,
      `entry ${q(name)} contains a backslash: zip paths must use "/"; ${REPACK} (on Windows use \`proctor pack\` or 7-Zip)`,
    );
  }
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) {
    throw refuse("absolute_path", name, `entry ${q(name)} is an absolute path: ${FROM_INSIDE}`);
  }
  const dirByName = name.endsWith("/");
  const path = dirByName ? name.slice(0, -1) : name;
  const segments = path.split("/");
  if (segments.includes("..")) {
    throw refuse(
      "parent_segment",
      name,
      `entry ${q(name)} escapes the submission folder (".." segment): ${FROM_INSIDE}`,
    );
  }
  if (segments.some((segment) => segment === "" || segment === ".")) {
    throw refuse(
      "bad_name",
      name,
      `entry ${q(name)} has an empty or "." path segment: rename it and ${REPACK}`,
    );
  }
  if (Buffer.byteLength(path) > 4095 || segments.some((segment) => Buffer.byteLength(segment) > 255)) {
    throw refuse(
      "name_too_long",
      name,
      `entry ${q(name)} is longer than a file name may be (255 bytes a segment, 4095 in all): shorten it`,
    );
  }
  return { path, dirByName };
}

/**
 * Feeds entries through every rule. `add` throws at the first broken rule, naming the entry; `finish`
 * applies the whole-archive rules and locates the entrypoint.
 */
export class ArchiveRules {
  private readonly files: PlannedFile[] = [];
  /** NFC keys: names that differ only in Unicode normalisation collide on some filesystems. */
  /** NFC path of each file → its entry name. */
  private readonly fileKeys = new Map<string, string>();
  /** NFC path of each folder, explicit or implied → its path as spelled first. */
  private readonly dirKeys = new Map<string, string>();
  private readonly explicitDirKeys = new Set<string>();
  /** Where each entry's local header starts and its data ends at the earliest, for the overlap rule. */
  private readonly spanStarts: number[] = [];
  private readonly spanEnds: number[] = [];
  private readonly spanNames: string[] = [];
  private declaredTotal = 0;
  private streamedTotal = 0;
  private count = 0;

  constructor(
    private readonly limits: ZipLimits,
    /** The zip's file name, for archive-level messages. */
    private readonly zipName: string,
    private readonly zipBytes: number,
  ) {}

  /** Checks the entry count from the end-of-central-directory record, before reading any entry. */
  checkEntryCount(count: number): void {
    if (count > this.limits.maxEntries) {
      throw refuse(
        "too_many_entries",
        undefined,
        `${q(this.zipName)} has ${count} entries, over the limit of ${this.limits.maxEntries}: ` +
          `leave caches and data out of the submission, or bundle many small files into one archive file`,
      );
    }
  }

  add(facts: EntryFacts): void {
    this.count++;
    this.checkEntryCount(this.count);
    const { name } = facts;
    const { path, dirByName } = checkName(name);

    const unixMode = facts.externalFileAttributes >>> 16;
    const type = unixMode & S_IFMT;
    if (type === 0o120000) {
      throw refuse(
        "symlink",
        name,
        `entry ${q(name)} is a symbolic link, which a submission may not contain: ` +
          `put the file itself in the zip (zip -r without -y, or \`proctor pack\`)`,
      );
    }
    const special = SPECIAL_TYPES[type];
    if (special !== undefined || (type !== 0 && type !== 0o100000 && type !== 0o040000)) {
      throw refuse(
        "special_file",
        name,
        `entry ${q(name)} is ${special ?? "a special file"}, not a regular file or folder: remove it from the zip`,
      );
    }
    const msDosDirectory = unixMode === 0 && (facts.externalFileAttributes & 0x10) !== 0;
    const kind = dirByName || type === 0o040000 || msDosDirectory ? "dir" : "file";

    if ((facts.generalPurposeBitFlag & 0x1) !== 0) {
      throw refuse("encrypted", name, `entry ${q(name)} is encrypted: ${REPACK} without a password`);
    }
    if (kind === "dir" && facts.uncompressedSize !== 0) {
      throw refuse(
        "directory_with_data",
        name,
        `entry ${q(name)} is a folder but carries ${formatBytes(facts.uncompressedSize)} of data: ${REPACK}`,
      );
    }
    if (kind === "file" && facts.compressionMethod !== 0 && facts.compressionMethod !== 8) {
      const method = COMPRESSION_NAMES[facts.compressionMethod];
      throw refuse(
        "unsupported_compression",
        name,
        `entry ${q(name)} uses compression method ${facts.compressionMethod}` +
          `${method ? ` (${method})` : ""}, but only stored and deflate are supported: ${REPACK}` +
          ` (in 7-Zip choose the Deflate method)`,
      );
    }
    this.checkEntrySize(name, facts.uncompressedSize);
    this.declaredTotal += facts.uncompressedSize;
    this.checkTotal(name, this.declaredTotal);
    const size = facts.uncompressedSize;
    if (size >= RATIO_FLOOR_BYTES && size > facts.compressedSize * this.limits.maxCompressionRatio) {
      const ratio =
        facts.compressedSize === 0 ? "without bound" : `${Math.round(size / facts.compressedSize)}×`;
      throw refuse(
        "compression_ratio",
        name,
        `entry ${q(name)} expands ${ratio} (${formatBytes(facts.compressedSize)} to ${formatBytes(size)}), ` +
          `over the limit of ${this.limits.maxCompressionRatio}×, which marks a zip bomb: ` +
          `leave out files that are mostly one repeated byte, or store them compressed (.gz, .npz)`,
      );
    }
    this.spanStarts.push(facts.relativeOffsetOfLocalHeader);
    // A local header is at least 30 bytes, followed by the entry's compressed data.
    this.spanEnds.push(facts.relativeOffsetOfLocalHeader + 30 + facts.compressedSize);
    this.spanNames.push(name);

    if (isJunk(path)) return;
    const key = path.normalize("NFC");
    const duplicate = (other: string): InvalidSubmissionError =>
      refuse(
        "duplicate_entry",
        name,
        `entry ${q(name)} clashes with entry ${q(other)} (the same path twice, or a file and a folder ` +
          `of the same name): ${REPACK} from a folder that holds each path once`,
      );
    // Every folder on the way, explicit or implied, must not be a file, nor be spelled two ways.
    const segments = path.split("/");
    const folders = kind === "dir" ? segments.length : segments.length - 1;
    for (let i = 1; i <= folders; i++) {
      const folder = segments.slice(0, i).join("/");
      const folderKey = folder.normalize("NFC");
      const file = this.fileKeys.get(folderKey);
      if (file !== undefined) throw duplicate(file);
      const spelled = this.dirKeys.get(folderKey);
      if (spelled !== undefined && spelled !== folder) throw duplicate(`${spelled}/`);
      this.dirKeys.set(folderKey, folder);
    }
    if (kind === "dir") {
      if (this.explicitDirKeys.has(key)) throw duplicate(name);
      this.explicitDirKeys.add(key);
      return;
    }
    const clash = this.fileKeys.get(key) ?? (this.dirKeys.has(key) ? `${this.dirKeys.get(key)}/` : undefined);
    if (clash !== undefined) throw duplicate(clash);
    this.fileKeys.set(key, name);
    this.files.push({
      path,
      mode: (unixMode & 0o100) !== 0 ? 0o755 : 0o644,
      size,
      crc32: facts.crc32,
      compressedSize: facts.compressedSize,
      compressionMethod: facts.compressionMethod,
      generalPurposeBitFlag: facts.generalPurposeBitFlag,
      relativeOffsetOfLocalHeader: facts.relativeOffsetOfLocalHeader,
    });
  }

  finish(): ArchivePlan {
    const { limits, zipName } = this;
    if (
      this.declaredTotal >= RATIO_FLOOR_BYTES &&
      this.declaredTotal > this.zipBytes * limits.maxCompressionRatio
    ) {
      throw refuse(
        "archive_compression_ratio",
        undefined,
        `${q(zipName)} expands ${Math.round(this.declaredTotal / this.zipBytes)}× ` +
          `(${formatBytes(this.zipBytes)} to ${formatBytes(this.declaredTotal)}), over the limit of ` +
          `${limits.maxCompressionRatio}×, which marks a zip bomb: leave out files that are mostly one repeated byte`,
      );
    }
    const { spanStarts: starts, spanEnds: ends, spanNames: names } = this;
    const order = Array.from(starts.keys()).sort((a, b) => starts[a]! - starts[b]!);
    for (let i = 1; i < order.length; i++) {
      const previous = order[i - 1]!;
      const current = order[i]!;
      if (starts[current]! < ends[previous]!) {
        throw refuse(
          "overlapping_entries",
          names[current],
          `entry ${q(names[current]!)} overlaps the data of entry ${q(names[previous]!)}, a zip-bomb construction: ${REPACK}`,
        );
      }
    }
    if (this.files.length === 0) {
      throw refuse(
        "empty_zip",
        undefined,
        `${q(zipName)} contains no files: ${FROM_INSIDE}, with main.py or main.sh at the top`,
      );
    }
    const { rootPrefix, entrypoint } = this.locateEntrypoint();
    const dirs = [...this.dirKeys.values()].sort();
    let totalBytes = 0;
    for (const file of this.files) totalBytes += file.size;
    return { files: this.files, dirs, rootPrefix, entrypoint, totalBytes };
  }

  /**
   * main.py or main.sh at the top, or inside the single top-level folder when every entry sits under it.
   * When both are there, main.sh wins: it is the wrapper that starts main.py.
   */
  private locateEntrypoint(): { rootPrefix: string; entrypoint: Entrypoint } {
    const filePaths = new Set(this.files.map((file) => file.path));
    const pick = (prefix: string): Entrypoint | undefined =>
      ENTRYPOINTS.slice()
        .reverse()
        .find((name) => filePaths.has(prefix + name));
    const atTop = pick("");
    if (atTop) return { rootPrefix: "", entrypoint: atTop };
    const tops = new Set<string>();
    for (const file of this.files) tops.add(file.path.split("/")[0]!);
    for (const dir of this.dirKeys.values()) tops.add(dir.split("/")[0]!);
    const [top] = tops;
    if (tops.size === 1 && top !== undefined && !filePaths.has(top)) {
      const inside = pick(`${top}/`);
      if (inside) return { rootPrefix: `${top}/`, entrypoint: inside };
    }
    const elsewhere = this.files
      .map((file) => file.path)
      .filter((path) => (ENTRYPOINTS as readonly string[]).includes(path.split("/").at(-1)!))
      .sort((a, b) => a.split("/").length - b.split("/").length)[0];
    const hint =
      elsewhere === undefined
        ? "there is none in the zip"
        : `found ${q(elsewhere)}, but only the top of the zip or a single top-level folder holding everything counts`;
    throw refuse(
      "no_entrypoint",
      elsewhere,
      `${q(this.zipName)} has no main.py or main.sh at its top (${hint}): ${FROM_INSIDE}`,
    );
  }

  private checkEntrySize(name: string, bytes: number): void {
    if (bytes > this.limits.maxEntryBytes) {
      throw refuse(
        "entry_too_large",
        name,
        `entry ${q(name)} is over ${formatBytes(this.limits.maxEntryBytes)} uncompressed, the limit for one file: ` +
          `make the file smaller or leave it out`,
      );
    }
  }

  private checkTotal(name: string, bytes: number): void {
    if (bytes > this.limits.maxTotalBytes) {
      throw refuse(
        "total_too_large",
        name,
        `the files of ${q(this.zipName)} add up to over ${formatBytes(this.limits.maxTotalBytes)} uncompressed ` +
          `by entry ${q(name)}: leave out data, caches and checkpoints the submission does not need`,
      );
    }
  }

  /**
   * A meter for the bytes of one entry as they stream to disk: declared sizes can lie, so the same caps
   * are applied to the bytes actually produced. Call it with each chunk's length.
   */
  meter(name: string): (bytes: number) => void {
    let entryBytes = 0;
    return (bytes) => {
      entryBytes += bytes;
      this.streamedTotal += bytes;
      this.checkEntrySize(name, entryBytes);
      this.checkTotal(name, this.streamedTotal);
    };
  }
}

/** Errors of the zip reader and inflater, mapped to the rule they break. */
export function refusalForReadError(
  error: unknown,
  zipName: string,
  entry: string | undefined,
  /** Where it happened, when no entry name is known. */
  position?: string,
): InvalidSubmissionError | undefined {
  if (error instanceof InvalidSubmissionError) return error;
  // Not an Error, or a programming error: not the zip's fault.
  if (!(error instanceof Error) || error instanceof TypeError || error instanceof ReferenceError)
    return undefined;
  const detail = error.message;
  const at = entry !== undefined ? ` at entry ${q(entry)}` : position !== undefined ? ` at ${position}` : "";
  if (
    /too many bytes in the stream|not enough bytes in the stream|size mismatch for stored file/.test(detail)
  ) {
    return refuse(
      "size_mismatch",
      entry,
      `${q(zipName)} is corrupt${at}: the data does not match the size its header declares (${detail}); ${REPACK}`,
    );
  }
  if (/strong encryption/.test(detail)) {
    return refuse(
      "encrypted",
      entry,
      `${q(zipName)} uses strong encryption${at}: ${REPACK} without a password`,
    );
  }
  // Errors with a system code (EIO, EMFILE, ...) are the platform's; zlib's codes start with "Z_".
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === "string" && !code.startsWith("Z_")) return undefined;
  return refuse("corrupt_zip", entry, `${q(zipName)} is corrupt${at} (${detail}): ${REPACK}`);
}

/** Refusal of a file that cannot be opened as a zip at all. */
export function notAZip(zipName: string, detail: string): InvalidSubmissionError {
  return refuse("not_a_zip", undefined, `${q(zipName)} is not a valid zip archive (${detail}): ${REPACK}`);
}

export function zipTooLarge(zipName: string, bytes: number, limit: number): InvalidSubmissionError {
  return refuse(
    "zip_too_large",
    undefined,
    `${q(zipName)} is ${formatBytes(bytes)}, over the ${formatBytes(limit)} limit for a submission zip: ` +
      `leave training data and checkpoints the submission does not need out of it`,
  );
}

export function crcMismatch(zipName: string, entry: string): InvalidSubmissionError {
  return refuse(
    "corrupt_zip",
    entry,
    `${q(zipName)} is corrupt at entry ${q(entry)} (CRC-32 mismatch: the data was damaged): ${REPACK}`,
  );
}
