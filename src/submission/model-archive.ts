/**
 * A Grand Challenge model tarball (`model.tar.gz`, made with `tar -czf model.tar.gz -C model .`): checked
 * and extracted on the runner, once per submission, into a folder the run shows read-only at /opt/ml/model.
 * The archive is the participant's, so it is read as hostile: only plain files and folders are written
 * (links, devices and fifos are refused: a link could point the run's reads at the runner's own files), no
 * name leaves the folder, and both the archive and what it unpacks to are capped.
 */
import { createReadStream } from "node:fs";
import { chmod, mkdir, open, stat } from "node:fs/promises";
import path from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import tar from "tar-stream";
import { formatBytes } from "../units/index.js";
import { InvalidSubmissionError } from "./errors.js";
import { Meter, ratioCheck } from "./image-stream.js";
import { checkTarName, q } from "./image-rules.js";

export interface ModelLimits {
  /** The tarball as uploaded. */
  maxModelBytes: number;
  /** What it unpacks to, all files together. */
  maxModelUncompressedBytes: number;
  /** Files and folders. */
  maxEntries?: number;
  /** gzip expansion beyond which the tarball is a bomb. */
  maxCompressionRatio?: number;
}

const DEFAULT_MAX_ENTRIES = 100_000;
const DEFAULT_MAX_RATIO = 1000;
const REMAKE = "make it again from your model folder with `tar -czf model.tar.gz -C model .`";

export interface ExtractedModel {
  files: number;
  bytes: number;
}

/**
 * Checks `archivePath` (a tar, gzipped or not) and writes its files under `dest` (which must be empty),
 * readable by anyone (the run's user is not the runner's), folders 0755, files 0644 or 0755; with `dest`
 * null, only checks (the gateway, at upload). Throws InvalidSubmissionError naming the tarball, the entry
 * and the fix; `dest` is then the caller's to remove.
 */
export async function extractModelArchive(
  archivePath: string,
  dest: string | null,
  limits: ModelLimits,
): Promise<ExtractedModel> {
  const name = path.basename(archivePath);
  const refuse = (rule: string, entry: string | undefined, what: string, fix = REMAKE) =>
    new InvalidSubmissionError(
      rule,
      entry,
      `the model tarball ${q(name)}${entry === undefined ? "" : ` at ${q(entry)}`}: ${what}; ${fix}`,
    );
  const size = (await stat(archivePath)).size;
  if (size > limits.maxModelBytes)
    throw refuse(
      "model_too_large",
      undefined,
      `it is ${formatBytes(size)}, over the competition's ${formatBytes(limits.maxModelBytes)}`,
      "make it smaller (keep only what inference loads)",
    );
  const first = await readStart(archivePath);
  const gzipped = first[0] === 0x1f && first[1] === 0x8b;
  const maxRatio = limits.maxCompressionRatio ?? DEFAULT_MAX_RATIO;
  const maxEntries = limits.maxEntries ?? DEFAULT_MAX_ENTRIES;

  if (dest !== null) await chmod(dest, 0o755);
  const extract = tar.extract();
  let bytes = 0;
  let files = 0;
  let entries = 0;
  // What the tarball holds so far, so that a file never lands where a folder is or the other way round.
  const fileKeys = new Set<string>();
  const folderKeys = new Set<string>();
  const clash = (entry: string) =>
    refuse("duplicate_entry", entry, "a file and a folder of the tarball share this name");
  const addFolders = (segments: string[], entry: string) => {
    for (let i = 1; i <= segments.length; i++) {
      const key = segments.slice(0, i).join("/");
      if (fileKeys.has(key)) throw clash(entry);
      folderKeys.add(key);
    }
  };
  const consumed = new Meter();
  extract.on("entry", (header, stream, next) => {
    void (async () => {
      const entry = header.name;
      entries++;
      if (entries > maxEntries)
        throw refuse("too_many_entries", entry, `it has more than ${maxEntries} files and folders`);
      const checked = checkTarName(entry);
      if (!("segments" in checked)) throw refuse(checked.rule, entry, checked.what);
      const { segments } = checked;
      if (header.type === "directory") {
        addFolders(segments, entry);
        if (dest !== null && segments.length > 0)
          await mkdir(path.join(dest, ...segments), { recursive: true, mode: 0o755 });
        stream.resume();
        return;
      }
      if (header.type !== "file" && header.type !== "contiguous-file")
        throw refuse(
          "unsupported_entry",
          entry,
          `it is a ${header.type ?? "special entry"}; only files and folders can be in a model`,
          "replace links with the files they point to (tar -h) and remake it",
        );
      const key = segments.join("/");
      if (fileKeys.has(key)) throw refuse("duplicate_entry", entry, "the same file is in the tarball twice");
      if (folderKeys.has(key)) throw clash(entry);
      addFolders(segments.slice(0, -1), entry);
      fileKeys.add(key);
      files++;
      const target = dest === null ? null : path.join(dest, ...segments);
      if (target !== null) await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
      // wx: never through anything already there (a folder's name reused, or a link).
      const handle =
        target === null ? null : await open(target, "wx", (header.mode ?? 0) & 0o111 ? 0o755 : 0o644);
      const meter = new Meter((total) => {
        const all = bytes + total;
        if (all > limits.maxModelUncompressedBytes)
          throw refuse(
            "model_too_large",
            entry,
            `it unpacks to over ${formatBytes(limits.maxModelUncompressedBytes)}`,
            "make it smaller (keep only what inference loads)",
          );
        if (gzipped && ratioCheck(all, consumed.bytes, maxRatio))
          throw refuse("compression_bomb", entry, `it expands more than ${maxRatio} times`);
      });
      try {
        await pipeline(stream, meter, handle === null ? discard() : handle.createWriteStream());
      } finally {
        await handle?.close().catch(() => undefined);
      }
      bytes += meter.bytes;
    })().then(
      () => next(),
      (error: unknown) => next(error as Error),
    );
  });
  try {
    await pipeline([createReadStream(archivePath), consumed, ...(gzipped ? [createGunzip()] : []), extract]);
  } catch (error) {
    if (error instanceof InvalidSubmissionError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (error instanceof Error && (code === undefined || code.startsWith("Z_")))
      throw refuse("corrupt_archive", undefined, `it is not a readable tar or tar.gz (${error.message})`);
    throw error;
  }
  if (entries === 0) throw refuse("empty_archive", undefined, "it holds no files");
  return { files, bytes };
}

async function readStart(file: string): Promise<Buffer> {
  const handle = await open(file, "r");
  try {
    const buffer = Buffer.alloc(2);
    const { bytesRead } = await handle.read(buffer, 0, 2, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Where a checked-only tarball's bytes go. */
const discard = (): Writable => new Writable({ write: (_chunk, _encoding, done) => done() });
