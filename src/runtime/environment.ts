/**
 * The runtime's environment files (environment-cpu.yml, environment-gpu.yml, runtime/environment-offline.yml):
 * conda environment files read through src/yaml into package lists, every issue located at its line by key
 * path with the rule it breaks; and whether the CPU and GPU files list the same packages.
 */
import { z } from "zod";
import { keyPath, loadYamlFile, parseYaml, type PathIssue, type YamlOptions } from "../yaml/index.js";
import { diffPackages } from "./package-diff.js";
import { packageId, parsePackageSpec, type PackageSource, type PackageSpec } from "./package-spec.js";

/** One package as an environment file lists it. */
export interface EnvPackage extends PackageSpec {
  /** Where it is in the file: `dependencies[3]`, `dependencies[20].pip[0]`. */
  key: string;
}

export interface Environment {
  file: string;
  name: string | null;
  channels: string[];
  packages: EnvPackage[];
}

/**
 * Stable names of the rules an environment file must follow (YamlIssue.rule): `unreadable` and
 * `yaml_syntax` come from src/yaml, the others from the checks here.
 */
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

export interface ParseOptions {
  /** Every package must name an exact version (the production files: rebuilds must give the same image). */
  requirePinned?: boolean;
}

const TOP_LEVEL_KEYS = ["name", "channels", "dependencies", "prefix", "variables"];

/** Reads and checks an environment file. Throws YamlConfigError (each issue with its line and rule). */
export async function readEnvironment(file: string, options: ParseOptions = {}): Promise<Environment> {
  const { schema, yaml } = environmentYaml(file, options);
  return (await loadYamlFile(file, schema, yaml)).environment;
}

/** Parses the text of an environment file; `file` names it in errors. Throws YamlConfigError. */
export function parseEnvironment(text: string, file: string, options: ParseOptions = {}): Environment {
  const { schema, yaml } = environmentYaml(file, options);
  return parseYaml(text, file, schema, yaml).environment;
}

interface Checked {
  environment: Environment;
  issues: PathIssue[];
}

/** Conda reads every scalar as text (`- 1.5`, `python=3.11`): so does this; the checks below do the rest. */
function environmentYaml(file: string, options: ParseOptions) {
  const schema = z.unknown().transform((raw): Checked => checkEnvironment(raw, file, options));
  const yaml: YamlOptions<Checked> = { scalars: "failsafe", check: (checked) => checked.issues };
  return { schema, yaml };
}

/** An empty value (`name:`) reads as "" in conda's all-text YAML: the key is as good as absent. */
const absent = (value: unknown) => value === undefined || value === null || value === "";

function checkEnvironment(raw: unknown, file: string, options: ParseOptions): Checked {
  const issues: PathIssue[] = [];
  const environment: Environment = { file, name: null, channels: [], packages: [] };
  const issue = (path: PathIssue["path"], rule: EnvironmentRule, message: string) =>
    issues.push({ path, rule, message });

  if (!isMapping(raw)) {
    issue(
      [],
      "not_a_mapping",
      `must be a mapping with a \`dependencies:\` list (a conda environment file), not ${describe(raw)}`,
    );
    return { environment, issues };
  }
  for (const key of Object.keys(raw)) {
    if (!TOP_LEVEL_KEYS.includes(key))
      issue([key], "unknown_key", `is not a key of an environment file; use ${TOP_LEVEL_KEYS.join(", ")}`);
  }

  if (!absent(raw.name)) {
    if (typeof raw.name !== "string" || raw.name.trim() === "")
      issue(["name"], "bad_name", "must be a non-empty string (the environment's name)");
    else environment.name = raw.name.trim();
  }

  if (!absent(raw.channels)) {
    if (!Array.isArray(raw.channels)) issue(["channels"], "bad_channels", "must be a list of channel names");
    else
      raw.channels.forEach((channel: unknown, i) => {
        if (typeof channel === "string" && /^\S+$/.test(channel)) environment.channels.push(channel);
        else
          issue(
            ["channels", i],
            "bad_channels",
            `must be a channel name such as conda-forge, not ${describe(channel)}`,
          );
      });
  }

  const deps = raw.dependencies;
  if (!Array.isArray(deps) || deps.length === 0) {
    issue(
      ["dependencies"],
      "missing_dependencies",
      absent(deps)
        ? "is missing: list the packages under `dependencies:`, one `- name=version` a line"
        : "must be a non-empty list of packages, one `- name=version` a line",
    );
    return { environment, issues };
  }

  const pathOf = new Map<EnvPackage, (string | number)[]>();
  const read = (spec: unknown, source: PackageSource, path: (string | number)[]) => {
    if (typeof spec !== "string") {
      issue(path, "bad_dependency", `must be a pip requirement such as name==1.0, not ${describe(spec)}`);
      return;
    }
    const result = parsePackageSpec(spec, source);
    if (!result.ok) return issue(path, "bad_spec", result.problem);
    const pkg = { ...result.package, key: keyPath(path) };
    environment.packages.push(pkg);
    pathOf.set(pkg, path);
  };
  deps.forEach((entry: unknown, i) => {
    if (typeof entry === "string") return read(entry, "conda", ["dependencies", i]);
    if (isMapping(entry) && Object.keys(entry).length === 1 && "pip" in entry) {
      if (!Array.isArray(entry.pip))
        return issue(["dependencies", i, "pip"], "bad_dependency", "must be a list of pip requirements");
      return entry.pip.forEach((spec: unknown, j) => read(spec, "pip", ["dependencies", i, "pip", j]));
    }
    issue(
      ["dependencies", i],
      "bad_dependency",
      `must be a package spec (name=version) or a \`pip:\` list, not ${describe(entry)}`,
    );
  });

  const seen = new Map<string, EnvPackage>();
  for (const pkg of environment.packages) {
    const path = pathOf.get(pkg)!;
    const earlier = seen.get(packageId(pkg));
    if (earlier) {
      issue(path, "duplicate_package", `lists ${pkg.name} again (already at ${earlier.key}); keep one entry`);
      continue;
    }
    seen.set(packageId(pkg), pkg);
    if (options.requirePinned && pkg.version === undefined) {
      issue(
        path,
        "not_pinned",
        `"${pkg.spec}" does not pin an exact version; write ${pkg.source === "pip" ? `${pkg.name}==<version>` : `${pkg.name}=<version>`} so that rebuilds give the same image`,
      );
    }
  }
  return { environment, issues };
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

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return JSON.stringify(value);
}
