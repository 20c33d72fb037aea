/**
 * `proctor runner`: a pull runner on this machine's Docker engine. It claims queued submissions of its
 * kind from the gateway, one per slot, runs each through the one pipeline, and reports it (src/runner).
 * SIGTERM drains (no new claims; the runs under way finish and report; exit 0); a first SIGINT drains too,
 * a second stops at once (runs stopped, claims given back to the queue).
 */
import { Command, InvalidArgumentError, Option } from "commander";
import os from "node:os";
import { imageRef } from "../config/index.js";
import { formatRunnerEvent, jsonRunnerEvent, PullRunner, type RunnerEvent } from "../runner/index.js";
import { competitionFrom, CONFIG_OPTION } from "./context.js";
import { UsageError } from "./usage-error.js";

/** The variable the runner credential is read from (never a flag: flags show in `ps`). */
export const RUNNER_CREDENTIAL_ENV = "PROCTOR_RUNNER_CREDENTIAL";

const slots = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256)
    throw new InvalidArgumentError(`--slots "${value}" must be a whole number from 1 to 256 (runs at once)`);
  return n;
};

/** A gateway base URL: http(s), a host, maybe a path; no query or fragment. */
export function gatewayUrlArg(value: string): string {
  if (!/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(value))
    throw new InvalidArgumentError(
      `--gateway ${JSON.stringify(value)} must be the gateway's http(s) base URL, e.g. https://submit.example.org`,
    );
  return value.replace(/\/+$/, "");
}

interface RunnerFlags {
  gateway: string;
  kind: "cpu" | "gpu";
  slots: number;
  json?: boolean;
  config: string;
  image?: string;
  name: string;
}

/** Writes runner events as lines (text or JSON) to stdout. */
export function runnerLogger(json: boolean): (event: RunnerEvent) => void {
  return (event) => process.stdout.write(`${json ? jsonRunnerEvent(event) : formatRunnerEvent(event)}\n`);
}

/**
 * SIGTERM drains and exits 0; SIGINT drains, and a second SIGINT stops at once (exit 130). Resolves when
 * the runner has stopped.
 */
export async function runUntilSignalled(runner: PullRunner): Promise<void> {
  let interrupts = 0;
  const onTerm = () => void runner.drain();
  const onInt = () => {
    interrupts += 1;
    if (interrupts === 1) {
      process.stderr.write(
        "proctor runner: draining; press Ctrl-C again to stop at once (claims given back)\n",
      );
      void runner.drain();
    } else {
      process.exitCode = 130;
      void runner.stopNow();
    }
  };
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onInt);
  try {
    await runner.start();
  } finally {
    process.removeListener("SIGTERM", onTerm);
    process.removeListener("SIGINT", onInt);
  }
  // A credential the gateway refuses stops the runner: the operator's to fix, not a crash to restart into.
  if (runner.refused) throw new UsageError(runner.refused);
}

export function runnerCommand(): Command {
  return new Command("runner")
    .description(
      "a pull runner: claims queued submissions of its kind from the gateway (one per slot), runs, scores and " +
        `reports them; the runner credential is read from ${RUNNER_CREDENTIAL_ENV} (\`proctor runners add <name>\`)`,
    )
    .requiredOption("--gateway <url>", "the gateway's base URL", gatewayUrlArg)
    .addOption(new Option("--kind <kind>", "the submissions it runs").choices(["cpu", "gpu"]).default("cpu"))
    .option("--slots <n>", "submissions run at once (a gpu runner: one GPU each, device 0, 1, …)", slots, 1)
    .option("--json", "log one JSON object per line (for collectors)")
    .option(...CONFIG_OPTION)
    .option("--image <ref>", "the runtime image (default: the competition's for --kind)")
    .option(
      "--name <name>",
      "this runner's name at the gateway (its slots are <name>/slot-<i>)",
      os.hostname(),
    )
    .action(async (flags: RunnerFlags) => {
      const token = process.env[RUNNER_CREDENTIAL_ENV];
      if (!token) {
        throw new UsageError(
          `no runner credential: set ${RUNNER_CREDENTIAL_ENV} to one made on the gateway's machine with ` +
            "`proctor runners add <runner name>` (a prc_… credential)",
        );
      }
      if (!token.startsWith("prc_")) {
        throw new UsageError(
          `${RUNNER_CREDENTIAL_ENV} is not a runner credential (those start prc_): make one with ` +
            "`proctor runners add <runner name>` on the gateway's machine",
        );
      }
      if (!/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,60}$/.test(flags.name)) {
        throw new UsageError(
          `--name ${JSON.stringify(flags.name)} must be 1 to 61 letters, digits or ._:@- (e.g. gpu-box-1)`,
        );
      }
      const competition = await competitionFrom(flags.config);
      if (!competition.runners.includes(flags.kind)) {
        throw new UsageError(
          `--kind ${flags.kind}: ${competition.file} has no ${flags.kind} runners (runners: ` +
            `${competition.runners.join(", ")}), so no such submission is ever queued; pass --kind ` +
            `${competition.runners[0]}`,
        );
      }
      const runner = new PullRunner({
        gateway: { server: flags.gateway, token },
        kind: flags.kind,
        slots: flags.slots,
        competition,
        image: flags.image ?? imageRef(competition, flags.kind),
        name: flags.name,
        log: runnerLogger(flags.json ?? false),
      });
      await runUntilSignalled(runner);
    });
}
