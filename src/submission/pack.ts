import { createWriteStream } from "node:fs";
import { lstat, readdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { ZipFile } from "yazl";

/** Folders and files that never belong in a submission: caches, VCS, editor and OS litter. */
const EXCLUDED_DIRS = new Set([
  ".git",
  ".hg",
  ".svn",
  "__pycache__",
  ".ipynb_checkpoints",
  ".pytest_cache",
  ".mypy_cache",
  ".venv",
  "node_modules",
  "__MACOSX",
]);
const EXCLUDED_FILES = [/\.py[co]$/, /^\.DS_Store$/, /^Thumbs\.db$/, /~$/, /\.swp$/];

/** Every entry gets this time, so the same files always give the same zip (and the same sha256). */
const FIXED_TIME = new Date(Date.UTC(1980, 0, 1, 0, 0, 0));

export interface PackResult {
  zipPath: string;
  files: string[];
  skipped: string[];
}

export class PackError extends Error {
  override name = "PackError";
}

/**
 * Zips a submission folder reproducibly: entries sorted, fixed timestamps and modes, caches and VCS folders
 * left out, symlinks refused (the platform refuses them too). Writes to a temporary name and renames, so a
 * failed pack never leaves half a zip where a good one was expected.
 */
export async function packSubmission(sourceDir: string, zipPath: string): Promise<PackResult> {
  const root = path.resolve(sourceDir);
  const files: string[] = [];
  const skipped: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    const entries = await readdir(path.join(root, relative), { withFileTypes: true });
    for (const entry of entries) {
      const name = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (EXCLUDED_DIRS.has(entry.name)) skipped.push(`${name}/`);
        else await walk(name);
      } else if (entry.isSymbolicLink()) {
        throw new PackError(
          `${path.join(root, name)} is a symbolic link; the platform refuses links in submissions. Copy the file in instead.`,
        );
      } else if (!entry.isFile()) {
        skipped.push(name);
      } else if (EXCLUDED_FILES.some((pattern) => pattern.test(entry.name))) {
        skipped.push(name);
      } else {
        files.push(name);
      }
    }
  };
  await walk("");
  files.sort();
  if (!files.includes("main.py") && !files.includes("main.sh")) {
    throw new PackError(
      `${root} has no main.py or main.sh at its top; the platform runs one of them. Add it, or pack the folder that holds it.`,
    );
  }

  const zip = new ZipFile();
  for (const name of files) {
    const stat = await lstat(path.join(root, name));
    const mode = stat.mode & 0o100 ? 0o100755 : 0o100644;
    zip.addFile(path.join(root, name), name, { mtime: FIXED_TIME, mode, compress: true });
  }
  zip.end();
  const partial = `${zipPath}.partial-${process.pid}`;
  try {
    await pipeline(zip.outputStream, createWriteStream(partial, { flags: "wx" }));
    await rename(partial, zipPath);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return { zipPath, files, skipped };
}
