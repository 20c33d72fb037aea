import { loadCompetition, YamlConfigError, type Competition } from "../config/index.js";
import { existsSync } from "node:fs";
import path from "node:path";
import { IntakeDb } from "../intake/index.js";
import { UsageError } from "./usage-error.js";

/** competition.yml, with its errors turned into a usage error that lists them by line. */
export async function competitionFrom(configPath: string): Promise<Competition> {
  try {
    return await loadCompetition(configPath);
  } catch (error) {
    if (error instanceof YamlConfigError) throw new UsageError(error.message);
    throw error;
  }
}

export const CONFIG_OPTION = ["--config <file>", "the competition's settings", "competition.yml"] as const;

/**
 * The records of an existing gateway (intake.sqlite in its data dir), for commands that read or write them
 * beside it; `flag` names the option that gave the folder, in the error when there is none.
 */
export function gatewayRecords(dataDir: string, flag = "--data-dir"): IntakeDb {
  const file = path.join(path.resolve(dataDir), "intake.sqlite");
  if (!existsSync(file)) {
    throw new UsageError(
      `${flag} ${dataDir}: no intake.sqlite there; pass the gateway's --data-dir (default .proctor/gateway)`,
    );
  }
  return new IntakeDb(file);
}
