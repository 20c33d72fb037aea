/**
 * The package diff of a pull request, on both sides of the trust line. The PR's run (`makePackageDiffReport`)
 * compares its lock with the base branch's (the published one, per runtime/published.json) and writes the
 * result as data; the comment job, which holds a write token and never runs the PR's code, reads that data
 * back as untrusted input (`readPackageDiffReports`: size-capped, checked with zod) and renders the comment
 * itself (`packageDiffComment`).
 */
import { access, lstat, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { formatBytes } from "../units/index.js";
import { readEnvironment } from "./environment.js";
import { lockPath, readCondaLock } from "./lock.js";
import {
  askedFor,
  CHANGE_MARKS,
  diffLocks,
  packageDiffReportSchema,
  unaskedDowngrades,
  type PackageDiffReport,
} from "./package-diff.js";
import { latestPublished, PUBLISHED_FILE, readPublished, sha256File } from "./published.js";

/** Marks the comment so a later run finds and updates its own (and only its own) earlier comment. */
export const PACKAGE_DIFF_MARKER = "<!-- proctor:package-diff -->";

/** The largest report file the comment job reads, and how many it takes (one per flavour). */
export const MAX_REPORT_BYTES = 1024 * 1024;
const MAX_REPORTS = 2;

/** GitHub refuses comments over 65,536 characters: leave room for the heading and the notes. */
const MAX_COMMENT_CHARACTERS = 60_000;

export interface MakeReportOptions {
  /** The pull request's checkout (its lock made and checked by the lock job). */
  root: string;
  /** The base branch's checkout: its lock, environment file and runtime/published.json. */
  baseRoot: string;
  flavour: "cpu" | "gpu";
  pullRequest: number;
  headSha: string;
  /** The pull request's description, for `allow-downgrade: <name>` lines. */
  description: string;
  /** The size of the image this run built, in bytes; null when unknown. */
  builtSize: number | null;
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

/** The PR's package diff for one flavour, as data for the comment job. Throws on a missing or broken PR lock. */
export async function makePackageDiffReport(options: MakeReportOptions): Promise<PackageDiffReport> {
  const { root, baseRoot, flavour } = options;
  const envFile = `environment-${flavour}.yml`;
  const [lockFile, baseLockFile] = [root, baseRoot].map((r) => path.join(r, lockPath(flavour)));
  const baseMissing = !(await exists(baseLockFile!));
  const [lock, baseLock] = await Promise.all([
    readCondaLock(lockFile!),
    baseMissing ? null : readCondaLock(baseLockFile!),
  ]);
  const { changes, unchanged } = diffLocks(baseLock, lock);

  const baseEnvFile = path.join(baseRoot, envFile);
  const [env, baseEnv] = await Promise.all([
    readEnvironment(path.join(root, envFile)),
    (await exists(baseEnvFile)) ? readEnvironment(baseEnvFile) : null,
  ]);
  const asked = askedFor(baseEnv?.packages ?? [], env.packages);
  const { unacknowledged, acknowledged } = unaskedDowngrades(changes, asked, options.description);

  const published = latestPublished(await readPublished(path.join(baseRoot, PUBLISHED_FILE)), flavour);
  const basePublished =
    published !== null && !baseMissing && published.lock.sha256 === (await sha256File(baseLockFile!));
  return packageDiffReportSchema.parse({
    format: "proctor-package-diff/1",
    flavour,
    pullRequest: options.pullRequest,
    headSha: options.headSha,
    basePublished,
    baseMissing,
    changes,
    unchanged,
    size: { published: published?.sizeBytes ?? null, built: options.builtSize },
    unacknowledged,
    acknowledged,
  });
}

/** What fails the PR's check: one line per unacknowledged downgrade, naming the rule and the fix. */
export function downgradeFailures(report: PackageDiffReport): string[] {
  return report.unacknowledged.map((name) => {
    const change = report.changes.find((c) => c.name === name && c.kind === "downgraded");
    return `${name} is downgraded ${change?.before ?? "?"} → ${change?.after ?? "?"} (${report.flavour}) though no line of environment-${report.flavour}.yml this pull request changed asks for it: pin ${name} in both environment files to keep it, or add the line \`allow-downgrade: ${name}\` to the pull request's description and push again`;
  });
}

export class PackageDiffArtifactError extends Error {
  override name = "PackageDiffArtifactError";
}

/**
 * The reports in the downloaded artifacts (`dir`, one folder per artifact), read as untrusted data: regular
 * files named package-diff.json only, each at most MAX_REPORT_BYTES, at most one per flavour, all for the
 * same pull request and commit. Throws PackageDiffArtifactError naming the file and the rule.
 */
export async function readPackageDiffReports(dir: string): Promise<PackageDiffReport[]> {
  const files = (await readdir(dir, { recursive: true }))
    .filter((name) => path.basename(name) === "package-diff.json")
    .sort();
  if (files.length === 0)
    throw new PackageDiffArtifactError(
      `${dir} holds no package-diff.json: the pull request's run made no diff`,
    );
  if (files.length > MAX_REPORTS)
    throw new PackageDiffArtifactError(
      `${dir} holds ${files.length} package-diff.json files; a run makes at most ${MAX_REPORTS} (one per flavour)`,
    );
  const reports: PackageDiffReport[] = [];
  for (const name of files) {
    const file = path.join(dir, name);
    const stat = await lstat(file);
    if (!stat.isFile()) throw new PackageDiffArtifactError(`${name} is not a regular file`);
    if (stat.size > MAX_REPORT_BYTES)
      throw new PackageDiffArtifactError(
        `${name} is ${formatBytes(stat.size)}, over the ${formatBytes(MAX_REPORT_BYTES)} a package diff may take`,
      );
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(file, "utf8"));
    } catch {
      throw new PackageDiffArtifactError(`${name} is not JSON`);
    }
    const parsed = packageDiffReportSchema.safeParse(raw);
    if (!parsed.success) {
      // Paths and messages only: the values are the untrusted part.
      const problems = parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join(".") || "(top)"} ${i.message}`);
      throw new PackageDiffArtifactError(`${name} is not a package diff: ${problems.join("; ")}`);
    }
    reports.push(parsed.data);
  }
  const [first] = reports;
  for (const report of reports) {
    if (report.pullRequest !== first!.pullRequest || report.headSha !== first!.headSha)
      throw new PackageDiffArtifactError("the package diffs name different pull requests or commits");
  }
  if (new Set(reports.map((r) => r.flavour)).size !== reports.length)
    throw new PackageDiffArtifactError("two package diffs are for the same flavour");
  return reports.sort((a, b) => a.flavour.localeCompare(b.flavour));
}

/**
 * The PR comment: per flavour, the changes (downgrades and removals first, marked), the downgrades that
 * fail the check, and the image size change. Every value was checked by the report's schema (names and
 * versions of a restricted alphabet) and is shown in a code span, so no data renders as Markdown or HTML.
 */
export function packageDiffComment(reports: readonly PackageDiffReport[], runUrl: string): string {
  const lines = [
    PACKAGE_DIFF_MARKER,
    "## Runtime packages: this pull request against the published image",
    "",
  ];
  const budget = Math.floor(MAX_COMMENT_CHARACTERS / Math.max(1, reports.length));
  for (const report of reports) {
    const section = [`### ${report.flavour.toUpperCase()}`, ""];
    section.push(
      report.baseMissing
        ? "The base branch has no lock for this flavour yet: every package is new."
        : report.basePublished
          ? "Compared with the lock of the published image (`runtime/published.json`)."
          : "Compared with the base branch's lock, which is **not published yet** (no record in `runtime/published.json` has it).",
      "",
    );
    if (report.unacknowledged.length > 0)
      section.push(
        `**❌ Downgrades nobody asked for** (they fail the check): ${report.unacknowledged.map(code).join(", ")}. Pin them in both environment files, or add a line \`allow-downgrade: <name>\` per package to the pull request's description and push again.`,
        "",
      );
    if (report.acknowledged.length > 0)
      section.push(
        `Downgrades acknowledged in the description: ${report.acknowledged.map(code).join(", ")}.`,
        "",
      );
    section.push(`Image size: ${sizeChange(report.size)}.`, "");
    if (report.changes.length === 0) section.push(`No package differs (${report.unchanged} unchanged).`);
    else {
      section.push("| change | package | published | this PR |", "| :--- | :--- | :--- | :--- |");
      let shown = 0;
      let length = section.join("\n").length;
      for (const c of report.changes) {
        const row = `| ${CHANGE_MARKS[c.kind]} | ${code(c.name)}${c.source === "pip" ? " (pip)" : ""} | ${c.before ? code(c.before) : "—"} | ${c.after ? code(c.after) : "—"} |`;
        if (length + row.length + 1 > budget) break;
        section.push(row);
        length += row.length + 1;
        shown += 1;
      }
      const hidden = report.changes.length - shown;
      section.push(
        "",
        `${report.unchanged} packages unchanged.${hidden > 0 ? ` ${hidden} more changes are not shown here: the run's \`package-diff-${report.flavour}\` artifact has them all.` : ""}`,
      );
    }
    lines.push(...section, "");
  }
  lines.push(`<sub>Made by the runtime workflow's run ${runUrl} from its package-diff artifacts.</sub>`, "");
  return lines.join("\n");
}

/** A value the schema checked (no backtick, no line break) as a Markdown code span. */
const code = (text: string) => `\`${text}\``;

function sizeChange(size: PackageDiffReport["size"]): string {
  const { published, built } = size;
  if (built === null) return "unknown (the image was not built)";
  if (published === null) return `${formatBytes(built)} (no published size to compare with)`;
  const delta = built - published;
  const sign = delta > 0 ? "+" : delta < 0 ? "−" : "±";
  return `${formatBytes(published)} → ${formatBytes(built)} (${sign}${formatBytes(Math.abs(delta))})`;
}
