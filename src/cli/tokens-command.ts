import { Command } from "commander";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { IntakeDb, TokenError, TokenRegistry } from "../intake/index.js";
import { DATA_DIR_OPTION } from "./serve-command.js";
import { UsageError } from "./usage-error.js";

/** Opens the gateway's token registry (safe while `proctor serve` runs on the same data dir). */
async function withRegistry<T>(dataDir: string, use: (registry: TokenRegistry) => T): Promise<T> {
  await mkdir(path.resolve(dataDir), { recursive: true, mode: 0o700 });
  const db = new IntakeDb(path.join(path.resolve(dataDir), "intake.sqlite"));
  try {
    return use(new TokenRegistry(db));
  } catch (error) {
    if (error instanceof TokenError) throw new UsageError(error.message);
    throw error;
  } finally {
    db.close();
  }
}

export function tokensCommand(): Command {
  const command = new Command("tokens").description(
    "participants' upload tokens for the gateway (add, list, revoke)",
  );

  command
    .command("add")
    .description("make a token for a participant; it is printed once, only its hash is kept")
    .argument("<participant>", "the participant's name, as the leaderboard shows it")
    .option(...DATA_DIR_OPTION)
    .option("--json", "print exactly one JSON object", false)
    .action(async (participant: string, flags: { dataDir: string; json: boolean }) => {
      const issued = await withRegistry(flags.dataDir, (registry) => registry.add(participant));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(issued)}\n`);
        return;
      }
      process.stdout.write(`${issued.token}\n`);
      process.stderr.write(
        `token ${issued.id} for ${JSON.stringify(participant)}: give it to them privately; it cannot be shown ` +
          `again (revoke it with \`proctor tokens revoke ${issued.id}\`)\n`,
      );
    });

  command
    .command("list")
    .description("list the tokens (ids, participants, when made and revoked; never the tokens)")
    .option(...DATA_DIR_OPTION)
    .option("--json", "print exactly one JSON object", false)
    .action(async (flags: { dataDir: string; json: boolean }) => {
      const tokens = await withRegistry(flags.dataDir, (registry) => registry.list());
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ tokens })}\n`);
        return;
      }
      if (tokens.length === 0) {
        process.stdout.write("no tokens yet: `proctor tokens add <participant>` makes one\n");
        return;
      }
      for (const t of tokens) {
        const state = t.revokedAt ? `revoked ${t.revokedAt}` : "active";
        process.stdout.write(`${t.id}  ${JSON.stringify(t.participant)}  made ${t.createdAt}  ${state}\n`);
      }
    });

  command
    .command("revoke")
    .description("revoke a token at once (the server checks every request)")
    .argument("<id>", "the token's id, as `proctor tokens list` shows it")
    .option(...DATA_DIR_OPTION)
    .action(async (id: string, flags: { dataDir: string }) => {
      const revoked = await withRegistry(flags.dataDir, (registry) => registry.revoke(id));
      process.stdout.write(`revoked token ${revoked.id} of ${JSON.stringify(revoked.participant)}\n`);
    });
  return command;
}
