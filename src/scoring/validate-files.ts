/**
 * Validation of a folder format's output: a folder of files, one per expected id, named by the format's
 * `files.name` ("{id}.tif"). The participant's program made every name and byte here, so nothing is
 * followed (links are reported, files opened with O_NOFOLLOW) and every name is shown escaped.
 *
 * Rules: only regular files, directly in the folder (no subfolders, links or hidden files); each name is
 * the pattern with an expected id; every expected id has its file; no file is empty or over `max_size`;
 * each file is of the format's type (TIFF, PNG and NumPy's .npy by their first bytes, JSON by parsing it).
 */
import { isUtf8 } from "node:buffer";
import { constants } from "node:fs";
import { open, readdir } from "node:fs/promises";
import path from "node:path";
import { ID_PLACEHOLDER } from "../contract/index.js";
import { cutText, formatBytes } from "../units/index.js";
import { ScoringError } from "./errors.js";
import type { FileType, FolderFormat, SubmissionFormat } from "./format.js";
import { IdIndex } from "./id-index.js";
import { ProblemCollector, type ValidationResult } from "./problems.js";

export interface FolderScanOptions {
  /** How the folder is named in the summary; default "the output folder". */
  displayName?: string;
  /** Problems shown per rule (the rest are counted); default 5. */
  maxShownPerRule?: number;
}

/** The first bytes each type starts with (TIFF: little- or big-endian, classic or BigTIFF). */
const MAGIC: Record<Exclude<FileType, "json" | "any">, { name: string; starts: Buffer[]; fix: string }> = {
  tif: {
    name: "a TIFF image",
    starts: ["49492a00", "4d4d002a", "49492b00", "4d4d002b"].map((hex) => Buffer.from(hex, "hex")),
    fix: "write it as a TIFF (e.g. tifffile.imwrite or PIL's Image.save(..., format='TIFF'))",
  },
  png: {
    name: "a PNG image",
    starts: [Buffer.from("89504e470d0a1a0a", "hex")],
    fix: "write it as a PNG (e.g. PIL's Image.save(..., format='PNG'))",
  },
  npy: {
    name: "a NumPy .npy array",
    starts: [Buffer.from("\x93NUMPY", "latin1")],
    fix: "write it with numpy.save (not savez, pickle or tofile)",
  },
};
const MAGIC_BYTES = 8;
/** Files read at once. */
const READ_BATCH = 32;

/** A name as it may be shown anywhere: plain when it is harmless ASCII, else quoted with every odd character escaped. */
export function shownName(name: string): string {
  if (/^[\w.+=@,{}-]{1,100}$/.test(name)) return name;
  return JSON.stringify(cutText(name, 100)).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** A folder format's file name for an id. */
export function fileNameOf(files: Pick<FolderFormat, "name">, id: string): string {
  return files.name.replace(ID_PLACEHOLDER, id);
}

/**
 * Why an id cannot name a file of the folder, or null: the ground truth's ids become file names, so an id
 * with a / (a subfolder), a NUL, or that makes "." or ".." cannot be written by any program.
 */
export function idFileNameProblem(files: Pick<FolderFormat, "name">, id: string): string | null {
  if (id === "") return "is empty";
  if (/[/\\\0]/.test(id)) return "holds a /, \\ or NUL, which a file name cannot";
  const name = fileNameOf(files, id);
  if (name === "." || name === "..") return `makes the file name ${name}`;
  return null;
}

/**
 * Checks the folder a run left against the folder format and the expected ids. Never throws for a
 * participant's mistake (those become problems); throws for a folder that cannot be read at all.
 */
export async function validateOutputFolder(
  dir: string,
  format: SubmissionFormat,
  expectedIds: Iterable<string> | IdIndex,
  options: FolderScanOptions = {},
): Promise<ValidationResult> {
  const files = format.files;
  if (!files)
    throw new ScoringError(`the submission format ${format.source} is a table, not a folder of files`);
  const ids = expectedIds instanceof IdIndex ? expectedIds : IdIndex.from(expectedIds);
  const problems = new ProblemCollector(
    options.displayName ?? "the output folder",
    options.maxShownPerRule ?? 5,
  );
  const [prefix, suffix] = files.name.split(ID_PLACEHOLDER) as [string, string];
  const pattern = `one ${files.name} per id`;
  const seen = new Uint8Array(ids.size);
  let found = 0;
  const toRead: { name: string; file: string }[] = [];

  const entries = await readdir(dir, { withFileTypes: true, encoding: "buffer" });
  entries.sort((a, b) => Buffer.compare(a.name, b.name));
  for (const entry of entries) {
    const name = entry.name.toString("utf8");
    const file = shownName(name);
    if (!isUtf8(entry.name)) {
      problems.add("unexpected_file", () => ({
        file,
        line: null,
        column: null,
        message: "the name is not valid UTF-8, so it cannot be an id",
        fix: `write only ${pattern} of the test data`,
      }));
      continue;
    }
    if (!entry.isFile()) {
      const what = entry.isDirectory()
        ? "a folder"
        : entry.isSymbolicLink()
          ? "a symbolic link"
          : "a special file";
      problems.add("not_a_file", () => ({
        file,
        line: null,
        column: null,
        message: `is ${what}, not a regular file`,
        fix: `write ${pattern} directly in the output folder, as regular files: no folders or links`,
      }));
      continue;
    }
    const id =
      name.length > prefix.length + suffix.length && name.startsWith(prefix) && name.endsWith(suffix)
        ? name.slice(prefix.length, name.length - suffix.length)
        : undefined;
    const row = id === undefined ? undefined : ids.row(id);
    if (row === undefined) {
      const hidden = name.startsWith(".");
      problems.add(id === undefined ? "unexpected_file" : "extra_id", () => ({
        file,
        line: null,
        column: null,
        message:
          id === undefined
            ? `the name is not ${files.name}${hidden ? " (a hidden file: tools leave these, e.g. .ipynb_checkpoints)" : ""}`
            : `${shownName(id)} is not one of the expected ids`,
        fix: `write only ${pattern} of the test data${hidden ? "; remove hidden files" : ""}`,
      }));
      continue;
    }
    seen[row] = 1;
    found++;
    toRead.push({ name, file });
  }
  // Each file's bytes, a batch at a time (a file system answers many opens at once faster than in turn),
  // their problems added in name order.
  for (let i = 0; i < toRead.length; i += READ_BATCH) {
    const batch = toRead.slice(i, i + READ_BATCH);
    const checked = await Promise.all(batch.map(({ name }) => checkFile(path.join(dir, name), files)));
    checked.forEach((problem, k) => {
      if (problem)
        problems.add(problem.rule, () => ({
          file: batch[k]!.file,
          line: null,
          column: null,
          ...problem.said,
        }));
    });
  }

  problems.addMissingIds(seen, ids, (id) => ({
    file: shownName(fileNameOf(files, id)),
    line: null,
    column: null,
    message: `id ${shownName(id)} has no file`,
    fix: `write ${pattern} of the test data`,
  }));
  return problems.ok ? { ok: true, rows: found } : problems.failure();
}

type FileProblem = {
  rule: "empty_file" | "file_too_large" | "file_type";
  said: { message: string; fix: string };
};

/** Size, then type: an empty file, one over the cap, or one whose bytes are not of the format's type. */
async function checkFile(file: string, files: FolderFormat): Promise<FileProblem | null> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const { size } = await handle.stat();
    if (size === 0) {
      return {
        rule: "empty_file",
        said: { message: "the file is empty", fix: "write the prediction into it" },
      };
    }
    if (files.maxBytes !== null && size > files.maxBytes) {
      return {
        rule: "file_too_large",
        said: {
          message: `the file has ${formatBytes(size)}, over the cap of ${formatBytes(files.maxBytes)} per file`,
          fix: `write at most ${formatBytes(files.maxBytes)} per file (a smaller data type, or compression)`,
        },
      };
    }
    if (files.type === "any") return null;
    if (files.type === "json") {
      const text = await handle.readFile();
      const problem = jsonProblem(text);
      if (problem === null) return null;
      return {
        rule: "file_type",
        said: { message: problem, fix: "write one JSON value per file (json.dump), as UTF-8" },
      };
    }
    const magic = MAGIC[files.type];
    const head = Buffer.alloc(MAGIC_BYTES);
    const { bytesRead } = await handle.read(head, 0, MAGIC_BYTES, 0);
    const start = head.subarray(0, bytesRead);
    if (magic.starts.some((bytes) => start.subarray(0, bytes.length).equals(bytes))) return null;
    return {
      rule: "file_type",
      said: {
        message: `the file is not ${magic.name}: it starts with the bytes ${start.toString("hex").replace(/(..)(?!$)/g, "$1 ")}`,
        fix: magic.fix,
      },
    };
  } finally {
    await handle.close();
  }
}

/** Why the bytes are not JSON, or null; never quotes them (the engine's message may: it is not echoed). */
function jsonProblem(bytes: Buffer): string | null {
  if (!isUtf8(bytes)) return "the file is not UTF-8 text, so not JSON";
  try {
    JSON.parse(bytes.toString("utf8"));
    return null;
  } catch (error) {
    const message = (error as Error).message;
    const at = /position (\d+)/.exec(message)?.[1];
    const where = /end of JSON input/.test(message)
      ? ": it ends before the value does"
      : at !== undefined
        ? ` at character ${at}`
        : "";
    return `the file is not valid JSON${where}`;
  }
}
