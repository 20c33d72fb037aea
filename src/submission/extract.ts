import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  mkdirSync,
  openSync,
  promises as fsp,
  statSync,
  write,
  writeSync,
} from "node:fs";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { setImmediate } from "node:timers/promises";
import { crc32 } from "node:zlib";
import yauzl from "yauzl";
import { InvalidSubmissionError } from "./errors.js";
import { RawInflater } from "./inflate.js";
import { withHash, type SubmissionSummary } from "./inspect.js";
import { resolveLimits, type ZipLimits } from "./limits.js";
import { crcMismatch, refusalForReadError, type PlannedFile } from "./rules.js";
import { openArchive, readPlan, type OpenArchive } from "./zip.js";

export interface ExtractedSubmission extends SubmissionSummary {
  /** Absolute folder that holds main.*: destDir, or destDir/<single top folder>. */
  root: string;
}

/** Piece size for reading raw entry data and for inflating. */
const CHUNK = 256 * 1024;
/** The synchronous writer gives the event loop a turn (hashing, timers) after this many bytes or files. */
const TURN_BYTES = 4 * 1024 * 1024;
const TURN_FILES = 64;
/** Read streams in flight at once on the portable path. */
const STREAMS = 4;
const FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const DIR_MODE = 0o755;

/**
 * Checks the zip (every rule of inspectSubmission) and extracts it into destDir, which must be empty or
 * absent. Files get mode 0o644 (0o755 when the zip marks them owner-executable), folders 0o755, so any
 * user can read them; nothing is written through an existing path. Sizes are enforced again on the bytes
 * actually produced, and CRCs verified. On any refusal or failure, everything written is removed (destDir
 * too, if this call created it) and the error rethrown: InvalidSubmissionError for a zip refused.
 */
export async function extractSubmission(
  zipPath: string,
  destDir: string,
  limits?: Partial<ZipLimits>,
): Promise<ExtractedSubmission> {
  return extractWith(zipPath, destDir, limits, {});
}

export interface ExtractOptions {
  /** Use yauzl's read streams even where the faster synchronous inflater is available (tests, benchmark). */
  portable?: boolean;
}

/** extractSubmission, with the choice of writer exposed for tests. */
export async function extractWith(
  zipPath: string,
  destDir: string,
  limits: Partial<ZipLimits> | undefined,
  options: ExtractOptions,
): Promise<ExtractedSubmission> {
  const resolved = resolveLimits(limits);
  const dest = resolve(destDir);
  const created = await prepareDestination(dest);
  let archive: OpenArchive | undefined;
  try {
    const opened = (archive = await openArchive(zipPath, resolved));
    const { result: plan, sha256 } = await withHash(opened, async () => {
      const plan = await readPlan(opened);
      const inflater = options.portable ? undefined : RawInflater.create();
      const writer =
        inflater === undefined ? new StreamWriter(opened, dest) : new SyncWriter(opened, dest, inflater);
      writer.createDirs(plan.dirs);
      await writer.writeAll(plan.files);
      return plan;
    });
    return {
      sha256,
      zipBytes: opened.zipBytes,
      root: plan.rootPrefix === "" ? dest : join(dest, plan.rootPrefix.slice(0, -1)),
      entrypoint: plan.entrypoint,
      files: plan.files.length,
      totalBytes: plan.totalBytes,
    };
  } catch (error) {
    await removeWritten(dest, created);
    throw error;
  } finally {
    archive?.close();
  }
}

const notAFolder = (dest: string): Error =>
  new Error(
    `destination ${JSON.stringify(dest)} exists and is not a folder: extract into a new or empty folder`,
  );

/**
 * Makes sure dest is an empty folder. Returns the topmost folder this call created (to remove on
 * failure), or undefined when dest already existed.
 */
async function prepareDestination(dest: string): Promise<string | undefined> {
  const created = await fsp
    .mkdir(dest, { recursive: true, mode: DIR_MODE })
    .catch((error: NodeJS.ErrnoException) => {
      throw error.code === "EEXIST" || error.code === "ENOTDIR" ? notAFolder(dest) : error;
    });
  if (created !== undefined) {
    await fsp.chmod(dest, DIR_MODE);
    return created;
  }
  if (!(await fsp.stat(dest)).isDirectory()) throw notAFolder(dest);
  const present = await fsp.readdir(dest);
  if (present.length > 0) {
    throw new Error(
      `destination ${JSON.stringify(dest)} is not empty (it holds ${JSON.stringify(present[0])}` +
        `${present.length > 1 ? ` and ${present.length - 1} more` : ""}): extract into a new or empty folder`,
    );
  }
  return undefined;
}

async function removeWritten(dest: string, created: string | undefined): Promise<void> {
  if (created !== undefined) {
    await fsp.rm(created, { recursive: true, force: true });
    return;
  }
  // dest was empty before: everything in it is ours. rm never follows links.
  const present = await fsp.readdir(dest).catch(() => []);
  await Promise.all(present.map((name) => fsp.rm(join(dest, name), { recursive: true, force: true })));
}

/** EEXIST on a fresh tree: only a filesystem that folds case or Unicode forms gets here. */
function clash(error: unknown, entry: string): unknown {
  if ((error as NodeJS.ErrnoException).code !== "EEXIST") return error;
  return new InvalidSubmissionError(
    "duplicate_entry",
    entry,
    `entry ${JSON.stringify(entry)} clashes with another entry on this filesystem (names that differ ` +
      `only in case or Unicode form): rename one of them`,
  );
}

/** The yauzl entry that reading a planned file takes (the fields yauzl's readers look at). */
function entryOf(file: PlannedFile): yauzl.Entry {
  return Object.assign(new yauzl.Entry(), {
    fileName: file.path,
    compressedSize: file.compressedSize,
    uncompressedSize: file.size,
    compressionMethod: file.compressionMethod,
    generalPurposeBitFlag: file.generalPurposeBitFlag,
    relativeOffsetOfLocalHeader: file.relativeOffsetOfLocalHeader,
    crc32: file.crc32,
  });
}

const tooMany = (file: PlannedFile): Error =>
  new Error(`too many bytes in the stream. expected ${file.size}`);
const tooFew = (file: PlannedFile, got: number): Error =>
  new Error(`not enough bytes in the stream. expected ${file.size}. got only ${got}`);

/** What both writers share: creating files, and checking what was produced. */
abstract class Writer {
  /** Per mode asked for: whether the umask takes bits away from it, so a chmod must follow. */
  private readonly umaskClearsByMode = new Map<number, boolean>();

  constructor(
    protected readonly archive: OpenArchive,
    protected readonly dest: string,
  ) {}

  abstract writeAll(files: PlannedFile[]): Promise<void>;

  /** Creates the folders, parents first, each new (mkdir fails on anything already there, links included). */
  createDirs(dirs: string[]): void {
    for (const dir of dirs) {
      const path = join(this.dest, dir);
      try {
        mkdirSync(path, DIR_MODE);
      } catch (error) {
        throw clash(error, `${dir}/`);
      }
      if (this.umaskClears(DIR_MODE, () => statSync(path).mode)) chmodSync(path, DIR_MODE);
    }
  }

  /** Whether the umask takes bits away from `mode`, learnt from the first thing created with it. */
  private umaskClears(mode: number, modeOfNew: () => number): boolean {
    let clears = this.umaskClearsByMode.get(mode);
    if (clears === undefined) {
      clears = (modeOfNew() & 0o7777) !== mode;
      this.umaskClearsByMode.set(mode, clears);
    }
    return clears;
  }

  /**
   * Creates the file, failing if anything exists at its path (O_EXCL; a final symlink is not followed),
   * with exactly the mode planned: the first file of each mode shows whether the umask takes bits away.
   */
  protected create(file: PlannedFile): number {
    let fd: number;
    try {
      fd = openSync(join(this.dest, file.path), FILE_FLAGS, file.mode);
    } catch (error) {
      throw clash(error, file.path);
    }
    try {
      if (this.umaskClears(file.mode, () => fstatSync(fd).mode)) fchmodSync(fd, file.mode);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    return fd;
  }

  /** Turns a failure into the refusal it is, naming the entry. */
  protected refusal(error: unknown, file: PlannedFile): unknown {
    return refusalForReadError(error, this.archive.zipName, file.path) ?? error;
  }

  /** Counts, caps and checksums the bytes of one file as they are produced. */
  protected tally(file: PlannedFile): { take(bytes: Buffer): void; finish(): void } {
    const meter = this.archive.rules.meter(file.path);
    let produced = 0;
    let crc = 0;
    return {
      take: (bytes) => {
        produced += bytes.length;
        if (produced > file.size) throw tooMany(file);
        meter(bytes.length);
        crc = crc32(bytes, crc);
      },
      finish: () => {
        if (produced !== file.size) throw tooFew(file, produced);
        if (crc >>> 0 !== file.crc32 >>> 0) throw crcMismatch(this.archive.zipName, file.path);
      },
    };
  }
}

function writeFully(fd: number, bytes: Buffer): void {
  for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written);
}

/**
 * One file after the other, read, inflated and written synchronously through two recycled buffers: no
 * thread-pool round trip per step (each costs more than the step for a small file), and no garbage per
 * entry, so memory stays flat whatever the zip. The event loop gets a turn every few MB or files.
 */
class SyncWriter extends Writer {
  private readonly input = Buffer.allocUnsafe(CHUNK);
  private readonly output = Buffer.allocUnsafe(CHUNK);
  private bytesThisTurn = 0;
  private filesThisTurn = 0;

  constructor(
    archive: OpenArchive,
    dest: string,
    private readonly inflater: RawInflater,
  ) {
    super(archive, dest);
  }

  async writeAll(files: PlannedFile[]): Promise<void> {
    for (const file of files) {
      try {
        await this.writeFile(file);
      } catch (error) {
        throw this.refusal(error, file);
      }
      if (++this.filesThisTurn >= TURN_FILES) await this.turn();
    }
  }

  private async turn(): Promise<void> {
    this.bytesThisTurn = 0;
    this.filesThisTurn = 0;
    await setImmediate();
  }

  private async writeFile(file: PlannedFile): Promise<void> {
    const { reader, zipfile } = this.archive;
    const { input, output, inflater } = this;
    // yauzl reads and checks the local header (signature, data within the file).
    const { fileDataStart } = await zipfile.readLocalFileHeaderPromise(entryOf(file), { minimal: true });
    const tally = this.tally(file);
    const fd = this.create(file);
    try {
      let offset = 0;
      const readRaw = (): number => {
        const length = Math.min(CHUNK, file.compressedSize - offset);
        if (reader.readAt(input, 0, length, fileDataStart + offset) !== length)
          throw new Error("unexpected EOF");
        offset += length;
        return length;
      };
      const put = async (bytes: Buffer): Promise<void> => {
        tally.take(bytes);
        writeFully(fd, bytes);
        if ((this.bytesThisTurn += bytes.length) >= TURN_BYTES) await this.turn();
      };
      if (file.compressionMethod === 0) {
        while (offset < file.compressedSize) await put(input.subarray(0, readRaw()));
      } else {
        inflater.reset();
        let inOffset = 0;
        let inLength = 0;
        for (;;) {
          if (inLength === 0 && offset < file.compressedSize) {
            inLength = readRaw();
            inOffset = 0;
          }
          const { consumed, produced } = inflater.write(input, inOffset, inLength, output);
          inOffset += consumed;
          inLength -= consumed;
          if (produced > 0) await put(output.subarray(0, produced));
          // A full output buffer may hide more output; otherwise zlib took all the input it could.
          if (produced === output.length) continue;
          // Input left over with room to spare: the deflate stream has ended (trailing bytes are ignored).
          if (inLength > 0) break;
          if (offset < file.compressedSize) continue;
          break;
        }
      }
      tally.finish();
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * The portable path, on public APIs only: yauzl's read streams (which check each entry's size as it
 * inflates), a few files at a time, writes gathered into batches. Used where RawInflater is unavailable.
 */
class StreamWriter extends Writer {
  private readonly abort = new AbortController();

  async writeAll(files: PlannedFile[]): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!this.abort.signal.aborted && next < files.length) {
        const file = files[next++]!;
        try {
          await this.writeFile(file);
        } catch (caught) {
          const error = this.refusal(caught, file);
          if (!this.abort.signal.aborted) this.abort.abort(error);
          throw error;
        }
      }
    };
    const results = await Promise.allSettled(Array.from({ length: Math.min(STREAMS, files.length) }, worker));
    if (this.abort.signal.aborted) throw this.abort.signal.reason;
    for (const result of results) if (result.status === "rejected") throw result.reason;
  }

  private async writeFile(file: PlannedFile): Promise<void> {
    const signal = this.abort.signal;
    const tally = this.tally(file);
    const fd = this.create(file);
    let stream: Readable | undefined;
    try {
      stream = await this.archive.zipfile.openReadStreamPromise(entryOf(file));
      // yauzl emits zlib's errors on the stream it handed out, possibly before or after iteration listens:
      // turn each into a destroy, which iteration always sees, and which swallows any later repeat.
      const reading = stream;
      reading.on("error", (error) => reading.destroy(error));
      let batch: Buffer[] = [];
      let batchBytes = 0;
      const flush = async (): Promise<void> => {
        const bytes = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes);
        batch = [];
        batchBytes = 0;
        for (let written = 0; written < bytes.length;) written += await writeAsync(fd, bytes, written);
      };
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (signal.aborted) throw signal.reason;
        tally.take(chunk);
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes >= CHUNK) await flush();
      }
      if (batchBytes > 0) await flush();
      tally.finish();
    } catch (error) {
      stream?.destroy();
      throw error;
    } finally {
      closeSync(fd);
    }
  }
}

function writeAsync(fd: number, bytes: Buffer, offset: number): Promise<number> {
  return new Promise((resolve, reject) =>
    write(fd, bytes, offset, bytes.length - offset, null, (error, written) =>
      error ? reject(error) : resolve(written),
    ),
  );
}
