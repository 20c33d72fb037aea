import { Command } from "commander";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { IntakeDb, TokenError, TokenRegistry, type TokenKind } from "../intake/index.js";
import { DATA_DIR_OPTION } from "./serve-command.js";
import { UsageError } from "./usage-error.js";

/** Opens the gateway's registry of one kind of token (safe while `proctor serve` runs on the same data dir). */
async function withRegistry<T>(
  dataDir: string,
  kind: TokenKind,
  use: (registry: TokenRegistry) => T,
): Promise<T> {
  await mkdir(path.resolve(dataDir), { recursive: true, mode: 0o700 });
  const db = new IntakeDb(path.join(path.resolve(dataDir), "intake.sqlite"));
  try {
    return use(new TokenRegistry(db, kind));
  } catch (error) {
    if (error instanceof TokenError) throw new UsageError(error.message);
    throw error;
  } finally {
    db.close();
  }
}

interface Wording {
  name: "tokens" | "runners" | "admins";
  description: string;
  holder: string;
  holderHelp: string;
  /** What to do with a new token, after "token <id> for <holder>: ". */
  handOver: string;
}

const WORDING: Record<TokenKind, Wording> = {
  participant: {
    name: "tokens",
    description: "participants' upload tokens for the gateway (add, list, revoke)",
    holder: "participant",
    holderHelp: "the participant's name, as the leaderboard shows it",
    handOver: "give it to them privately; it cannot be shown again",
  },
  runner: {
    name: "runners",
    description:
      "runner credentials: what self-hosted runners download zips and report results with (add, list, revoke)",
    holder: "runner",
    holderHelp: "a name for the runner or runner group, e.g. its host name",
    handOver:
      "store it as the repository secret PROCTOR_RUNNER_CREDENTIAL (Settings → Secrets and variables → " +
      "Actions); it cannot be shown again. To rotate: add a new one, update the secret, revoke the old one",
  },
  admin: {
    name: "admins",
    description:
      "organizers' admin tokens: sign in to the gateway's organizer page /admin (add, list, revoke)",
    holder: "organizer",
    holderHelp: "the organizer's name",
    handOver: "keep it to yourself and sign in at <gateway>/signin; it cannot be shown again",
  },
};

/**
 * `proctor tokens` (participants), `proctor runners` (runner credentials) and `proctor admins` (organizers'
 * tokens): one registry, three kinds.
 */
export function tokensCommand(kind: TokenKind = "participant"): Command {
  const words = WORDING[kind];
  const command = new Command(words.name).description(words.description);

  command
    .command("add")
    .description("make a token; it is printed once, only its hash is kept")
    .argument(`<${words.holder}>`, words.holderHelp)
    .option(...DATA_DIR_OPTION)
    .option("--json", "print exactly one JSON object", false)
    .action(async (holder: string, flags: { dataDir: string; json: boolean }) => {
      const issued = await withRegistry(flags.dataDir, kind, (registry) => registry.add(holder));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(issued)}\n`);
        return;
      }
      process.stdout.write(`${issued.token}\n`);
      process.stderr.write(
        `token ${issued.id} for ${JSON.stringify(holder)}: ${words.handOver} ` +
          `(revoke it with \`proctor ${words.name} revoke ${issued.id}\`)\n`,
      );
    });

  command
    .command("list")
    .description(`list the tokens (ids, ${words.holder}s, when made and revoked; never the tokens)`)
    .option(...DATA_DIR_OPTION)
    .option("--json", "print exactly one JSON object", false)
    .action(async (flags: { dataDir: string; json: boolean }) => {
      const tokens = await withRegistry(flags.dataDir, kind, (registry) => registry.list());
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ tokens })}\n`);
        return;
      }
      if (tokens.length === 0) {
        process.stdout.write(`no tokens yet: \`proctor ${words.name} add <${words.holder}>\` makes one\n`);
        return;
      }
      for (const t of tokens) {
        const state = t.revokedAt ? `revoked ${t.revokedAt}` : "active";
        process.stdout.write(`${t.id}  ${JSON.stringify(t.holder)}  made ${t.createdAt}  ${state}\n`);
      }
    });

  command
    .command("revoke")
    .description("revoke a token at once (the server checks every request)")
    .argument("<id>", `the token's id, as \`proctor ${words.name} list\` shows it`)
    .option(...DATA_DIR_OPTION)
    .action(async (id: string, flags: { dataDir: string }) => {
      const revoked = await withRegistry(flags.dataDir, kind, (registry) => registry.revoke(id));
      process.stdout.write(`revoked token ${revoked.id} of ${JSON.stringify(revoked.holder)}\n`);
    });
  return command;
}
