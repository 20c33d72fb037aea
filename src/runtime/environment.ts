/**
 * The runtime's environment files (environment-cpu.yml, environment-gpu.yml, runtime/environment-offline.yml):
 * conda environment files read into package lists, with errors that name the file, the key and the rule;
 * resolved package lists (`micromamba list --json`) and the differences between two lists.
 */
import { readFile } from "node:fs/promises";
import yaml from "js-yaml";

export type PackageSource = "conda" | "pip";

/** One package as an environment file lists it. */
export interface EnvPackage {
  /** As written, lower-cased for conda (conda names are lower case). */
  name: string;
  source: PackageSource;
  /** The exact version, when pinned (`numpy=2.2.6`, `numpy==2.2.6`, `torch==2.6.0` for pip). */
  version?: string;
  /** A version constraint that is not an exact pin (`>=1.2,<2`, `1.2.*`). */
  constraint?: string;
  /** The conda build string, when given (`pytorch=2.6.0=cuda126*`). */
  build?: string;
  /** The channel, when the spec names one (`conda-forge::numpy=2.2.6`). */
  channel?: string;
  /** The spec as written in the file. */
  spec: string;
  /** Where it is in the file: `dependencies[3]`, `dependencies[20].pip[0]`. */
  key: string;
}

export interface Environment {
  file: string;
  name: string | null;
  channels: string[];
  packages: EnvPackage[];
}

/** Stable names of the rules an environment file must follow (EnvironmentFileError.rule). */
export const ENVIRONMENT_RULES = [
  "unreadable",
  "yaml_syntax",
  "not_a_mapping",
  "unknown_key",
  "bad_name",
  "bad_channels",
  "missing_dependencies",
  "bad_dependency",
  "bad_spec",
  "duplicate_package",
  "not_pinned",
] as const;
export type EnvironmentRule = (typeof ENVIRONMENT_RULES)[number];

/** Something wrong in an environment file: `file`, `key` (e.g. `dependencies[3]`), the `rule`, and the fix. */
export class EnvironmentFileError extends Error {
  override name = "EnvironmentFileError";
  constructor(
    readonly file: string,
    readonly key: string,
    readonly rule: EnvironmentRule,
    readonly problem: string,
    readonly line: number | null = null,
  ) {
    const where = line === null ? file : `${file}:${line}`;
    super(`${where}: ${key || "(top level)"} ${problem} [rule: ${rule}]`);
  }
}

export interface ParseOptions {
  /** Every package must name an exact version (the production files: rebuilds must give the same image). */
  requirePinned?: boolean;
}

const TOP_LEVEL_KEYS = ["name", "channels", "dependencies", "prefix", "variables"];

/** Reads and checks an environment file. Throws EnvironmentFileError. */
export async function readEnvironment(file: string, options: ParseOptions = {}): Promise<Environment> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new EnvironmentFileError(
      file,
      "",
      "unreadable",
      code === "ENOENT"
        ? "does not exist: pass the path of a conda environment file (e.g. environment-cpu.yml)"
        : `cannot be read (${code ?? String(error)})`,
    );
  }
  return parseEnvironment(text, file, options);
}

/** Parses the text of an environment file; `file` names it in errors. Throws EnvironmentFileError. */
export function parseEnvironment(text: string, file: string, options: ParseOptions = {}): Environment {
  let raw: unknown;
  try {
    raw = yaml.load(text, { filename: file, schema: yaml.FAILSAFE_SCHEMA });
  } catch (error) {
    const mark = (error as { mark?: { line?: number } }).mark;
    const reason = (error as { reason?: string }).reason ?? String(error);
    throw new EnvironmentFileError(
      file,
      "",
      "yaml_syntax",
      `is not valid YAML: ${reason}`,
      typeof mark?.line === "number" ? mark.line + 1 : null,
    );
  }
  const fail = (key: string, rule: EnvironmentRule, problem: string, needle?: string, nth = 0): never => {
    throw new EnvironmentFileError(file, key, rule, problem, lineOf(text, needle ?? key, nth));
  };

  if (!isMapping(raw)) {
    fail(
      "",
      "not_a_mapping",
      "must be a mapping with a `dependencies:` list (a conda environment file), not " + describe(raw),
    );
  }
  const doc = raw as Record<string, unknown>;
  for (const key of Object.keys(doc)) {
    if (!TOP_LEVEL_KEYS.includes(key)) {
      fail(key, "unknown_key", `is not a key of an environment file; use ${TOP_LEVEL_KEYS.join(", ")}`);
    }
  }

  let name: string | null = null;
  if (doc.name !== undefined && doc.name !== null) {
    if (typeof doc.name !== "string" || doc.name.trim() === "") {
      fail("name", "bad_name", "must be a non-empty string (the environment's name)");
    }
    name = (doc.name as string).trim();
  }

  const channels: string[] = [];
  if (doc.channels !== undefined && doc.channels !== null) {
    if (!Array.isArray(doc.channels)) fail("channels", "bad_channels", "must be a list of channel names");
    (doc.channels as unknown[]).forEach((channel, i) => {
      if (typeof channel !== "string" || !/^\S+$/.test(channel)) {
        fail(
          `channels[${i}]`,
          "bad_channels",
          `must be a channel name such as conda-forge, not ${describe(channel)}`,
        );
      }
      channels.push(channel as string);
    });
  }

  const deps = doc.dependencies;
  if (!Array.isArray(deps) || deps.length === 0) {
    fail(
      "dependencies",
      "missing_dependencies",
      deps === undefined || deps === null
        ? "is missing: list the packages under `dependencies:`, one `- name=version` a line"
        : "must be a non-empty list of packages, one `- name=version` a line",
      "dependencies",
    );
  }

  const packages: EnvPackage[] = [];
  (deps as unknown[]).forEach((entry, i) => {
    const key = `dependencies[${i}]`;
    if (typeof entry === "string") {
      packages.push(parseSpec(entry, "conda", key, fail));
      return;
    }
    if (isMapping(entry) && Object.keys(entry).length === 1 && "pip" in entry) {
      const pip = (entry as { pip: unknown }).pip;
      if (!Array.isArray(pip))
        fail(`${key}.pip`, "bad_dependency", "must be a list of pip requirements", "pip:");
      (pip as unknown[]).forEach((spec, j) => {
        const pipKey = `${key}.pip[${j}]`;
        if (typeof spec !== "string") {
          fail(
            pipKey,
            "bad_dependency",
            `must be a pip requirement such as name==1.0, not ${describe(spec)}`,
          );
        }
        packages.push(parseSpec(spec as string, "pip", pipKey, fail));
      });
      return;
    }
    fail(
      key,
      "bad_dependency",
      `must be a package spec (name=version) or a \`pip:\` list, not ${describe(entry)}`,
      "dependencies",
    );
  });

  const seen = new Map<string, EnvPackage>();
  for (const pkg of packages) {
    const id = packageId(pkg);
    const earlier = seen.get(id);
    if (earlier) {
      fail(
        pkg.key,
        "duplicate_package",
        `lists ${pkg.name} again (already at ${earlier.key}); keep one entry`,
        pkg.spec,
        packages.filter((p) => p.spec === pkg.spec).indexOf(pkg),
      );
    }
    seen.set(id, pkg);
    if (options.requirePinned && pkg.version === undefined) {
      fail(
        pkg.key,
        "not_pinned",
        `"${pkg.spec}" does not pin an exact version; write ${pkg.source === "pip" ? `${pkg.name}==<version>` : `${pkg.name}=<version>`} so that rebuilds give the same image`,
        pkg.spec,
      );
    }
  }
  return { file, name, channels, packages };
}

type Fail = (key: string, rule: EnvironmentRule, problem: string, needle?: string, nth?: number) => never;

const CONDA_SPEC = /^(?:(?<channel>[A-Za-z0-9_.\-/:]+?)::)?(?<name>[A-Za-z0-9_][A-Za-z0-9_.-]*)(?<rest>.*)$/;
const PIP_SPEC = /^(?<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*(?<rest>.*)$/;
const EXACT_VERSION = /^[A-Za-z0-9_.+!]+$/;
const CONSTRAINT = /^[A-Za-z0-9_.+!*<>=,|~ ]+$/;

function parseSpec(written: string, source: PackageSource, key: string, fail: Fail): EnvPackage {
  const spec = written.trim();
  return source === "conda" ? parseCondaSpec(spec, key, fail) : parsePipSpec(spec, key, fail);
}

function parseCondaSpec(spec: string, key: string, fail: Fail): EnvPackage {
  const bad = (why: string): never =>
    fail(
      key,
      "bad_spec",
      `"${spec}" is not a conda package spec: ${why}; write name=version, e.g. numpy=2.2.6`,
      spec,
    );
  const match = CONDA_SPEC.exec(spec);
  if (!match?.groups) return bad("it must start with the package name");
  const { channel, name, rest = "" } = match.groups as { channel?: string; name: string; rest?: string };
  const pkg: EnvPackage = { name: name.toLowerCase(), source: "conda", spec, key };
  if (channel) pkg.channel = channel;
  const tail = rest.trim();
  if (tail === "") return pkg;
  if (tail.startsWith("[")) return bad("the bracket form name[version=...] is not supported here");

  let version: string;
  let build: string | undefined;
  if (/^[<>!~]/.test(tail) || (/^\s/.test(rest) && /^[<>=!~]/.test(tail))) {
    return withConstraint(pkg, tail, bad);
  }
  if (/^\s/.test(rest)) {
    // "name 1.2.3 build" (conda's space-separated form)
    const parts = tail.split(/\s+/);
    if (parts.length > 2) return bad("too many space-separated parts");
    [version, build] = [parts[0]!, parts[1]];
  } else if (tail.startsWith("==") || (tail.startsWith("=") && !tail.startsWith("=="))) {
    const body = tail.replace(/^==?/, "");
    const parts = body.split("=");
    if (parts.length > 2 || parts[0] === "") return bad("expected name=version or name=version=build");
    [version, build] = [parts[0]!, parts[1]];
    if (build === "") return bad("the build string after the second '=' is empty");
  } else {
    return bad(`unexpected "${tail}" after the name`);
  }

  if (build !== undefined) {
    if (!/^[A-Za-z0-9_.*+]+$/.test(build)) return bad(`"${build}" is not a build string`);
    pkg.build = build;
  }
  if (EXACT_VERSION.test(version)) {
    pkg.version = version;
    return pkg;
  }
  if (build === undefined && CONSTRAINT.test(version) && version.includes("*")) {
    pkg.constraint = version;
    return pkg;
  }
  return bad(`"${version}" is not a version`);
}

function withConstraint(pkg: EnvPackage, constraint: string, bad: (why: string) => never): EnvPackage {
  const text = constraint.replace(/\s+/g, "");
  if (!CONSTRAINT.test(text) || !/[0-9*]/.test(text))
    return bad(`"${constraint}" is not a version constraint`);
  pkg.constraint = text;
  return pkg;
}

function parsePipSpec(spec: string, key: string, fail: Fail): EnvPackage {
  const bad = (why: string): never =>
    fail(
      key,
      "bad_spec",
      `"${spec}" is not a pip requirement: ${why}; write name==version (or name @ url), e.g. timm==1.0.15`,
      spec,
    );
  if (/^(?:[a-z+]+:\/\/|git\+|\.{0,2}\/|-)/i.test(spec)) {
    return bad("it must start with the package name");
  }
  const match = PIP_SPEC.exec(spec);
  if (!match?.groups) return bad("it must start with the package name");
  const name = match.groups.name!;
  const pkg: EnvPackage = { name, source: "pip", spec, key };
  // Environment markers (`; python_version < "3.12"`) do not change which package it is.
  const rest = (match.groups.rest ?? "").split(";")[0]!.trim();
  if (rest === "") return pkg;
  if (rest.startsWith("@")) {
    if (rest.slice(1).trim() === "") return bad("the URL after @ is missing");
    return pkg;
  }
  const exact = /^===?\s*([A-Za-z0-9_.+!]+)$/.exec(rest);
  if (exact) {
    pkg.version = exact[1]!;
    return pkg;
  }
  if (!/^(?:(?:[<>!~]=?|===?)\s*[A-Za-z0-9_.+!*]+\s*,?\s*)+$/.test(rest)) {
    return bad(`"${rest}" is not a version constraint`);
  }
  pkg.constraint = rest.replace(/\s+/g, "");
  return pkg;
}

/** Two entries are the same package when their source and normalized names match (PEP 503 for pip). */
export function packageId(pkg: { name: string; source?: PackageSource }): string {
  const source = pkg.source ?? "conda";
  const name = pkg.name.toLowerCase();
  return `${source}:${source === "pip" ? name.replace(/[-_.]+/g, "-") : name}`;
}

/** One package as installed (`micromamba list --json`) or as a file pins it. */
export interface PackageVersion {
  name: string;
  source?: PackageSource;
  version?: string;
  constraint?: string;
  build?: string;
  channel?: string;
}

export interface VersionChange {
  name: string;
  source: PackageSource;
  /** Version (or constraint, or "any") before and after; a build string follows after a space when set. */
  before: string;
  after: string;
}

export interface PackageDiff {
  added: PackageVersion[];
  removed: PackageVersion[];
  changed: VersionChange[];
  unchanged: number;
}

/**
 * What changed from package list `before` to `after` (two resolved lists, or two environment files):
 * packages added, removed, and those whose version (or build, when both name one) changed. Sorted by name.
 */
export function diffPackages(
  before: readonly PackageVersion[],
  after: readonly PackageVersion[],
): PackageDiff {
  const index = (list: readonly PackageVersion[]) => new Map(list.map((p) => [packageId(p), p]));
  const was = index(before);
  const now = index(after);
  const added: PackageVersion[] = [];
  const removed: PackageVersion[] = [];
  const changed: VersionChange[] = [];
  let unchanged = 0;
  for (const [id, pkg] of now) {
    const old = was.get(id);
    if (!old) {
      added.push(pkg);
      continue;
    }
    const versionChanged = versionText(old) !== versionText(pkg);
    const buildChanged = old.build !== undefined && pkg.build !== undefined && old.build !== pkg.build;
    if (versionChanged || buildChanged) {
      const show = (p: PackageVersion) => (buildChanged ? `${versionText(p)} ${p.build}` : versionText(p));
      changed.push({ name: pkg.name, source: pkg.source ?? "conda", before: show(old), after: show(pkg) });
    } else {
      unchanged += 1;
    }
  }
  for (const [id, pkg] of was) if (!now.has(id)) removed.push(pkg);
  const byName = (a: { name: string }, b: { name: string }) =>
    a.name.toLowerCase() < b.name.toLowerCase() ? -1 : a.name.toLowerCase() > b.name.toLowerCase() ? 1 : 0;
  return {
    added: added.sort(byName),
    removed: removed.sort(byName),
    changed: changed.sort(byName),
    unchanged,
  };
}

function versionText(p: PackageVersion): string {
  return p.version ?? p.constraint ?? "any";
}

/**
 * The resolved packages of an environment, from `micromamba list --json` (or `conda list --json`):
 * an array of `{ name, version, build_string, channel }`; `pypi` is the channel of pip-installed ones.
 */
export function parseCondaList(json: string, what = "the package list"): PackageVersion[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    throw new Error(
      `${what} is not JSON (expected the output of \`micromamba list --json\`): ${String(error)}`,
    );
  }
  if (!Array.isArray(raw)) {
    throw new Error(`${what} must be a JSON array (the output of \`micromamba list --json\`)`);
  }
  return raw.map((entry: unknown, i) => {
    const e = entry as Record<string, unknown>;
    if (!isMapping(entry) || typeof e.name !== "string" || typeof e.version !== "string") {
      throw new Error(`${what}[${i}] has no name and version: ${JSON.stringify(entry)}`);
    }
    const channel = typeof e.channel === "string" ? channelName(e.channel) : undefined;
    const pkg: PackageVersion = {
      name: e.name,
      source: channel === "pypi" ? "pip" : "conda",
      version: e.version,
    };
    if (typeof e.build_string === "string" && e.build_string !== "") pkg.build = e.build_string;
    if (channel) pkg.channel = channel;
    return pkg;
  });
}

/** Packages that may be in only one of the CPU and GPU files: the GPU bits and their CPU counterparts. */
export const FLAVOUR_ONLY_PACKAGES = {
  cpu: ["pytorch-cpu", "nomkl"],
  gpu: [
    "cuda-version",
    "pytorch-gpu",
    "pytorch-cuda",
    "cudatoolkit",
    "cudnn",
    "nccl",
    "cupy",
    "nvidia-ml-py",
  ],
} as const;

/**
 * Where the CPU and GPU environment files disagree: a package in one only (other than the flavour's own
 * bits), or at different versions. Empty when they are aligned.
 */
export function alignmentIssues(
  cpu: Environment,
  gpu: Environment,
  only: { cpu: readonly string[]; gpu: readonly string[] } = FLAVOUR_ONLY_PACKAGES,
): string[] {
  const issues: string[] = [];
  const cpuOnly = new Set(only.cpu.map((n) => packageId({ name: n })));
  const gpuOnly = new Set(only.gpu.map((n) => packageId({ name: n })));
  const diff = diffPackages(cpu.packages, gpu.packages);
  for (const pkg of diff.removed) {
    if (!cpuOnly.has(packageId(pkg))) {
      issues.push(`${pkg.name} is in ${cpu.file} but not in ${gpu.file}: add it there at the same version`);
    }
  }
  for (const pkg of diff.added) {
    if (!gpuOnly.has(packageId(pkg))) {
      issues.push(`${pkg.name} is in ${gpu.file} but not in ${cpu.file}: add it there at the same version`);
    }
  }
  for (const change of diff.changed) {
    issues.push(
      `${change.name} is ${change.before} in ${cpu.file} but ${change.after} in ${gpu.file}: use one version in both`,
    );
  }
  return issues;
}

/** "conda-forge" from "conda-forge", "https://conda.anaconda.org/conda-forge" or ".../conda-forge/linux-64". */
function channelName(channel: string): string | undefined {
  const parts = channel
    .split("/")
    .filter((p) => p !== "" && !/^(?:noarch|(?:linux|osx|win)-[a-z0-9_]+)$/.test(p));
  return parts.pop();
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return JSON.stringify(value);
}

/** The 1-based line of the `nth` appearance of `needle` (a key or a spec), for error messages; null if none. */
function lineOf(text: string, needle: string, nth = 0): number | null {
  const bare = needle.replace(/\[\d+\].*$/, "").replace(/\.pip$/, "");
  if (bare === "") return null;
  const lines = text.split(/\r?\n/);
  let seen = 0;
  for (const [index, line] of lines.entries()) {
    const content = line.replace(/(^|\s)#.*$/, "").trim();
    const hit =
      content === `- ${bare}` ||
      content === `- "${bare}"` ||
      content === `- '${bare}'` ||
      content.startsWith(`${bare}:`) ||
      content.startsWith(`- ${bare}:`);
    if (hit && seen++ === nth) return index + 1;
  }
  return null;
}
