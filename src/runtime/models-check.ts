/**
 * The models check a PR goes through: every file of models.yml fetched (into a cache named by checksum, so
 * a file is downloaded once), its size and sha256 compared with what models.yml pins, and its first bytes
 * compared with its format (a pickle renamed .safetensors or an object array in a .npy is refused). Whose
 * fault: a wrong checksum, size or format is the PR's (ModelsCheckError); a source that cannot be reached
 * is the network's (ModelsFetchError), never a verdict on the PR.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import yauzl from "yauzl";
import type { PathIssue } from "../yaml/index.js";
import { locatedError, type ModelFile, type ModelsManifest } from "./models.js";

/** Wrong checksum, size or format: the change to models.yml (or its source) must be fixed. */
export class ModelsCheckError extends Error {
  override name = "ModelsCheckError";
}
/** A source that could not be reached (network, 5xx): retry; says nothing about the files. */
export class ModelsFetchError extends Error {
  override name = "ModelsFetchError";
}

export interface CheckedFile {
  file: ModelFile;
  /** The verified copy in the cache. */
  cached: string;
  /** Whether it was fetched now (false: the cache had it). */
  fetched: boolean;
}

/**
 * Fetches and verifies every file; throws ModelsCheckError listing every wrong file (each at its line of
 * models.yml), or ModelsFetchError for the first source that could not be reached.
 */
export async function checkModels(
  manifest: ModelsManifest,
  cacheDir: string,
  onLine: (line: string) => void = () => undefined,
): Promise<CheckedFile[]> {
  await mkdir(cacheDir, { recursive: true });
  const checked: CheckedFile[] = [];
  const issues: PathIssue[] = [];
  for (const file of manifest.files) {
    const result = await checkFile(file, cacheDir);
    if ("problem" in result) {
      // A file's url is optional: a problem with its source belongs to its path.
      const key = result.key === "url" ? "path" : result.key;
      issues.push({ path: [...file.key, key], rule: result.rule, message: result.problem });
      onLine(`FAIL ${result.problem}`);
    } else {
      checked.push(result);
      onLine(`ok   ${file.target} (${file.format}, ${file.size} bytes${result.fetched ? "" : ", cached"})`);
    }
  }
  if (issues.length > 0) {
    const text = await readFile(manifest.file, "utf8");
    throw new ModelsCheckError(locatedError(text, manifest.file, issues).message);
  }
  return checked;
}

type Problem = { problem: string; rule: string; key: "sha256" | "size" | "path" | "url" };

async function checkFile(file: ModelFile, cacheDir: string): Promise<CheckedFile | Problem> {
  const cached = path.join(cacheDir, file.sha256);
  let fetched = false;
  // In the cache only once verified, under its checksum: a copy of the pinned size is that file.
  const copy = await stat(cached).catch(() => null);
  if (!copy?.isFile() || copy.size !== file.size) {
    const got = await download(file, cached);
    if ("problem" in got) return got;
    fetched = true;
  }
  const format = await formatProblem(cached, file.format);
  if (format) return { problem: `${file.target}: ${format}`, rule: "format", key: "path" };
  return { file, cached, fetched };
}

/** Downloads into `dest` (renamed there only once size and checksum agree with models.yml). */
async function download(file: ModelFile, dest: string): Promise<{ ok: true } | Problem> {
  const partial = `${dest}.${process.pid}.part`;
  try {
    const source = await openSource(file);
    if ("problem" in source) return source;
    const hash = createHash("sha256");
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        // Never more than one byte past the pinned size: enough to know it is wrong.
        if (bytes > file.size + 1) return done(new SizeExceeded());
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(source.stream, counter, createWriteStream(partial));
    } catch (error) {
      if (!(error instanceof SizeExceeded)) throw error;
    }
    if (bytes !== file.size)
      return {
        problem: `${file.target}: size is ${file.size} bytes in models.yml, but ${file.url} has ${bytes > file.size ? "more" : bytes}; fix size (and sha256) or the source`,
        rule: "size",
        key: "size",
      };
    const digest = hash.digest("hex");
    if (digest !== file.sha256)
      return {
        problem: `${file.target}: sha256 differs: models.yml pins ${file.sha256}, the file from ${file.url} has ${digest}; fix sha256 (sha256sum the file you meant) or the source`,
        rule: "checksum",
        key: "sha256",
      };
    await rename(partial, dest);
    return { ok: true };
  } finally {
    await rm(partial, { force: true });
  }
}

class SizeExceeded extends Error {}

async function openSource(file: ModelFile): Promise<{ stream: Readable } | Problem> {
  const url = new URL(file.url);
  if (url.protocol === "file:") {
    const local = fileURLToPath(url);
    if (!(await stat(local).catch(() => null))?.isFile())
      return {
        problem: `${file.target}: ${file.url} is not a file; fix the source or the path`,
        rule: "source",
        key: "url",
      };
    return { stream: createReadStream(local) };
  }
  let response: Response;
  try {
    response = await fetch(url, { redirect: "follow" });
  } catch (error) {
    throw new ModelsFetchError(
      `fetching ${file.url} failed (${(error as Error).message}); check the network and run the check again`,
    );
  }
  if (response.status === 404 || response.status === 401 || response.status === 403)
    return {
      problem: `${file.target}: ${file.url} answered ${response.status}; fix the source (a public file at that revision)`,
      rule: "source",
      key: "url",
    };
  if (!response.ok || !response.body)
    throw new ModelsFetchError(
      `fetching ${file.url} failed: HTTP ${response.status}; run the check again later`,
    );
  return { stream: Readable.fromWeb(response.body as import("node:stream/web").ReadableStream) };
}

/** What is wrong with the file's first bytes for its format; null when they agree (or it has no magic). */
export async function formatProblem(file: string, format: string): Promise<string | null> {
  switch (format) {
    case "safetensors":
      return safetensorsProblem(await head(file, 8 + 1024 * 1024), (await stat(file)).size);
    case "gguf":
      return (await head(file, 4)).toString("latin1") === "GGUF" ? null : "is not GGUF (no GGUF magic)";
    case "npy":
      return npyProblem(await head(file, 64 * 1024));
    case "npz":
      return npzProblem(file);
    default:
      return null;
  }
}

async function head(file: string, bytes: number): Promise<Buffer> {
  const handle = await open(file);
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** safetensors: an 8-byte little-endian header length, then that many bytes of JSON (a mapping). */
function safetensorsProblem(bytes: Buffer, size: number): string | null {
  if (bytes.length < 8) return "is not safetensors (shorter than its header)";
  const length = Number(bytes.readBigUInt64LE(0));
  if (length < 2 || 8 + length > size || 8 + length > bytes.length)
    return "is not safetensors (its header length does not fit the file)";
  try {
    const header: unknown = JSON.parse(bytes.subarray(8, 8 + length).toString("utf8"));
    if (header && typeof header === "object" && !Array.isArray(header)) return null;
  } catch {
    // falls through
  }
  return "is not safetensors (its header is not a JSON mapping)";
}

const NPY_MAGIC = Buffer.from("\x93NUMPY", "latin1");
/** A dtype that is Python objects (`|O`, also inside a structured dtype): numpy pickles those. */
const OBJECT_DTYPE = /['"][|<>=]?O\d*['"]/;

/** .npy: its magic, and a dtype that is not Python objects (which numpy stores, and loads, as a pickle). */
export function npyProblem(bytes: Buffer): string | null {
  if (bytes.length < 10 || !bytes.subarray(0, 6).equals(NPY_MAGIC))
    return "is not a .npy array (no NUMPY magic)";
  const major = bytes[6]!;
  const length = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = bytes.subarray(start, start + length).toString("latin1");
  if (!/'descr'\s*:/.test(header)) return "is not a .npy array (its header has no descr)";
  return OBJECT_DTYPE.test(header)
    ? "holds an object array, which numpy stores as a pickle (loading it can run code); save plain numeric arrays"
    : null;
}

/** .npz: a zip of .npy members, each checked as above (their headers only are decompressed). */
async function npzProblem(file: string): Promise<string | null> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: true }, (error, opened) =>
      error ? reject(error) : resolve(opened),
    ),
  ).catch(() => null);
  if (!zip) return "is not a .npz archive (not a zip)";
  return new Promise((resolve) => {
    const done = (problem: string | null) => {
      zip.close();
      resolve(problem);
    };
    zip.on("error", () => done("is not a .npz archive (a broken zip)"));
    zip.on("end", () => resolve(null));
    zip.on("entry", (entry: yauzl.Entry) => {
      if (!entry.fileName.endsWith(".npy")) return done(`has ${entry.fileName}, not a .npy member`);
      zip.openReadStream(entry, (error, stream) => {
        if (error) return done(`has ${entry.fileName}, which cannot be read (${error.message})`);
        const chunks: Buffer[] = [];
        let got = 0;
        stream.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          got += chunk.length;
          if (got >= 64 * 1024) stream.destroy();
        });
        stream.on("error", () => undefined);
        stream.on("close", () => {
          const problem = npyProblem(Buffer.concat(chunks));
          if (problem) done(`has ${entry.fileName}, which ${problem}`);
          else zip.readEntry();
        });
      });
    });
    zip.readEntry();
  });
}
