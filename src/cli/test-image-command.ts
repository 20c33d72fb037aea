import { Command } from "commander";
import { describeImportFailures, testImports } from "../runtime/index.js";
import { EXIT_CODES } from "../status/index.js";

/** `make test-container`: every package the environment file names must import inside the image. */
export function testImageCommand(): Command {
  return new Command("test-image")
    .description("check that every package of an environment file imports inside a runtime image")
    .requiredOption("--image <ref>", "the runtime image")
    .requiredOption("--environment <file>", "the environment file, e.g. environment-cpu.yml")
    .option("--gpu", "run with the host's NVIDIA GPUs", false)
    .option("--json", "print exactly one JSON object", false)
    .action(async (flags: { image: string; environment: string; gpu: boolean; json: boolean }) => {
      const report = await testImports(flags.image, flags.environment, { gpu: flags.gpu });
      if (flags.json) {
        const { run: _run, ...rest } = report;
        process.stdout.write(`${JSON.stringify(rest)}\n`);
      } else {
        for (const r of report.results) {
          const mark = r.skipped ? "skip" : r.ok ? "ok  " : "FAIL";
          process.stdout.write(
            `${mark} ${r.package}${r.module ? ` (${r.module})` : ""}${r.version ? ` ${r.version}` : ""}${r.error ? `: ${r.error}` : ""}\n`,
          );
        }
        if (report.problem) process.stdout.write(`the import test could not run: ${report.problem}\n`);
        else if (!report.ok) process.stdout.write(`${describeImportFailures(report).join("\n")}\n`);
        else
          process.stdout.write(
            `all ${report.results.length} packages of ${flags.environment} import in ${flags.image} (Python ${report.python})\n`,
          );
      }
      if (report.problem) process.exitCode = EXIT_CODES.infrastructureError;
      else if (!report.ok) process.exitCode = EXIT_CODES.participantFailure;
    });
}
