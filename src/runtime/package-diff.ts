/**
 * Package lists and their differences: what changed from one environment file to another, and from the
 * published image's lock to a pull request's (added, removed, upgraded, downgraded in conda's version
 * order), with the downgrades nobody asked for. The pull request's run hands that diff on as data
 * (`PackageDiffReport`, checked with zod where it is read) and a trusted job renders it as the PR comment.
 */
import { z } from "zod";
import { compareCondaVersions } from "./conda-version.js";
import { buildOf, type CondaLock, LOCK_PLATFORM, type LockedPackage } from "./lock.js";
import { packageId, type PackageSource } from "./package-spec.js";

/** One package as a file pins it (or as a list names it). */
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
 * What changed from package list `before` to `after` (two environment files, say):
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

const byName = (a: { name: string }, b: { name: string }) =>
  a.name.toLowerCase() < b.name.toLowerCase() ? -1 : a.name.toLowerCase() > b.name.toLowerCase() ? 1 : 0;

/** How a package moved from the published lock to the pull request's. */
export const CHANGE_KINDS = ["downgraded", "removed", "upgraded", "added", "rebuilt"] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** What a change is shown with: the two that can break a submission are marked. */
export const CHANGE_MARKS: Record<ChangeKind, string> = {
  downgraded: "⚠️ downgraded",
  removed: "⚠️ removed",
  upgraded: "upgraded",
  added: "added",
  rebuilt: "rebuilt",
};

// Conda and PyPI names and versions (and build strings) use these characters only: anything else in the
// data is refused where it is read, so nothing a pull request controls can carry Markdown or HTML.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+!*-]{0,99}( [A-Za-z0-9._+-]{1,100})?$/;

const lockChange = z.strictObject({
  name: z.string().regex(NAME, "must be a package name (letters, digits, . _ + -)"),
  source: z.enum(["conda", "pip"]),
  kind: z.enum(CHANGE_KINDS),
  /** Version, and build after a space when only the build changed; absent when added. */
  before: z.string().regex(VERSION, "must be a version").optional(),
  after: z.string().regex(VERSION, "must be a version").optional(),
});
export type LockChange = z.output<typeof lockChange>;

/** The package diff of one flavour, as the pull request's run hands it to the comment job. */
export const packageDiffReportSchema = z.strictObject({
  format: z.literal("proctor-package-diff/1"),
  flavour: z.enum(["cpu", "gpu"]),
  pullRequest: z.number().int().positive(),
  headSha: z.string().regex(/^[0-9a-f]{40}$/, "must be a commit SHA"),
  /** Whether the base lock is the one runtime/published.json records as published (false: not yet). */
  basePublished: z.boolean(),
  /** No lock on the base branch (a first lock): everything is added. */
  baseMissing: z.boolean(),
  changes: z.array(lockChange).max(20_000),
  unchanged: z.number().int().nonnegative(),
  /** Image size in bytes: the published image's (runtime/published.json) and this build's; null: unknown. */
  size: z.strictObject({
    published: z.number().int().nonnegative().nullable(),
    built: z.number().int().nonnegative().nullable(),
  }),
  /** Downgrades no line of the environment-file diff asked for, and not acknowledged: they fail the check. */
  unacknowledged: z.array(z.string().regex(NAME)).max(20_000),
  /** Downgrades the description acknowledged (`allow-downgrade: <name>`). */
  acknowledged: z.array(z.string().regex(NAME)).max(20_000),
});
export type PackageDiffReport = z.output<typeof packageDiffReportSchema>;

const lockedOnPlatform = (lock: CondaLock | null) =>
  new Map(
    (lock?.package ?? [])
      .filter((p) => p.platform === LOCK_PLATFORM)
      .map((p) => [packageId({ name: p.name, source: p.manager }), p] as const),
  );

/**
 * What changed from the published lock (`before`; null when there is none yet) to the pull request's:
 * downgrades and removals first, then upgrades, additions and rebuilds (same version, another build), each
 * sorted by name. Versions are ordered as conda orders them.
 */
export function diffLocks(
  before: CondaLock | null,
  after: CondaLock,
): { changes: LockChange[]; unchanged: number } {
  const was = lockedOnPlatform(before);
  const now = lockedOnPlatform(after);
  const changes: LockChange[] = [];
  let unchanged = 0;
  const change = (kind: ChangeKind, p: LockedPackage, old?: LockedPackage) =>
    changes.push({
      name: p.name,
      source: p.manager,
      kind,
      ...(old && { before: kind === "rebuilt" ? withBuild(old) : old.version }),
      ...(kind !== "removed" && { after: kind === "rebuilt" ? withBuild(p) : p.version }),
    });
  for (const [id, pkg] of now) {
    const old = was.get(id);
    if (!old) change("added", pkg);
    else {
      const order = compareCondaVersions(pkg.version, old.version);
      if (order < 0) change("downgraded", pkg, old);
      else if (order > 0) change("upgraded", pkg, old);
      else if (buildOf(pkg) !== buildOf(old)) change("rebuilt", pkg, old);
      else unchanged += 1;
    }
  }
  for (const [id, pkg] of was)
    if (!now.has(id))
      changes.push({ name: pkg.name, source: pkg.manager, kind: "removed", before: pkg.version });
  const rank = (c: LockChange) => CHANGE_KINDS.indexOf(c.kind);
  return { changes: changes.sort((a, b) => rank(a) - rank(b) || byName(a, b)), unchanged };
}

const withBuild = (p: LockedPackage) => [p.version, buildOf(p)].filter(Boolean).join(" ");

/**
 * The names a pull request's description acknowledges a downgrade of: one `allow-downgrade: <name>` line
 * each (several names may follow, separated by commas or spaces; case ignored).
 */
export function acknowledgedDowngrades(description: string): Set<string> {
  const names = new Set<string>();
  for (const line of description.split(/\r?\n/)) {
    const match = /^\s*allow-downgrade:\s*(.+)$/i.exec(line);
    if (match) for (const name of match[1]!.split(/[\s,]+/)) if (name) names.add(name.toLowerCase());
  }
  return names;
}

/**
 * The downgrades of `changes` nobody asked for (`asked`: the names whose line of the environment files the
 * pull request added or changed), split by whether the description acknowledges them.
 */
export function unaskedDowngrades(
  changes: readonly LockChange[],
  asked: ReadonlySet<string>,
  description: string,
): { unacknowledged: string[]; acknowledged: string[] } {
  const allowed = acknowledgedDowngrades(description);
  const unasked = changes
    .filter((c) => c.kind === "downgraded" && !asked.has(c.name.toLowerCase()))
    .map((c) => c.name);
  return {
    unacknowledged: unasked.filter((name) => !allowed.has(name.toLowerCase())),
    acknowledged: unasked.filter((name) => allowed.has(name.toLowerCase())),
  };
}

/** The package names whose line the pull request added or changed, from the base's file to its own. */
export function askedFor(before: readonly PackageVersion[], after: readonly PackageVersion[]): Set<string> {
  const diff = diffPackages(before, after);
  return new Set(
    [...diff.added.map((p) => p.name), ...diff.changed.map((c) => c.name)].map((n) => n.toLowerCase()),
  );
}
