import { Command, Option } from "commander";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  generateSealingKeys,
  RENDER_FORMATS,
  renderStandings,
  reveal,
  type RenderFormat,
} from "../leaderboard/index.js";
import { finalEntries } from "../lifecycle/index.js";
import { competitionFrom, CONFIG_OPTION, gatewayRecords } from "./context.js";
import { localStore, otherBoardsLine } from "./local-board.js";
import { UsageError } from "./usage-error.js";

const formatOption = () =>
  new Option("--format <format>", "markdown, json or html").choices(RENDER_FORMATS).default("markdown");

async function emit(text: string, out: string | undefined): Promise<void> {
  if (!out) return void process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  await mkdir(path.dirname(path.resolve(out)), { recursive: true });
  await writeFile(out, text);
  process.stderr.write(`wrote ${out}\n`);
}

/** The submissions participants chose on the gateway (final_selection mode `chosen`). */
function readChoices(dataDir: string): Set<string> {
  const db = gatewayRecords(dataDir, "--chosen-from");
  try {
    return db.chosenIds();
  } finally {
    db.close();
  }
}

export function leaderboardCommand(): Command {
  const command = new Command("leaderboard").description("show, reveal or key the local leaderboard");

  command
    .command("show")
    .description("rank the recorded entries by public score and render them")
    .option(...CONFIG_OPTION)
    .addOption(formatOption())
    .option("--out <file>", "write to a file instead of stdout")
    .action(async (flags: { config: string; format: RenderFormat; out?: string }) => {
      const competition = await competitionFrom(flags.config);
      const store = await localStore(competition);
      try {
        await emit(
          renderStandings(await store.list(), competition.leaderboard, {
            competition: competition.name,
            format: flags.format,
          }),
          flags.out,
        );
        const boards = otherBoardsLine(store, competition, true);
        if (boards) process.stderr.write(`${boards}\n`);
      } finally {
        await store.close();
      }
    });

  command
    .command("reveal")
    .description("open the sealed private scores with the organizer's private key and rank by them")
    .requiredOption("--key <file>", "the organizer's private key (PEM)")
    .option(...CONFIG_OPTION)
    .addOption(formatOption())
    .option("--out <file>", "write to a file instead of stdout")
    .option(
      "--chosen-from <gateway data dir>",
      "the gateway's data dir, for participants' choices when final_selection.mode is chosen (without it, " +
        "each participant's best entries by public score count)",
    )
    .action(
      async (flags: {
        config: string;
        key: string;
        format: RenderFormat;
        out?: string;
        chosenFrom?: string;
      }) => {
        const competition = await competitionFrom(flags.config);
        const key = await readFile(flags.key, "utf8").catch(() => {
          throw new UsageError(
            `--key ${flags.key}: cannot read this file; pass the organizer's private key PEM`,
          );
        });
        const store = await localStore(competition);
        try {
          const revealed = await reveal(store, key);
          const chosen = flags.chosenFrom ? readChoices(flags.chosenFrom) : new Set<string>();
          const final = finalEntries(
            revealed,
            competition.lifecycle.finalSelection,
            competition.scoring.direction,
            chosen,
          );
          await emit(
            renderStandings(final, competition.leaderboard, {
              competition: competition.name,
              format: flags.format,
              mode: "private",
            }),
            flags.out,
          );
        } finally {
          await store.close();
        }
      },
    );

  command
    .command("keygen")
    .description("make the organizer's key pair for sealing private scores")
    .requiredOption("--out-dir <dir>", "folder for leaderboard.pub.pem and leaderboard.key.pem")
    .action(async (flags: { outDir: string }) => {
      const keys = generateSealingKeys();
      await mkdir(flags.outDir, { recursive: true });
      const pub = path.join(flags.outDir, "leaderboard.pub.pem");
      const priv = path.join(flags.outDir, "leaderboard.key.pem");
      await writeFile(pub, keys.publicKeyPem, { flag: "wx" }).catch(refuseOverwrite(pub));
      await writeFile(priv, keys.privateKeyPem, { flag: "wx", mode: 0o600 }).catch(refuseOverwrite(priv));
      process.stdout.write(
        `wrote ${pub} (set leaderboard.sealing_public_key to it) and ${priv} (keep it secret, off the runners)\n`,
      );
    });
  return command;
}

function refuseOverwrite(file: string) {
  return (error: NodeJS.ErrnoException) => {
    if (error.code === "EEXIST")
      throw new UsageError(`${file} already exists; move it away first (a key is never overwritten)`);
    throw error;
  };
}
