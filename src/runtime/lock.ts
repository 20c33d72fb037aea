/**
 * The conda flavours' locks (runtime/lock/<flavour>.conda-lock.yml, conda-lock's unified format, version 1):
 * read through src/yaml, and checked offline against their environment files: every spec met, nothing at
 * top level the file does not ask for, every URL from one of the file's channels, a checksum for each
 * package, and the CPU and GPU locks agreeing on the versions they share (the GPU bits aside). The locks are
 * made where conda-forge is reachable (`make lock`, the runtime workflow); this check needs no network.
 */
import { access } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { loadYamlFile, parseYaml } from "../yaml/index.js";
import { FLAVOUR_ONLY_PACKAGES, readEnvironment, type Environment, type EnvPackage } from "./environment.js";
import { packageId } from "./package-spec.js";

/** The platform the runtime images are built for. */
export const LOCK_PLATFORM = "linux-64";

/** Where a flavour's lock lives, from the repository root. */
export const lockPath = (flavour: "cpu" | "gpu") => `runtime/lock/${flavour}.conda-lock.yml`;

/** The command that remakes a flavour's lock (the fix every lock issue names). */
export const lockCommand = (flavour: string) => `make lock FLAVOUR=${flavour}`;

const lockedPackage = z.looseObject({
  name: z.string().min(1),
  version: z.string().min(1),
  manager: z.enum(["conda", "pip"]),
  platform: z.string().min(1),
  dependencies: z.record(z.string(), z.string()).default({}),
  url: z.string().min(1),
  hash: z.looseObject({ md5: z.string().optional(), sha256: z.string().optional() }),
  category: z.string().default("main"),
  optional: z.boolean().default(false),
  build: z.string().optional(),
});
export type LockedPackage = z.output<typeof lockedPackage>;

const condaLockSchema = z.looseObject({
  version: z.literal(1, {
    error: "must be 1 (conda-lock's unified lockfile format); remake it with make lock",
  }),
  metadata: z.looseObject({
    channels: z.array(z.looseObject({ url: z.string() })),
    platforms: z.array(z.string()),
    sources: z.array(z.string()).default([]),
  }),
  package: z.array(lockedPackage),
});
export type CondaLock = z.output<typeof condaLockSchema> & { file: string };

/** Reads a conda-lock file. Throws YamlConfigError (each issue at its line). */
export async function readCondaLock(file: string): Promise<CondaLock> {
  return { ...(await loadYamlFile(file, condaLockSchema)), file };
}

/** Parses the text of a conda-lock file; `file` names it in errors. Throws YamlConfigError. */
export function parseCondaLock(text: string, file: string): CondaLock {
  return { ...parseYaml(text, file, condaLockSchema), file };
}

export const LOCK_RULES = [
  "lock_missing",
  "wrong_platform",
  "spec_not_locked",
  "spec_not_met",
  "extra_top_level",
  "foreign_channel",
  "no_checksum",
  "cpu_gpu_drift",
] as const;
export type LockRule = (typeof LOCK_RULES)[number];

/** One way a lock fails its environment file: the rule, and a message naming the input and the fix. */
export interface LockIssue {
  rule: LockRule;
  message: string;
}

/** The lock's packages for the runtime's platform (conda-lock lists every platform in one file). */
const onPlatform = (lock: CondaLock) => lock.package.filter((p) => p.platform === LOCK_PLATFORM);

/**
 * Checks the locks of a repository (at `root`): each flavour's lock against environment-<flavour>.yml, then
 * the CPU and GPU locks against each other. `checked` says what was checked, a line each.
 */
export async function checkRepositoryLocks(
  root: string,
  flavours: readonly ("cpu" | "gpu")[],
): Promise<{ issues: LockIssue[]; checked: string[] }> {
  const exists = (file: string) =>
    access(file).then(
      () => true,
      () => false,
    );
  const issues: LockIssue[] = [];
  const checked: string[] = [];
  const locks: Partial<Record<"cpu" | "gpu", CondaLock>> = {};
  for (const flavour of flavours) {
    const envFile = path.join(root, `environment-${flavour}.yml`);
    const lockFile = path.join(root, lockPath(flavour));
    if (!(await exists(envFile))) {
      checked.push(`${envFile} does not exist: no ${flavour} lock to check`);
      continue;
    }
    if (!(await exists(lockFile))) {
      issues.push({
        rule: "lock_missing",
        message: `${lockFile} is missing; run \`${lockCommand(flavour)}\` where conda-forge is reachable, or push your pull request: the runtime workflow makes it`,
      });
      continue;
    }
    const [environment, lock] = await Promise.all([readEnvironment(envFile), readCondaLock(lockFile)]);
    const found = checkLock(environment, lock, flavour);
    issues.push(...found);
    locks[flavour] = lock;
    checked.push(
      `${lockFile}: ${onPlatform(lock).length} ${LOCK_PLATFORM} packages; ${found.length === 0 ? "satisfies" : "does not satisfy"} ${envFile}`,
    );
  }
  if (locks.cpu && locks.gpu) {
    const drift = lockDrift(locks.cpu, locks.gpu);
    issues.push(...drift);
    checked.push(
      `the CPU and GPU locks ${drift.length === 0 ? "agree" : "disagree"} on the packages they share`,
    );
  }
  return { issues, checked };
}

/**
 * Where `lock` fails `environment` (empty when it satisfies it). `flavour` names the `make lock` to run.
 */
export function checkLock(environment: Environment, lock: CondaLock, flavour: string): LockIssue[] {
  const issues: LockIssue[] = [];
  const fix = `run \`${lockCommand(flavour)}\` (or let the runtime workflow remake it on your pull request)`;
  const add = (rule: LockRule, message: string) => issues.push({ rule, message: `${message}; ${fix}` });

  if (!lock.metadata.platforms.includes(LOCK_PLATFORM)) {
    add(
      "wrong_platform",
      `${lock.file} has no ${LOCK_PLATFORM} packages (it locks ${lock.metadata.platforms.join(", ") || "none"})`,
    );
    return issues;
  }
  const packages = onPlatform(lock);
  const byId = new Map(packages.map((p) => [packageId({ name: p.name, source: p.manager }), p]));

  for (const spec of environment.packages) {
    const locked = byId.get(packageId(spec));
    if (!locked) {
      add("spec_not_locked", `${spec.spec} (${environment.file} ${spec.key}) is not in ${lock.file}`);
      continue;
    }
    const unmet = unmetBy(spec, locked);
    if (unmet)
      add(
        "spec_not_met",
        `${lock.file} locks ${locked.name} ${unmet}, but ${environment.file} asks for ${spec.spec}`,
      );
  }

  const asked = new Set(environment.packages.map(packageId));
  for (const root of topLevel(packages)) {
    if (!asked.has(packageId({ name: root.name, source: root.manager })))
      add(
        "extra_top_level",
        `${lock.file} has ${root.name} ${root.version} at top level (nothing else needs it), but ${environment.file} does not ask for it`,
      );
  }

  const channels = environment.channels.map(channelUrl);
  for (const pkg of packages) {
    const allowed = pkg.manager === "pip" ? [PYPI_FILES] : channels;
    if (!allowed.some((prefix) => pkg.url.startsWith(prefix)))
      add(
        "foreign_channel",
        `${lock.file} takes ${pkg.name} ${pkg.version} from ${pkg.url}, which is not one of the channels of ${environment.file} (${environment.channels.join(", ") || "none"})`,
      );
    if (!pkg.hash.sha256 && !pkg.hash.md5)
      add(
        "no_checksum",
        `${lock.file} has no checksum (hash.sha256 or hash.md5) for ${pkg.name} ${pkg.version}`,
      );
  }
  for (const channel of lock.metadata.channels) {
    if (!channels.includes(channelUrl(channel.url)))
      add(
        "foreign_channel",
        `${lock.file} was solved with the channel ${channel.url}, which ${environment.file} does not list`,
      );
  }
  return issues;
}

/**
 * Where the CPU and GPU locks disagree: a package both hold at two versions, unless it is one of the
 * flavour-only bits (FLAVOUR_ONLY_PACKAGES). A shared package pulled to another version by a GPU bit (cupy
 * capping numpy, say) is drift: the two images would run different numpy.
 */
export function lockDrift(cpu: CondaLock, gpu: CondaLock): LockIssue[] {
  const exempt = new Set<string>([...FLAVOUR_ONLY_PACKAGES.cpu, ...FLAVOUR_ONLY_PACKAGES.gpu]);
  const gpuById = new Map(onPlatform(gpu).map((p) => [packageId({ name: p.name, source: p.manager }), p]));
  const issues: LockIssue[] = [];
  for (const pkg of onPlatform(cpu)) {
    const other = gpuById.get(packageId({ name: pkg.name, source: pkg.manager }));
    if (!other || other.version === pkg.version || exempt.has(pkg.name.toLowerCase())) continue;
    issues.push({
      rule: "cpu_gpu_drift",
      message: `${pkg.name} is ${pkg.version} in ${cpu.file} but ${other.version} in ${gpu.file}: pin it in both environment files (${pkg.name}=<version>) and run \`${lockCommand("cpu")}\` and \`${lockCommand("gpu")}\``,
    });
  }
  return issues;
}

/** The packages nothing else in the lock depends on: what the environment file must have asked for. */
export function topLevel(packages: readonly LockedPackage[]): LockedPackage[] {
  const needed = new Set(packages.flatMap((p) => Object.keys(p.dependencies).map((d) => d.toLowerCase())));
  return packages.filter((p) => !needed.has(p.name.toLowerCase()));
}

const PYPI_FILES = "https://files.pythonhosted.org/";

/** A channel as the prefix of its packages' URLs: conda-forge -> https://conda.anaconda.org/conda-forge/. */
function channelUrl(channel: string): string {
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(channel) ? channel : `https://conda.anaconda.org/${channel}`;
  return url.endsWith("/") ? url : `${url}/`;
}

/**
 * What about `locked` fails `spec` ("2.2.5", "2.6.0 build cpu_h…"), or null when it meets it. Conda's
 * `name=1.2` means 1.2 or any 1.2.x (`==` is exact); pip's `==` is exact.
 */
function unmetBy(spec: EnvPackage, locked: LockedPackage): string | null {
  const version = locked.version;
  if (spec.version !== undefined) {
    const exact = spec.source === "pip" || /==/.test(spec.spec);
    const ok = version === spec.version || (!exact && version.startsWith(`${spec.version}.`));
    if (!ok) return version;
  }
  if (spec.constraint !== undefined && !satisfies(version, spec.constraint)) return version;
  const build = buildOf(locked);
  if (spec.build !== undefined && !glob(spec.build).test(build))
    return `${version} build ${build || "(none)"}`;
  return null;
}

/** A version against a constraint: `>=1.2,<2`, `1.2.*`, alternatives with `|`. */
export function satisfies(version: string, constraint: string): boolean {
  return constraint.split("|").some((alternative) =>
    alternative.split(",").every((part) => {
      const match = /^(>=|<=|==|!=|~=|>|<|=)?(.+)$/.exec(part.trim());
      if (!match) return false;
      const [, op = "==", wanted = ""] = match;
      if (wanted.includes("*")) return (op === "!=") !== glob(wanted).test(version);
      const order = compareVersions(version, wanted);
      switch (op) {
        case ">=":
          return order >= 0;
        case "<=":
          return order <= 0;
        case ">":
          return order > 0;
        case "<":
          return order < 0;
        case "!=":
          return order !== 0;
        case "~=":
          return order >= 0 && version.startsWith(wanted.split(".").slice(0, -1).join("."));
        case "=":
          return order === 0 || version.startsWith(`${wanted}.`);
        default:
          return order === 0;
      }
    }),
  );
}

/** Compares dotted versions part by part, numbers as numbers (1.10 > 1.9). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+_-]/);
  const pb = b.split(/[.+_-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const [x = "0", y = "0"] = [pa[i], pb[i]];
    const [nx, ny] = [Number(x), Number(y)];
    const order = Number.isInteger(nx) && Number.isInteger(ny) ? nx - ny : x.localeCompare(y);
    if (order !== 0) return Math.sign(order);
  }
  return 0;
}

/** The build string: the lock's `build`, else the file name's (name-version-build.conda). */
export function buildOf(pkg: LockedPackage): string {
  if (pkg.build) return pkg.build;
  const file = pkg.url.split("/").pop() ?? "";
  const stem = file.replace(/\.(conda|tar\.bz2)$/, "");
  return stem.startsWith(`${pkg.name}-${pkg.version}-`)
    ? stem.slice(pkg.name.length + pkg.version.length + 2)
    : "";
}

const glob = (pattern: string) =>
  new RegExp(`^${pattern.replace(/[.+?^${}()[\]\\|]/g, "\\$&").replaceAll("*", ".*")}$`);
