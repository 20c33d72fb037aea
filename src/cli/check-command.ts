import { Command } from "commander";
import { readFile } from "node:fs/promises";
import { imageRef, loadCompetition, YamlConfigError } from "../config/index.js";
import { checkSetup, type SetupReport } from "../pipeline/setup-check.js";
import { EXIT_CODES } from "../status/index.js";
import { CONFIG_OPTION } from "./context.js";
import { UsageError } from "./usage-error.js";

interface Flags {
  config: string;
  key?: string;
  image?: string;
  gateway: boolean;
}

/**
 * `proctor check`: the competition's whole setup in seconds, without running a submission (see
 * pipeline/setup-check.ts). Exits 0 when it is right, 2 (a configuration error) when the organizer has
 * something to fix, 3 when this machine could not check a part (no Docker engine or image for the scorer).
 */
export function checkCommand(): Command {
  return new Command("check")
    .description(
      "check the competition's setup without running a submission: competition.yml, the format, the metric, " +
        "the ground truth of every phase's data here, the sealing key, the custom scorer on a sample",
    )
    .option(...CONFIG_OPTION)
    .option(
      "--key <private.pem>",
      "the organizer's private sealing key, where you keep it (never on the gateway): checks it opens what " +
        "leaderboard.sealing_public_key seals",
    )
    .option("--image <ref>", "run the custom scorer in this image (default: its own, else the runtime's)")
    .option("--gateway", "also check what proctor serve needs (its GitHub token)", false)
    .action(async (flags: Flags) => {
      const privateKey = flags.key
        ? {
            pem: await readFile(flags.key, "utf8").catch(() => {
              throw new UsageError(
                `--key ${flags.key}: cannot read this file; pass the organizer's private key PEM (leaderboard.key.pem)`,
              );
            }),
            source: `--key ${flags.key}`,
          }
        : undefined;
      const report = await checkSetup(flags.config, {
        ...(privateKey && { privateKey }),
        scorerImages: flags.image ? [flags.image] : await runtimeImages(flags.config),
        ...(flags.gateway && { gatewayEnv: process.env }),
      });
      process.stdout.write(reportText(report));
      process.exitCode = exitCode(report);
    });
}

/** The runtime images a scorer without its own runs in, preferred first: the competition's cpu, the offline. */
async function runtimeImages(config: string): Promise<string[]> {
  const competition = await loadCompetition(config).catch((error: unknown) => {
    if (error instanceof YamlConfigError) return null; // checkSetup reports it
    throw error;
  });
  return competition ? [imageRef(competition, "cpu"), imageRef(competition, "offline")] : [];
}

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

export function exitCode(report: SetupReport): number {
  if (report.problems.length > 0) return EXIT_CODES.usageError;
  if (report.unavailable.length > 0) return EXIT_CODES.infrastructureError;
  return EXIT_CODES.succeeded;
}
