import { loadCompetition, YamlConfigError, type Competition } from "../config/index.js";
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
