import { constants, createReadStream, createWriteStream } from "node:fs";
import { isUtf8 } from "node:buffer";
import { mkdir, open, readdir } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { extract as tarExtract } from "tar-stream";

export interface OutputCaps {
  maxBytes: number;
  maxFiles: number;
}

export interface CollectedOutput {
  /** Regular files copied out, relative to the output directory. */
  files: { path: string; bytes: number }[];
  totalBytes: number;
  /** Entries seen, files and folders alike (what counts against the file cap). */
  entries: number;
  /** Links, devices, fifos: never followed nor copied, only named. */
  skipped: { path: string; type: string }[];
  /** The caps were reached: counted past them, nothing beyond them copied. */
  overCaps: boolean;
}

/**
 * Copies what a run left in its output folder into `destDir`: regular files and folders only. Nothing the
 * program wrote can make us write outside `destDir`: names are checked, links are never followed or
 * created, files are opened exclusively. The two sources below feed it.
 */
class OutputCopy {
  readonly result: CollectedOutput = { files: [], totalBytes: 0, entries: 0, skipped: [], overCaps: false };

  constructor(
    private readonly destDir: string,
    private readonly caps: OutputCaps,
  ) {}

  /** Counts the entry; false when it must not be copied (unsafe name, or past the caps). */
  private admit(relative: string, bytes: number): boolean {
    this.result.entries++;
    const unsafe = nameProblem(relative);
    if (unsafe) {
      this.result.skipped.push({ path: relative, type: unsafe });
      return false;
    }
    if (this.result.entries > this.caps.maxFiles || this.result.totalBytes + bytes > this.caps.maxBytes) {
      this.result.overCaps = true;
      this.result.totalBytes += bytes;
      return false;
    }
    return true;
  }

  async directory(relative: string): Promise<void> {
    if (this.admit(relative, 0))
      await mkdir(path.join(this.destDir, relative), { recursive: true, mode: 0o755 });
  }

  /** Copies the file when admitted; false when it was not (its content is then the caller's to drop). */
  async file(relative: string, bytes: number, content: () => Readable): Promise<boolean> {
    if (!this.admit(relative, bytes)) return false;
    const target = path.join(this.destDir, relative);
    await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
    await pipeline(content(), createWriteStream(target, { flags: "wx", mode: 0o644 }));
    this.result.files.push({ path: relative, bytes });
    this.result.totalBytes += bytes;
    return true;
  }

  other(relative: string, type: string): void {
    this.result.entries++;
    this.result.skipped.push({ path: relative, type });
  }
}

/** From a tar stream of the output folder, as the engine archives it (`archiveRoot/` prefixed). */
export async function collectOutputFromArchive(
  archive: NodeJS.ReadableStream,
  archiveRoot: string,
  destDir: string,
  caps: OutputCaps,
): Promise<CollectedOutput> {
  await mkdir(destDir, { recursive: true });
  const copy = new OutputCopy(destDir, caps);
  const prefix = archiveRoot.replace(/\/+$/, "") + "/";
  const extract = tarExtract();
  extract.on("entry", (header, body, next) => {
    const relative = header.name.startsWith(prefix)
      ? header.name.slice(prefix.length).replace(/\/+$/, "")
      : "";
    const handle = async (): Promise<boolean> => {
      if (relative === "") return false;
      if (header.type === "directory") {
        await copy.directory(relative);
        return false;
      }
      if (header.type === "file" || header.type === "contiguous-file") {
        return copy.file(relative, header.size ?? 0, () => body as unknown as Readable);
      }
      copy.other(
        relative,
        header.type === "symlink" ? "a symlink" : `a special file (${header.type ?? "unknown"})`,
      );
      return false;
    };
    handle().then(
      (consumed) => {
        if (!consumed) body.resume();
        next();
      },
      (error: Error) => next(error),
    );
  });
  await pipeline(archive, extract);
  return copy.result;
}

/**
 * From the output volume's folder on this host (where proctor runs beside the engine and may read it):
 * the same copy without the engine's archive round trip. Entries are never followed: lstat-typed by
 * readdir, files opened with O_NOFOLLOW.
 */
export async function collectOutputFromFolder(
  sourceDir: string,
  destDir: string,
  caps: OutputCaps,
): Promise<CollectedOutput> {
  await mkdir(destDir, { recursive: true });
  const copy = new OutputCopy(destDir, caps);
  const walk = async (relativeDir: string): Promise<void> => {
    const entries = await readdir(path.join(sourceDir, relativeDir), {
      withFileTypes: true,
      encoding: "buffer",
    });
    entries.sort((a, b) => Buffer.compare(a.name, b.name));
    for (const entry of entries) {
      // A name that is not UTF-8 cannot be named safely anywhere downstream: counted and reported only.
      const name = entry.name.toString("utf8");
      const relative = relativeDir ? `${relativeDir}/${name}` : name;
      if (!isUtf8(entry.name)) {
        copy.other(relative, NOT_UTF8);
        continue;
      }
      try {
        if (entry.isDirectory()) {
          await copy.directory(relative);
          await walk(relative);
        } else if (entry.isFile()) {
          const handle = await open(
            path.join(sourceDir, relative),
            constants.O_RDONLY | constants.O_NOFOLLOW,
          );
          const { size } = await handle.stat();
          const copied = await copy.file(relative, size, () => createReadStream("", { fd: handle }));
          if (!copied) await handle.close();
        } else {
          copy.other(relative, entry.isSymbolicLink() ? "a symlink" : "a special file");
        }
      } catch (error) {
        // What the program made unreadable or unnameable here is its own doing, never the platform's.
        const code = (error as NodeJS.ErrnoException).code ?? "";
        if (!PROGRAM_CAUSED.has(code)) throw error;
        copy.other(relative, `unreadable (${code})`);
      }
    }
  };
  await walk("");
  return copy.result;
}

const NOT_UTF8 = "a name that is not valid UTF-8";

/** Errors on one entry that only the program's own files can cause (modes, names, link games). */
const PROGRAM_CAUSED = new Set([
  "EACCES",
  "EPERM",
  "ELOOP",
  "ENAMETOOLONG",
  "ENOENT",
  "ENOTDIR",
  "EISDIR",
  "EILSEQ",
]);

/** Why a name must not be copied, or null. U+FFFD is how a decoder marks bytes that were not UTF-8. */
function nameProblem(name: string): string | null {
  if (name.includes("\uFFFD")) return NOT_UTF8;
  if (name.includes("\0") || name.includes("\\") || path.posix.isAbsolute(name)) return "an unsafe name";
  if (!name.split("/").every((part) => part !== "" && part !== "." && part !== "..")) return "an unsafe name";
  return null;
}
