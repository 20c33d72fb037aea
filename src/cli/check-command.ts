import { Command } from "commander";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { imageRef, loadCompetition, YamlConfigError } from "../config/index.js";
import { IntakeDb, type TokenKind } from "../intake/index.js";
import { checkSetup, type SetupReport } from "../pipeline/setup-check.js";
import { EXIT_CODES } from "../status/index.js";
import { CONFIG_OPTION } from "./context.js";
import { DATA_DIR_OPTION } from "./serve-command.js";
import { reportText } from "./setup-report.js";
import { UsageError } from "./usage-error.js";

interface Flags {
  config: string;
  key?: string;
  image?: string;
  gateway: boolean;
  dataDir: string;
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
    .option(
      "--gateway",
      "also check what proctor serve needs: its GitHub token, and the tokens in --data-dir",
      false,
    )
    .option(...DATA_DIR_OPTION)
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
      if (flags.gateway) report.notes.push(...tokenNotes(flags.dataDir));
      process.stdout.write(reportText(report));
      process.exitCode = exitCode(report);
    });
}

/** Which of the tokens the gateway's people and runners need are still to be made (notes, not problems). */
function tokenNotes(dataDir: string): string[] {
  const file = path.join(path.resolve(dataDir), "intake.sqlite");
  if (!existsSync(file))
    return [
      `--data-dir ${dataDir}: no gateway data yet; proctor runners add, admins add and tokens add make the runners', organizers' and participants' tokens there`,
    ];
  const db = new IntakeDb(file);
  try {
    const wanted: [TokenKind, string][] = [
      [
        "runner",
        "no runner credential: runners cannot take submissions; make one with proctor runners add <runner>",
      ],
      ["admin", "no admin token: nobody can open /admin; make one with proctor admins add <name>"],
      ["participant", "no participant token yet: make them with proctor tokens add <participant>"],
    ];
    return wanted
      .filter(([kind]) => !db.listTokens(kind).some((token) => token.revokedAt === null))
      .map(([, note]) => `--data-dir ${dataDir}: ${note}`);
  } finally {
    db.close();
  }
}

/** The runtime images a scorer without its own runs in, preferred first: the competition's cpu, the offline. */
async function runtimeImages(config: string): Promise<string[]> {
  const competition = await loadCompetition(config).catch((error: unknown) => {
    if (error instanceof YamlConfigError) return null; // checkSetup reports it
    throw error;
  });
  return competition ? [imageRef(competition, "cpu"), imageRef(competition, "offline")] : [];
}

export function exitCode(report: SetupReport): number {
  if (report.problems.length > 0) return EXIT_CODES.usageError;
  if (report.unavailable.length > 0) return EXIT_CODES.infrastructureError;
  return EXIT_CODES.succeeded;
}
