import { Command } from "commander";
import {
  loadSubmissionFormat,
  OutputInvalidError,
  scorePredictions,
  ScoringError,
} from "../scoring/index.js";
import { EXIT_CODES } from "../status/index.js";
import { competitionFrom, CONFIG_OPTION } from "./context.js";
import { UsageError } from "./usage-error.js";

export function scoreCommand(): Command {
  return new Command("score")
    .description(
      "validate a predictions file against the submission format and score it against ground truth",
    )
    .requiredOption(
      "--predictions <csv>",
      "the predictions file (e.g. .proctor/last-run/submission/submission.csv)",
    )
    .option("--ground-truth <csv>", "ground truth with a usage column (default: from competition.yml)")
    .option(...CONFIG_OPTION)
    .option("--json", "print exactly one JSON object", false)
    .action(async (flags: { predictions: string; groundTruth?: string; config: string; json: boolean }) => {
      const competition = await competitionFrom(flags.config);
      const metric = competition.scoring.metric;
      if (typeof metric !== "string") {
        throw new UsageError("this competition uses a custom scorer; run it through proctor test-submission");
      }
      const format = await loadSubmissionFormat(competition.paths.submissionFormat);
      try {
        const result = await scorePredictions({
          predictionsPath: flags.predictions,
          groundTruthPath: flags.groundTruth ?? competition.paths.groundTruth,
          format,
          metric,
          usageColumn: competition.scoring.usageColumn,
        });
        const out = {
          status: "succeeded",
          metric,
          public_score: result.public,
          private_score: result.private,
          rows: result.rows,
        };
        process.stdout.write(
          flags.json
            ? `${JSON.stringify(out)}\n`
            : `${metric}: public ${result.public ?? "—"}, private ${result.private ?? "—"} (${result.rows} rows)\n`,
        );
      } catch (error) {
        if (!(error instanceof OutputInvalidError || error instanceof ScoringError)) throw error;
        const problems =
          error instanceof OutputInvalidError ? error.failure.problems.map((p) => p.message) : [];
        process.stdout.write(
          flags.json
            ? `${JSON.stringify({ status: error.status, reason: error.message, problems })}\n`
            : `✘ ${error.status}: ${error.message}\n${problems.map((p) => `  ${p}`).join("\n")}\n`,
        );
        process.exitCode = EXIT_CODES.participantFailure;
      }
    });
}
