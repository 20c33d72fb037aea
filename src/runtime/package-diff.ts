/**
 * Package lists and their differences: the resolved packages of an image (`micromamba list --json`), and
 * what changed from one list (or environment file) to another.
 */
import { packageId, type PackageSource } from "./package-spec.js";

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
