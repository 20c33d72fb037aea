import type { PackageDiff } from "../runtime/index.js";

/** Marks the comment so a later run can be told apart from people's comments. */
export const PACKAGE_DIFF_MARKER = "<!-- proctor:package-diff -->";

/**
 * The PR comment maintainers of such runtimes otherwise assemble by hand: which resolved packages this
 * change adds, removes or moves to another version, compared with the published image.
 */
export function packageDiffComment(flavour: string, published: string, diff: PackageDiff | null): string {
  const lines = [
    PACKAGE_DIFF_MARKER,
    `### Resolved packages (${flavour}) compared with \`${published}\``,
    "",
  ];
  if (!diff) {
    lines.push(
      `No published image could be pulled to compare with (first publish, or no access); nothing to compare.`,
    );
    return lines.join("\n");
  }
  if (diff.added.length + diff.removed.length + diff.changed.length === 0) {
    lines.push(`No resolved package differs (${diff.unchanged} unchanged).`);
    return lines.join("\n");
  }
  lines.push("| package | published | this PR |", "| :--- | :--- | :--- |");
  const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/`/g, "'");
  for (const p of diff.added) lines.push(`| ${cell(p.name)} | — | ${cell(p.version ?? "any")} (added) |`);
  for (const p of diff.removed) lines.push(`| ${cell(p.name)} | ${cell(p.version ?? "any")} | — (removed) |`);
  for (const c of diff.changed) lines.push(`| ${cell(c.name)} | ${cell(c.before)} | ${cell(c.after)} |`);
  lines.push("", `${diff.unchanged} packages unchanged.`);
  return lines.join("\n");
}
