/**
 * `proctor admin reveal` and `proctor admin export`: the end of a competition, on the gateway's data dir.
 * The reveal opens the final phase's sealed private scores with the organizer's private key (read here,
 * never stored) and publishes the final ranking on the gateway (/leaderboard?board=private); the export
 * writes every submission as CSV or JSON, as `GET /v1/admin/export` does.
 */
import { Command, Option } from "commander";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  EXPORT_FORMATS,
  exportCsv,
  exportSubmissions,
  readRevealed,
  revealFinal,
  RevealRefusedError,
  writeRevealed,
  type ExportFormat,
  type RevealedBoard,
} from "../intake/index.js";
import type { Competition } from "../config/index.js";
import { createGitHubClient, publishRevealedBoard, type RevealedBoardTarget } from "../github/index.js";
import { RevealError, renderStandings } from "../leaderboard/index.js";
import { competitionFrom, CONFIG_OPTION, gatewayRecords } from "./context.js";
import { DATA_DIR_OPTION } from "./serve-command.js";
import { UsageError } from "./usage-error.js";

interface RevealFlags {
  key: string;
  force: boolean;
  config: string;
  dataDir: string;
  json: boolean;
  repo?: string;
  branch: string;
  githubApiUrl: string;
}

/** --repo, --branch and the GitHub token: where the final ranking is published beside the public board. */
function branchTarget(flags: RevealFlags): RevealedBoardTarget & { branch: string } {
  const [owner, repo, ...rest] = flags.repo!.split("/");
  if (!owner || !repo || rest.length > 0)
    throw new UsageError(`--repo ${JSON.stringify(flags.repo)} must be owner/name`);
  const token = process.env["PROCTOR_GITHUB_TOKEN"] || process.env["GITHUB_TOKEN"];
  if (!token) {
    throw new UsageError(
      `--repo ${flags.repo}: no GitHub token; set PROCTOR_GITHUB_TOKEN (or GITHUB_TOKEN) to a token that may ` +
        `write to branch ${flags.branch} (fine-grained: Contents read and write), or leave --repo out`,
    );
  }
  const client = createGitHubClient({ token, baseUrl: flags.githubApiUrl });
  return { client, owner, repo, branch: flags.branch };
}

/** The revealed board as the branch shows boards: JSON and a Markdown table. The files written. */
function publishOnBranch(target: RevealedBoardTarget, board: RevealedBoard, competition: Competition) {
  const render = (format: "json" | "markdown") =>
    renderStandings(board.entries, competition.leaderboard, {
      competition: competition.name,
      format,
      mode: "private",
      generatedAt: new Date(board.revealedAt),
      ...(board.phase !== null && { phase: board.phase }),
    });
  return publishRevealedBoard(target, { json: render("json"), markdown: render("markdown") });
}

export function addRevealAndExport(command: Command): void {
  command
    .command("reveal")
    .description(
      "after the end: open the final phase's private scores with the organizer's private key and publish " +
        "the final ranking on the gateway (/leaderboard?board=private)",
    )
    .requiredOption("--key <file>", "the organizer's private key (PEM); read here, never stored")
    .option("--force", "reveal before timeline.end (submissions may still come)", false)
    .option(...CONFIG_OPTION)
    .option(...DATA_DIR_OPTION)
    .option(
      "--repo <owner/name>",
      "also publish it on the repository's leaderboard branch (private-leaderboard.json, PRIVATE.md); the " +
        "token comes from PROCTOR_GITHUB_TOKEN or GITHUB_TOKEN",
    )
    .option("--branch <name>", "the leaderboard branch", "leaderboard")
    .option(
      "--github-api-url <url>",
      "GitHub's API (GitHub Enterprise: https://HOST/api/v3)",
      "https://api.github.com",
    )
    .option("--json", "print exactly one JSON object", false)
    .action(async (flags: RevealFlags) => {
      const competition = await competitionFrom(flags.config);
      const key = await readFile(flags.key, "utf8").catch(() => {
        throw new UsageError(
          `--key ${flags.key}: cannot read this file; pass the organizer's private key PEM`,
        );
      });
      const target = flags.repo === undefined ? undefined : branchTarget(flags);
      const db = gatewayRecords(flags.dataDir);
      let board: RevealedBoard;
      let file: string;
      try {
        const revealed = revealFinal({
          db,
          competition,
          privateKeyPem: key,
          now: new Date(),
          force: flags.force,
        });
        ({ file, board } = writeRevealed(path.resolve(flags.dataDir), revealed));
      } catch (error) {
        if (error instanceof RevealRefusedError || error instanceof RevealError)
          throw new UsageError(error.message);
        throw error;
      } finally {
        db.close();
      }
      const ranked = board.entries.filter((e) => e.privateScore !== null).length;
      const published = target ? await publishOnBranch(target, board, competition) : undefined;
      const summary = {
        file,
        phase: board.phase,
        revealed_at: board.revealedAt,
        ranked_entries: ranked,
        ...(published && { branch_files_written: published }),
      };
      const phase = board.phase === null ? "" : ` of phase ${board.phase}`;
      const onBranch = !published
        ? ""
        : published.length === 0
          ? `; branch ${target!.branch} already had it`
          : `; wrote ${published.join(" and ")} on branch ${target!.branch} of ${flags.repo}`;
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(summary)}\n`
          : `revealed ${ranked} selected entr${ranked === 1 ? "y" : "ies"}${phase}: ${file}; the gateway ` +
              `shows it at /leaderboard?board=private${onBranch}\n`,
      );
    });

  command
    .command("export")
    .description("every submission (phase, attempts, statuses, scores, digests; disqualified ones marked)")
    .addOption(new Option("--format <format>", "csv or json").choices(EXPORT_FORMATS).default("csv"))
    .option("--out <file>", "write to a file instead of stdout")
    .option(...CONFIG_OPTION)
    .option(...DATA_DIR_OPTION)
    .action(async (flags: { format: ExportFormat; out?: string; config: string; dataDir: string }) => {
      const competition = await competitionFrom(flags.config);
      const db = gatewayRecords(flags.dataDir);
      let text: string;
      try {
        const revealed = readRevealed(path.resolve(flags.dataDir));
        const document = exportSubmissions(db, competition.name, revealed, new Date());
        text = flags.format === "csv" ? exportCsv(document) : `${JSON.stringify(document, null, 2)}\n`;
      } finally {
        db.close();
      }
      if (!flags.out) return void process.stdout.write(text);
      await mkdir(path.dirname(path.resolve(flags.out)), { recursive: true });
      await writeFile(flags.out, text, { mode: 0o600 });
      process.stderr.write(`wrote ${flags.out}\n`);
    });
}
