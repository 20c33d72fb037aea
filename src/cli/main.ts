#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { EXIT_CODES } from "../status/index.js";
import { interactCommand } from "./interact-command.js";
import { imageRefCommand } from "./image-ref-command.js";
import { leaderboardCommand } from "./leaderboard-command.js";
import { packCommand } from "./pack-command.js";
import { runCommand } from "./run-command.js";
import { scoreCommand } from "./score-command.js";
import { serveCommand } from "./serve-command.js";
import { statusCommand } from "./status-command.js";
import { submitCommand } from "./submit-command.js";
import { testImageCommand } from "./test-image-command.js";
import { testSubmissionCommand } from "./test-submission-command.js";
import { tokensCommand } from "./tokens-command.js";
import { UsageError } from "./usage-error.js";

const program = new Command("proctor")
  .description("Run, score and rank code-execution competition submissions in a sandboxed runtime.")
  .showHelpAfterError()
  .exitOverride()
  .addCommand(runCommand())
  .addCommand(testSubmissionCommand())
  .addCommand(scoreCommand())
  .addCommand(packCommand())
  .addCommand(leaderboardCommand())
  .addCommand(testImageCommand())
  .addCommand(interactCommand())
  .addCommand(imageRefCommand())
  .addCommand(serveCommand())
  .addCommand(tokensCommand())
  .addCommand(submitCommand())
  .addCommand(statusCommand());

// Every parse error is a usage error (exit 2), in subcommands too.
const overrideAll = (command: Command): void => {
  command.exitOverride();
  command.commands.forEach(overrideAll);
};
overrideAll(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version are not errors; everything else commander refuses is a usage error.
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_CODES.usageError;
  } else if (error instanceof UsageError) {
    process.stderr.write(`proctor: ${error.message}\n`);
    process.exitCode = EXIT_CODES.usageError;
  } else {
    process.stderr.write(
      `proctor: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = EXIT_CODES.infrastructureError;
  }
}
