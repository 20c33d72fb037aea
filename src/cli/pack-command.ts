import { Command } from "commander";
import { stat } from "node:fs/promises";
import { packSubmission, PackError, pythonSyntaxErrors } from "../submission/index.js";
import { UsageError } from "./usage-error.js";

export function packCommand(): Command {
  return new Command("pack")
    .description("zip a submission folder reproducibly (fixed times and order; no caches or VCS folders)")
    .argument("<dir>", "the folder with main.py or main.sh at its top")
    .option("-o, --output <zip>", "where to write the zip", "submission.zip")
    .option("--force", "replace an existing zip", false)
    .action(async (dir: string, flags: { output: string; force: boolean }) => {
      if (!flags.force && (await stat(flags.output).catch(() => null))) {
        throw new UsageError(
          `${flags.output} already exists; pass --force to replace it, or -o another path`,
        );
      }
      try {
        const packed = await packSubmission(dir, flags.output);
        process.stdout.write(
          `packed ${packed.files.length} file${packed.files.length === 1 ? "" : "s"} into ${packed.zipPath}\n`,
        );
        if (packed.skipped.length > 0) process.stdout.write(`left out: ${packed.skipped.join(", ")}\n`);
        await warnSyntaxErrors(dir, packed.files);
      } catch (error) {
        if (error instanceof PackError) throw new UsageError(error.message);
        throw error;
      }
    });
}

/** Says which packed Python files do not parse: the run would fail on them at once. */
export async function warnSyntaxErrors(dir: string, files: string[]): Promise<void> {
  for (const problem of await pythonSyntaxErrors(dir, files))
    process.stderr.write(`warning: syntax error in ${problem} (checked with this machine's python3)\n`);
}
