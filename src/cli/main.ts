import { Command, CommanderError } from "commander";
import { EXIT_CODES } from "../status/index.js";
import { isCommandName, type CommandName } from "./command-names.js";
import { UsageError } from "./usage-error.js";

/**
 * Each command's module is loaded only when that command runs (or for the full help): a cold `proctor run`
 * then doesn't load the gateway's web server or the GitHub client, and `proctor serve` doesn't load Docker's.
 */
const COMMANDS: Record<CommandName, () => Promise<Command>> = {
  run: () => import("./run-command.js").then((m) => m.runCommand()),
  "test-submission": () => import("./test-submission-command.js").then((m) => m.testSubmissionCommand()),
  score: () => import("./score-command.js").then((m) => m.scoreCommand()),
  pack: () => import("./pack-command.js").then((m) => m.packCommand()),
  leaderboard: () => import("./leaderboard-command.js").then((m) => m.leaderboardCommand()),
  "test-image": () => import("./test-image-command.js").then((m) => m.testImageCommand()),
  interact: () => import("./interact-command.js").then((m) => m.interactCommand()),
  "image-ref": () => import("./image-ref-command.js").then((m) => m.imageRefCommand()),
  check: () => import("./check-command.js").then((m) => m.checkCommand()),
  serve: () => import("./serve-command.js").then((m) => m.serveCommand()),
  runner: () => import("./runner-command.js").then((m) => m.runnerCommand()),
  tokens: () => import("./tokens-command.js").then((m) => m.tokensCommand("participant")),
  runners: () => import("./tokens-command.js").then((m) => m.tokensCommand("runner")),
  admins: () => import("./tokens-command.js").then((m) => m.tokensCommand("admin")),
  admin: () => import("./admin-command.js").then((m) => m.adminCommand()),
  cancel: () => import("./cancel-command.js").then((m) => m.cancelCommand()),
  submit: () => import("./submit-command.js").then((m) => m.submitCommand()),
  status: () => import("./status-command.js").then((m) => m.statusCommand()),
  runtime: () => import("./runtime-command.js").then((m) => m.runtimeCommand()),
};

/** Commands that run containers: an interrupt removes the run's containers before the process ends. */
const RUNS_CONTAINERS = new Set<CommandName>(["run", "test-submission", "test-image", "interact"]);

/** Runs the command line (no top-level await: the executable loads this as a CommonJS bundle). */
async function main(): Promise<void> {
  const program = new Command("proctor")
    .description("Run, score and rank code-execution competition submissions in a sandboxed runtime.")
    .showHelpAfterError()
    .exitOverride();
  const invoked = process.argv[2];
  const known = isCommandName(invoked);
  const wanted = known ? [COMMANDS[invoked]] : Object.values(COMMANDS);
  const runsContainers = known && RUNS_CONTAINERS.has(invoked);
  const [signals, ...commands] = await Promise.all([
    runsContainers ? import("./signals.js") : null,
    ...wanted.map((load) => load()),
  ]);
  for (const command of commands) program.addCommand(command);
  signals?.removeContainersOnSignals();

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
      internalError(error);
    }
  }
}

function internalError(error: unknown): void {
  process.stderr.write(
    `proctor: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = EXIT_CODES.infrastructureError;
}

main().catch(internalError);
