/** Helpers shared by the submission tests: temp folders, honest zips (yazl) and raw zips on disk. */
import { createWriteStream, promises as fsp } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import yazl from "yazl";
import { zipBytes, type RawEntry } from "./zip-bytes.js";

export async function tempDir(prefix = "proctor-submission-"): Promise<string> {
  return fsp.mkdtemp(join(tmpdir(), prefix));
}

export type HonestEntry = string | Buffer | { data?: string | Buffer; mode?: number; dir?: boolean };

/** Writes an honest zip with yazl: names ending in "/" (or {dir: true}) become folders. */
export async function writeYazl(path: string, entries: Record<string, HonestEntry>): Promise<string> {
  const zip = new yazl.ZipFile();
  for (const [name, value] of Object.entries(entries)) {
    const spec = typeof value === "string" || Buffer.isBuffer(value) ? { data: value } : value;
    if (name.endsWith("/") || spec.dir) {
      zip.addEmptyDirectory(name, spec.mode === undefined ? {} : { mode: spec.mode });
      continue;
    }
    const data = typeof spec.data === "string" ? Buffer.from(spec.data) : (spec.data ?? Buffer.alloc(0));
    zip.addBuffer(data, name, spec.mode === undefined ? {} : { mode: spec.mode });
  }
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(path));
  return path;
}

/** Writes a raw zip (see zipBytes) to path. */
export async function writeRaw(path: string, entries: RawEntry[]): Promise<string> {
  await fsp.writeFile(path, zipBytes(entries));
  return path;
}

/** Whether a path exists (without following a final symlink). */
export async function exists(path: string): Promise<boolean> {
  return fsp.lstat(path).then(
    () => true,
    () => false,
  );
}
