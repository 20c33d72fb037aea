import { Command } from "commander";
import { mkdir, readdir, stat } from "node:fs/promises";
import { runSubmission } from "../pipeline/run-submission.js";
import { exitCodeFor } from "../status/index.js";
import { ensureRuntime, limitOptions, limitsFrom, type LimitFlags } from "./options.js";
import { runResultJson, runResultText } from "./report.js";
import { UsageError } from "./usage-error.js";

interface RunFlags extends LimitFlags {
  submission: string;
  image: string;
  data: string;
  output: string;
  expect?: string;
  gpu: boolean;
  json: boolean;
}

export function runCommand(): Command {
  const command = new Command("run")
    .description(
      "run a submission zip sandboxed in the runtime image, with every limit, and report what happened",
    )
    .requiredOption("--submission <zip>", "the submission zip (main.py or main.sh at its root)")
    .requiredOption("--image <ref>", "the runtime image, e.g. proctor/runtime:cpu-latest")
    .requiredOption("--data <dir>", "test features, mounted read-only at /code_execution/data")
    .requiredOption("--output <dir>", "an empty or new folder that receives /code_execution/submission")
    .option("--expect <file>", "the file the program must write, e.g. submission.csv")
    .option("--gpu", "give the container the host's NVIDIA GPUs", false)
    .option("--json", "print exactly one JSON object", false);
  for (const option of limitOptions()) command.addOption(option);
  return command.action(async (flags: RunFlags) => {
    const limits = limitsFrom(flags);
    await checkPaths(flags);
    await ensureRuntime(limits.runtime, `--runtime ${limits.runtime}`);
    const result = await runSubmission({
      zipPath: flags.submission,
      image: flags.image,
      dataDir: flags.data,
      outputDir: flags.output,
      expectedOutput: flags.expect,
      limits,
      gpu: flags.gpu,
    });
    process.stdout.write((flags.json ? JSON.stringify(runResultJson(result)) : runResultText(result)) + "\n");
    process.exitCode = exitCodeFor(result.status);
  });
}

async function checkPaths(flags: RunFlags): Promise<void> {
  const zip = await stat(flags.submission).catch(() => null);
  if (!zip?.isFile())
    throw new UsageError(
      `--submission ${flags.submission}: no such file; pass the path of your submission zip (make pack-submission builds one)`,
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
