import { Command, Option } from "commander";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { EXIT_CODES } from "../status/index.js";
import { competitionFrom, CONFIG_OPTION } from "./context.js";
import { addPackageDiffCommands } from "./runtime-diff-command.js";
import { runtimeModelsCommand } from "./runtime-models-command.js";

/**
 * `proctor runtime`: the runtime's locks and SBOM. `check-lock` (offline) says whether each conda flavour's
 * lock satisfies its environment file and the two agree; `sbom` writes an image's CycloneDX SBOM and its
 * licence report; the package diff and the record of published images are in runtime-diff-command.ts.
 */
export function runtimeCommand(): Command {
  const runtime = new Command("runtime").description("the runtime image's locks, SBOM and licence report");

  runtime
    .command("check-lock")
    .description(
      "check runtime/lock/<flavour>.conda-lock.yml against environment-<flavour>.yml (offline): every spec met, nothing extra, channels, CPU/GPU agreement",
    )
    .addOption(
      new Option("--flavour <flavour>", "cpu, gpu or both").choices(["cpu", "gpu", "both"]).default("both"),
    )
    .option("--root <dir>", "the repository root", ".")
    .action(async (flags: { flavour: "cpu" | "gpu" | "both"; root: string }) => {
      const { checkRepositoryLocks } = await import("../runtime/index.js");
      const flavours = flags.flavour === "both" ? (["cpu", "gpu"] as const) : ([flags.flavour] as const);
      const { issues, checked } = await checkRepositoryLocks(flags.root, flavours);
      for (const line of checked) process.stdout.write(`${line}\n`);
      for (const issue of issues) process.stdout.write(`FAIL [${issue.rule}] ${issue.message}\n`);
      if (issues.length > 0) process.exitCode = EXIT_CODES.usageError;
    });

  runtime
    .command("sbom")
    .description(
      "write the CycloneDX SBOM of a runtime image and its licence report (read from inside the image)",
    )
    .requiredOption("--image <ref>", "the runtime image")
    .option("--out <file>", "the SBOM (CycloneDX JSON)", ".proctor/sbom/sbom.cdx.json")
    .option("--report <file>", "the licence report (Markdown); default: beside the SBOM, .licences.md")
    .option(...CONFIG_OPTION)
    .action(async (flags: { image: string; out: string; report?: string; config: string }) => {
      const { licences } = await competitionFrom(flags.config);
      const { imageSbom, licenceReportMarkdown } = await import("../runtime/index.js");
      const { EngineError } = await import("../sandbox/index.js");
      let made: Awaited<ReturnType<typeof imageSbom>>;
      try {
        made = await imageSbom(flags.image, licences);
      } catch (error) {
        // The engine's fault or a missing image (EngineError): an infrastructure error; an image whose
        // packages cannot be listed is the caller's (not a runtime image).
        process.stderr.write(`proctor runtime sbom: ${(error as Error).message}\n`);
        process.exitCode =
          error instanceof EngineError ? EXIT_CODES.infrastructureError : EXIT_CODES.usageError;
        return;
      }
      const { json, report } = made;
      const reportFile = flags.report ?? flags.out.replace(/(\.cdx)?\.json$/, "") + ".licences.md";
      await mkdir(path.dirname(flags.out), { recursive: true });
      await mkdir(path.dirname(reportFile), { recursive: true });
      await writeFile(flags.out, json);
      await writeFile(reportFile, licenceReportMarkdown(report, `Licences of ${flags.image}`, licences));
      process.stdout.write(
        `${flags.out}: ${report.rows.length} packages; ${reportFile}: ${report.unknown.length} unknown, ${report.denied.length} denied licence(s)\n`,
      );
      for (const row of report.denied)
        process.stdout.write(
          `DENIED ${row.kind} ${row.name} ${row.version}: ${row.licence.spdx} (competition.yml runtime.licences.deny); remove the package or change the policy\n`,
        );
      if (report.failed) process.exitCode = EXIT_CODES.usageError;
    });
  runtime.addCommand(runtimeModelsCommand());
  addPackageDiffCommands(runtime);
  return runtime;
}
