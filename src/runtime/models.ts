/**
 * runtime/models.yml: the model files every zip run is given, read-only at /code_execution/models/<name>/.
 * Each file is pinned by its sha256 and size and comes from a source a PR names (a Hugging Face repository
 * at a commit, or an HTTPS folder; `file:` for tests and offline use). Model files sit in every
 * participant's sandbox, so only formats whose loading cannot run code are taken unless the organizer
 * allows others (`allow_formats`). This module reads and resolves the file; models-check.ts downloads and
 * verifies, models-image.ts packs the files into the models image.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { parseYaml, sizeField, YamlConfigError, type PathIssue } from "../yaml/index.js";
import { formatBytes, GiB } from "../units/index.js";

/** Formats whose loading runs no code, by file extension. */
export const SAFE_FORMATS: Record<string, readonly string[]> = {
  safetensors: ["safetensors"],
  onnx: ["onnx"],
  gguf: ["gguf"],
  npy: ["npy"],
  npz: ["npz"],
  json: ["json"],
  text: ["txt", "csv", "tsv", "md"],
};
/** Python pickles (torch's .pt/.bin included): loading one can run any code. */
export const PICKLE_EXTENSIONS = ["pkl", "pickle", "pt", "pth", "bin", "ckpt", "joblib"] as const;

const SAFE_EXTENSIONS = new Map(
  Object.entries(SAFE_FORMATS).flatMap(([format, exts]) => exts.map((ext) => [ext, format] as const)),
);
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** Relative, slash-separated, no `.`/`..` segments, no odd characters (it becomes a path in the image). */
const FILE_PATH = /^(?!.*(?:^|\/)\.{1,2}(?:\/|$))[A-Za-z0-9_.+-]+(?:\/[A-Za-z0-9_.+-]+)*$/;

const size = sizeField;

const fileSchema = z
  .object({
    path: z
      .string()
      .regex(FILE_PATH, "must be a relative path such as onnx/model.onnx (no .., no leading /)"),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, "must be the file's sha256, 64 lowercase hex digits (sha256sum <file>)"),
    /** Bytes, exactly. */
    size: z.number().int().nonnegative(),
    /** Where this file comes from, instead of the model's source (absolute, or relative to models.yml). */
    url: z.string().min(1).optional(),
    /** The file's own licence, where it differs from the model's. */
    licence: z.string().trim().min(1).optional(),
  })
  .strict();

const modelSchema = z
  .object({
    /** The model's folder under /code_execution/models. */
    name: z.string().regex(NAME, "must be a folder name: letters, digits, _ . - (not starting with . or -)"),
    /** An SPDX id (or the licence's name) that participants are given the files under. */
    licence: z.string().trim().min(1),
    source: z
      .object({
        huggingface: z.string().optional(),
        revision: z.string().optional(),
        url: z.string().optional(),
      })
      .strict(),
    files: z.array(fileSchema).min(1),
  })
  .strict();

export const modelsSchema = z
  .object({
    /** Formats beyond the safe ones: `pickle`, or a file extension (e.g. h5). Each file taken so is warned of. */
    allow_formats: z
      .array(z.string().regex(/^[a-z0-9]+$/, "must be pickle or an extension such as h5"))
      .default([]),
    /** Above this total the check warns (every runner keeps a copy of the files per models digest). */
    warn_size: size.default(2 * GiB),
    /** Above this total the check fails. */
    max_size: size.default(20 * GiB),
    models: z.array(modelSchema).default([]),
  })
  .strict();

export type ModelsFile = z.output<typeof modelsSchema>;

/** One file, resolved: where it comes from and where it goes. */
export interface ModelFile {
  model: string;
  /** Its path under /code_execution/models: <model>/<path>. */
  target: string;
  url: string;
  sha256: string;
  size: number;
  licence: string;
  /** A safe format's name, `pickle`, or the extension the organizer allowed. */
  format: string;
  /** True when it was taken only because allow_formats says so. */
  allowed: boolean;
  /** Its key path in models.yml (models, 0, files, 1), where a problem with it is reported. */
  key: readonly ["models", number, "files", number];
}

export interface ModelsManifest {
  /** models.yml, absolute. */
  file: string;
  /** sha256 (hex) of the files' targets, checksums and sizes: what the models image holds. */
  digest: string;
  files: ModelFile[];
  totalBytes: number;
  /** Said once at load: formats taken only because allowed, a total above warn_size. */
  warnings: string[];
}

/** Reads and resolves models.yml; a YamlConfigError names the file, line, key, rule and fix. */
export async function loadModels(file: string): Promise<ModelsManifest> {
  const text = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw new YamlConfigError(file, [
      {
        file,
        line: null,
        column: null,
        key: "",
        rule: "unreadable",
        message:
          error.code === "ENOENT"
            ? "does not exist; create it (see docs/models.md) or fix runtime.models in competition.yml"
            : `cannot be read (${error.code})`,
      },
    ]);
  });
  return parseModels(text, file);
}

export function parseModels(text: string, file: string): ModelsManifest {
  const parsed = parseYaml(text, file, modelsSchema, { check: (value) => resolveModels(value, file).issues });
  const { files } = resolveModels(parsed, file);
  const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
  const warnings = files
    .filter((f) => f.allowed)
    .map(
      (f) =>
        `${f.target} is ${f.format === "pickle" ? "a pickle" : `a .${f.format} file`}, taken only because allow_formats lists ${f.format}: loading it can run code in every participant's sandbox`,
    );
  if (totalBytes > parsed.warn_size)
    warnings.push(
      `the models total ${formatBytes(totalBytes)}, above warn_size (${formatBytes(parsed.warn_size)}): every runner keeps a copy; drop files you do not need`,
    );
  return { file: path.resolve(file), digest: modelsDigest(files), files, totalBytes, warnings };
}

/**
 * Issues found outside the YAML step (a download's checksum) as a YamlConfigError located at their keys'
 * lines, through the one YAML path.
 */
export function locatedError(text: string, file: string, issues: PathIssue[]): YamlConfigError {
  try {
    parseYaml(text, file, z.unknown(), { check: () => issues });
  } catch (error) {
    if (error instanceof YamlConfigError) return error;
    throw error;
  }
  throw new Error("locatedError: no issues to locate");
}

function resolveModels(parsed: ModelsFile, file: string): { files: ModelFile[]; issues: PathIssue[] } {
  const issues: PathIssue[] = [];
  const files: ModelFile[] = [];
  const base = pathToFileURL(path.resolve(file));
  const names = new Set<string>();
  parsed.models.forEach((model, m) => {
    const at = ["models", m] as const;
    if (names.has(model.name))
      issues.push({
        path: [...at, "name"],
        rule: "duplicate",
        message: `names ${model.name} twice; give each model its own name`,
      });
    names.add(model.name);
    const folder = sourceFolder(model.source, [...at, "source"], base, issues);
    const paths = new Set<string>();
    model.files.forEach((f, i) => {
      const key = [...at, "files", i] as const;
      if (paths.has(f.path))
        issues.push({
          path: [...key, "path"],
          rule: "duplicate",
          message: `lists ${f.path} twice in ${model.name}`,
        });
      paths.add(f.path);
      const format = formatOf(f.path, parsed.allow_formats);
      if (!format.ok) issues.push({ path: [...key, "path"], rule: "format", message: format.message });
      const url =
        f.url !== undefined
          ? fileUrl(f.url, [...key, "url"], base, issues)
          : folder && new URL(encodeURI(f.path), folder).href;
      if (!url) {
        const { huggingface, url: folderUrl } = model.source;
        if (f.url === undefined && huggingface === undefined && folderUrl === undefined)
          issues.push({
            path: key,
            rule: "source",
            message: "has no source: give the model source.huggingface or source.url, or the file a url",
          });
        return;
      }
      files.push({
        model: model.name,
        target: `${model.name}/${f.path}`,
        url,
        sha256: f.sha256,
        size: f.size,
        licence: f.licence ?? model.licence,
        format: format.ok ? format.format : "",
        allowed: format.ok && format.allowed,
        key: ["models", m, "files", i],
      });
    });
  });
  const total = files.reduce((sum, f) => sum + f.size, 0);
  if (total > parsed.max_size)
    issues.push({
      path: ["max_size"],
      rule: "size_cap",
      message: `is ${formatBytes(parsed.max_size)}, but the models total ${formatBytes(total)}; drop files or raise max_size`,
    });
  return { files, issues };
}

type Key = readonly (string | number)[];

/** The folder a model's files are resolved against, or undefined (an issue is recorded when it is wrong). */
function sourceFolder(
  source: ModelsFile["models"][number]["source"],
  key: Key,
  base: URL,
  issues: PathIssue[],
) {
  const { huggingface, revision, url } = source;
  if (huggingface !== undefined && url !== undefined) {
    issues.push({ path: key, rule: "source", message: "names both huggingface and url; keep one" });
    return undefined;
  }
  if (huggingface !== undefined) {
    if (!/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(huggingface))
      issues.push({
        path: [...key, "huggingface"],
        rule: "source",
        message: `must be a repository such as owner/name, got ${JSON.stringify(huggingface)}`,
      });
    else if (revision === undefined || !/^[0-9a-f]{40}$/.test(revision))
      issues.push({
        path: [...key, revision === undefined ? "huggingface" : "revision"],
        rule: "pinned",
        message: `needs revision: the commit's full 40-hex sha (a branch such as main moves); find it on the repository's "Files and versions" page`,
      });
    else return new URL(`https://huggingface.co/${huggingface}/resolve/${revision}/`);
    return undefined;
  }
  if (revision !== undefined)
    issues.push({
      path: [...key, "revision"],
      rule: "source",
      message: "belongs with huggingface; remove it for a url source",
    });
  if (url === undefined) return undefined;
  const folder = fileUrl(url, [...key, "url"], base, issues);
  if (folder && !folder.endsWith("/")) {
    issues.push({
      path: [...key, "url"],
      rule: "source",
      message:
        "must be a folder URL ending in / (the files' paths are resolved against it); a single file can have its own url",
    });
    return undefined;
  }
  return folder ? new URL(folder) : undefined;
}

/** An https: or file: URL (relative ones are resolved against models.yml's folder). */
function fileUrl(text: string, key: Key, base: URL, issues: PathIssue[]): string | undefined {
  let url: URL;
  try {
    url = new URL(text, base);
  } catch {
    issues.push({ path: key, rule: "source", message: `is not a URL: ${JSON.stringify(text)}` });
    return undefined;
  }
  if (url.protocol === "https:" || url.protocol === "file:") return url.href;
  issues.push({
    path: key,
    rule: "source",
    message: `must be https: (or file: for tests and offline use), got ${url.protocol}`,
  });
  return undefined;
}

type FormatResult = { ok: true; format: string; allowed: boolean } | { ok: false; message: string };

/** The file's format by its extension, and whether it is safe or allowed. */
export function formatOf(file: string, allowFormats: readonly string[]): FormatResult {
  const ext = /\.([^./]+)$/.exec(file)?.[1]?.toLowerCase() ?? "";
  const safe = SAFE_EXTENSIONS.get(ext);
  if (safe) return { ok: true, format: safe, allowed: false };
  const pickle = (PICKLE_EXTENSIONS as readonly string[]).includes(ext);
  if (pickle && allowFormats.includes("pickle")) return { ok: true, format: "pickle", allowed: true };
  if (!pickle && ext && allowFormats.includes(ext)) return { ok: true, format: ext, allowed: true };
  const safeList = [...SAFE_EXTENSIONS.keys()].map((e) => `.${e}`).join(", ");
  return {
    ok: false,
    message: pickle
      ? `is a pickle (.${ext}): loading it can run code in every participant's sandbox; convert it to safetensors (or ONNX), or let the organizer add allow_formats: [pickle]`
      : `has ${ext ? `the extension .${ext}` : "no extension"}, not a format that cannot run code (${safeList}); convert it, or let the organizer add allow_formats: [${ext || "…"}]`,
  };
}

/** The digest of what the models image holds: each file's target, checksum and size, in target order. */
export function modelsDigest(files: readonly Pick<ModelFile, "target" | "sha256" | "size">[]): string {
  const entries = [...files]
    .sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0))
    .map((f) => ({ target: f.target, sha256: f.sha256, size: f.size }));
  return createHash("sha256").update(JSON.stringify(entries)).digest("hex");
}

/** The models image's reference: `<runtime repository>:models-<digest>`. */
export function modelsImageRef(repository: string, digest: string): string {
  return `${repository}:models-${digest}`;
}

/** What a run needs to mount the models (sandbox/models-volume.ts): null when models.yml lists none. */
export function modelsMount(manifest: ModelsManifest, repository: string) {
  if (manifest.files.length === 0) return null;
  return {
    image: modelsImageRef(repository, manifest.digest),
    digest: manifest.digest,
    files: manifest.files.map((f) => ({ target: f.target, size: f.size })),
  };
}
