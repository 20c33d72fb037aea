import { Command } from "commander";
import { spawn } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CONTAINER, ENTRYPOINT_ENV } from "../contract/index.js";
import { checkCompetitionSetup } from "../pipeline/preflight.js";
import { submissionSandboxRequest } from "../pipeline/run-submission.js";
import { describeLimits, ensureModelsVolume, interactiveRunArgs, resolveImage } from "../sandbox/index.js";
import { extractSubmission, packSubmission } from "../submission/index.js";
import { competitionFrom, CONFIG_OPTION } from "./context.js";
import { chosenRuntime, runtimeOption } from "./options.js";

interface InteractFlags {
  image: string;
  from: string;
  gpu: boolean;
  config: string;
  runtime?: string;
}

/**
 * The real run with a shell instead of the program: the same mounts, limits, user, environment and working
 * folder as `test-submission`, to debug a submission by hand (`python3 main.py` runs it as a run does).
 */
export function interactCommand(): Command {
  return new Command("interact")
    .description("open a shell in the runtime, set up exactly as a run of the submission is")
    .requiredOption("--image <ref>", "the runtime image")
    .option("--from <dir>", "the submission folder shown at /code_execution/src", "example_submission")
    .option("--gpu", "give the container the host's NVIDIA GPUs", false)
    .option(...CONFIG_OPTION)
    .addOption(runtimeOption())
    .action(async (flags: InteractFlags) => {
      const competition = await competitionFrom(flags.config);
      const format = await checkCompetitionSetup(competition);
      const runtime = await chosenRuntime(flags.runtime, competition.limits.runtime, flags.config);
      const work = await mkdtemp(path.join(os.tmpdir(), "proctor-interact-"));
      try {
        // Pack and extract, so the shell sees exactly what a run of this folder would.
        const zip = path.join(work, "submission.zip");
        await packSubmission(flags.from, zip);
        const extracted = await extractSubmission(zip, path.join(work, "src"), competition.zipLimits);
        await chmod(extracted.root, 0o755);
        const image = await resolveImage(flags.image);
        // The models volume of a run (runtime.models), leased for a long session.
        const models =
          competition.models && (await ensureModelsVolume(competition.models, { needMs: 24 * 3_600_000 }));
        const request = submissionSandboxRequest(
          {
            image: flags.image,
            dataDir: competition.paths.dataDir,
            outputDir: path.join(work, "out"),
            limits: { ...competition.limits, runtime },
            expectedOutput: format.file,
            gpu: flags.gpu,
          },
          "interactive",
          extracted,
          models ? models.name : undefined,
        );
        // The runtime's entrypoint sets up the working folder, then starts bash instead of the program; an
        // image without one gets bash in the code folder.
        request.env = { ...request.env, [ENTRYPOINT_ENV.interactive]: "1" };
        if (!image.hasEntrypoint) request.command = ["bash"];
        const args = interactiveRunArgs(request, image, process.stdin.isTTY === true);
        process.stderr.write(
          banner(flags.from, competition.paths.dataDir, request.limits, competition.models?.image),
        );
        const code = await new Promise<number>((resolve) =>
          spawn("docker", args, { stdio: "inherit" }).on("close", (c) => resolve(c ?? 1)),
        );
        process.exitCode = code;
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    });
}

function banner(
  from: string,
  dataDir: string,
  limits: Parameters<typeof describeLimits>[0],
  models?: string,
): string {
  // A run's time limit does not end the shell: time python3 main.py against it.
  const shown = Object.entries(describeLimits(limits))
    .map(([k, v]) => (k === "time_limit" ? `time limit ${v} (a run's; not the shell's)` : `${k} ${v}`))
    .join(", ");
  return [
    "proctor interact: the run's container, with a shell instead of your program",
    `  ${CONTAINER.src}         ${from} (packed and extracted as a run does), read-only`,
    `  ${CONTAINER.data}        ${path.relative(process.cwd(), dataDir) || dataDir}, read-only`,
    `  ${CONTAINER.submission}  writable, capped; discarded when the shell exits`,
    ...(models ? [`  ${CONTAINER.models}      ${models}, read-only`] : []),
    "  /tmp                        writable scratch (HOME), capped; exec allowed",
    `  limits: ${shown}; no network`,
    "",
  ].join("\n");
}
