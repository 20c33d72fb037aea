import { mkdir } from "node:fs/promises";
import path from "node:path";
import { loadCompetition, YamlConfigError, type Competition } from "../config/index.js";
import { SqliteLeaderboardStore } from "../leaderboard/index.js";
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

/** The local leaderboard store named in competition.yml (created on first use). */
export async function localStore(competition: Competition): Promise<SqliteLeaderboardStore> {
  await mkdir(path.dirname(competition.leaderboard.store), { recursive: true });
  return new SqliteLeaderboardStore(competition.leaderboard.store);
}

export const CONFIG_OPTION = ["--config <file>", "the competition's settings", "competition.yml"] as const;
