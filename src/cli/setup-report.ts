/** What `proctor check` found, as `check` prints it and `serve` refuses a broken setup with. */
import type { SetupReport } from "../pipeline/setup-check.js";

/** One line per finding: ✔ right, ✘ the organizer's to fix, ⚠ not checkable here, – not checked. */
export function reportText(report: SetupReport): string {
  const lines = [
    ...report.passed.map((line) => `✔ ${line}`),
    ...report.notes.map((line) => `– ${line}`),
    ...report.unavailable.map((line) => `⚠ ${line}`),
    ...report.problems.map((line) => `✘ ${line}`),
  ];
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  if (report.problems.length > 0)
    lines.push(
      `proctor check: ${count(report.problems.length, "problem")} to fix before any submission runs (the organizer's; nothing was run or counted)`,
    );
  else if (report.unavailable.length > 0)
    lines.push(
      `proctor check: no problem found, but ${count(report.unavailable.length, "part")} could not be checked here`,
    );
  else lines.push("proctor check: the setup is right");
  return `${lines.join("\n")}\n`;
}
