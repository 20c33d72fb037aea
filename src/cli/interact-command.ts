import { Command } from "commander";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CONTAINER } from "../pipeline/contract.js";
import { interactiveRunArgs, resolveImage } from "../sandbox/index.js";
import { packSubmission, extractSubmission } from "../submission/index.js";
import { competitionFrom, CONFIG_OPTION } from "./context.js";
import { chosenRuntime, runtimeOption } from "./options.js";

interface InteractFlags {
  image: string;
  from: string;
  gpu: boolean;
  config: string;
  runtime?: string;
}

/** A shell in the runtime with the mounts and limits of a real run, to debug a submission by hand. */
export function interactCommand(): Command {
  return new Command("interact")
    .description("open a shell in the runtime with the same mounts and limits as a run")
    .requiredOption("--image <ref>", "the runtime image")
    .option("--from <dir>", "the submission folder shown at /code_execution/src", "example_submission")
    .option("--gpu", "give the container the host's NVIDIA GPUs", false)
    .option(...CONFIG_OPTION)
    .addOption(runtimeOption())
    .action(async (flags: InteractFlags) => {
      const competition = await competitionFrom(flags.config);
      const runtime = await chosenRuntime(flags.runtime, competition.limits.runtime, flags.config);
      const work = await mkdtemp(path.join(os.tmpdir(), "proctor-interact-"));
      try {
        // Pack and extract, so the shell sees exactly what a run of this folder would.
        const zip = path.join(work, "submission.zip");
        await packSubmission(flags.from, zip);
        const extracted = await extractSubmission(zip, path.join(work, "src"), competition.zipLimits);
        const image = await resolveImage(flags.image);
        const args = interactiveRunArgs(
          {
            runId: "interactive",
            image: flags.image,
            command: [],
            workingDir: CONTAINER.src,
            mounts: [
              { source: extracted.root, target: CONTAINER.src },
              { source: competition.paths.dataDir, target: CONTAINER.data },
            ],
            output: { target: CONTAINER.submission, hostDir: work },
            limits: { ...competition.limits, runtime },
            gpu: flags.gpu,
          },
          image,
          process.stdin.isTTY === true,
        );
        process.stderr.write(`docker ${args.join(" ")}\n`);
        const code = await new Promise<number>((resolve) =>
          spawn("docker", args, { stdio: "inherit" }).on("close", (c) => resolve(c ?? 1)),
        );
        process.exitCode = code;
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    });
}
