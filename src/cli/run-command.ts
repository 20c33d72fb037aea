import { Command } from "commander";
import { mkdir, readdir, stat } from "node:fs/promises";
import { runSubmission } from "../pipeline/run-submission.js";
import { exitCodeFor } from "../status/index.js";
import { submissionFileKind } from "../submission/kind.js";
import { ensureRuntime, limitOptions, limitsFrom, type LimitFlags } from "./options.js";
import { runResultJson, runResultText } from "./report.js";
import { UsageError } from "./usage-error.js";

interface RunFlags extends LimitFlags {
  submission: string;
  image?: string;
  data: string;
  output: string;
  expect?: string;
  gpu: boolean;
  json: boolean;
}

/** The trusted image that holds an image run's output folder when --image is not given: the offline runtime. */
const HELPER_IMAGE = "proctor/runtime:cpu-offline";

export function runCommand(): Command {
  const command = new Command("run")
    .description(
      "run a submission sandboxed, with every limit, and report what happened: a zip in the runtime image, " +
        "or an image saved with `docker save` (algorithm.tar[.gz]) with its own entrypoint",
    )
    .requiredOption(
      "--submission <file>",
      "the submission zip (main.py or main.sh at its root), or an image archive (docker save -o algorithm.tar)",
    )
    .option(
      "--image <ref>",
      `the runtime image, e.g. proctor/runtime:cpu-latest (required for a zip); for an image archive, the trusted image that holds its output folder (default ${HELPER_IMAGE})`,
    )
    .requiredOption(
      "--data <dir>",
      "test features, mounted read-only at /code_execution/data (an image archive: at /input)",
    )
    .requiredOption(
      "--output <dir>",
      "an empty or new folder that receives /code_execution/submission (an image archive: /output)",
    )
    .option("--expect <file>", "the file the program must write, e.g. submission.csv")
    .option("--gpu", "give the container the host's NVIDIA GPUs", false)
    .option("--json", "print exactly one JSON object", false);
  for (const option of limitOptions()) command.addOption(option);
  return command.action(async (flags: RunFlags) => {
    const limits = limitsFrom(flags);
    await checkPaths(flags);
    const kind = await submissionFileKind(flags.submission);
    if (kind !== "image" && !flags.image)
      throw new UsageError(
        `--image is required for a zip: pass the runtime image, e.g. --image proctor/runtime:cpu-latest`,
      );
    await ensureRuntime(limits.runtime, `--runtime ${limits.runtime}`);
    const common = { dataDir: flags.data, outputDir: flags.output, expectedOutput: flags.expect, limits };
    // An image archive's code (tar reading, image rules, `docker load`) loads only for an image archive:
    // a zip's run starts sooner without it.
    const result =
      kind === "image"
        ? await import("../pipeline/run-image.js").then(({ runImageSubmission }) =>
            runImageSubmission({
              ...common,
              archivePath: flags.submission,
              helperImage: flags.image ?? HELPER_IMAGE,
              gpu: flags.gpu,
            }),
          )
        : await runSubmission({ ...common, zipPath: flags.submission, image: flags.image!, gpu: flags.gpu });
    process.stdout.write((flags.json ? JSON.stringify(runResultJson(result)) : runResultText(result)) + "\n");
    process.exitCode = exitCodeFor(result.status);
  });
}

async function checkPaths(flags: RunFlags): Promise<void> {
  const zip = await stat(flags.submission).catch(() => null);
  if (!zip?.isFile())
    throw new UsageError(
      `--submission ${flags.submission}: no such file; pass the path of your submission zip (make pack-submission builds one) or image archive (docker save -o algorithm.tar <image>)`,
    );
  const data = await stat(flags.data).catch(() => null);
  if (!data?.isDirectory())
    throw new UsageError(
      `--data ${flags.data}: not a folder; pass the folder with the test features (e.g. data/)`,
    );
  await mkdir(flags.output, { recursive: true }).catch(() => undefined);
  const entries = await readdir(flags.output).catch(() => null);
  if (entries === null)
    throw new UsageError(`--output ${flags.output}: cannot create or read this folder; pass a writable path`);
  if (entries.length > 0)
    throw new UsageError(
      `--output ${flags.output}: folder is not empty; pass an empty or new folder so nothing in it is overwritten`,
    );
}
