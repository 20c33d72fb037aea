/**
 * Scoring a submission's predictions whichever way the competition scores them: with a built-in metric
 * (validated and scored in one pass over each file, see score.ts) or with the organizer's own scorer (run
 * sandboxed, see custom.ts, and only on predictions that passed the format check: a table's, or a folder
 * format's, see validate-files.ts). The one place that chooses between the two.
 *
 * Throws OutputInvalidError (output_invalid) when the predictions break the format, ScoringError
 * (scoring_failed) when no score can be computed.
 */
import type { SandboxLimits } from "../sandbox/index.js";
import { runCustomScorer, scorerPredictionsPath } from "./custom.js";
import { OutputInvalidError } from "./errors.js";
import type { SubmissionFormat } from "./format.js";
import { readGroundTruth } from "./ground-truth.js";
import type { MetricName } from "./metrics.js";
import { scorePredictions } from "./score.js";
import { formatIdType, validatePredictions } from "./validate.js";
import { validateOutputFolder } from "./validate-files.js";

/** The organizer's scorer as competition.yml sets it (`scoring.metric: { custom: ... }`), resolved. */
export interface CustomScorerSpec {
  /** What pages and tables call its score (scoring.metric.custom.name). */
  name: string;
  /** Run in its own sandboxed container, the predictions and the ground truth read-only under /scoring. */
  command: string[];
  /** Host folder with the scoring code, shown read-only at /scoring/scorer. */
  scriptDir?: string;
  /** Default: the runtime image the submission ran in. */
  image?: string;
  limits: SandboxLimits;
}

/** How a competition scores its submissions: a built-in metric by name, or its own scorer. */
export type Metric = MetricName | { custom: CustomScorerSpec };

export interface SubmissionScoring {
  /** The predictions file; for a folder format (format.files), the output folder. */
  predictionsPath: string;
  groundTruthPath: string;
  format: SubmissionFormat;
  metric: Metric;
  /** Usage column of the ground truth (case-insensitive); null: every row is public. */
  usageColumn: string | null;
  /** The runtime image: where a custom scorer without an image of its own runs. */
  image: string;
}

export interface SubmissionScores {
  public: number | null;
  private: number | null;
}

export async function scoreSubmission(options: SubmissionScoring): Promise<SubmissionScores> {
  const { predictionsPath, groundTruthPath, format, metric } = options;
  if (typeof metric === "string" && format.files) {
    // checkCompetitionSetup refuses this pairing before anything runs.
    throw new Error(
      `the metric ${metric} cannot score the folder format ${format.source}: it needs a custom scorer`,
    );
  }
  if (typeof metric === "string") {
    const result = await scorePredictions({
      predictionsPath,
      groundTruthPath,
      format,
      metric,
      usageColumn: options.usageColumn,
    });
    return { public: result.public, private: result.private };
  }
  // A custom scorer only sees predictions that passed the format check.
  const truth = await readGroundTruth(groundTruthPath, {
    idColumn: format.idColumn,
    idType: formatIdType(format),
    usageColumn: null,
  });
  const checked = format.files
    ? await validateOutputFolder(predictionsPath, format, truth.ids)
    : await validatePredictions(predictionsPath, format, truth.ids);
  if (!checked.ok) throw new OutputInvalidError(checked);
  const { custom } = metric;
  const result = await runCustomScorer(
    {
      command: custom.command,
      image: custom.image ?? options.image,
      ...(custom.scriptDir && { scriptDir: custom.scriptDir }),
      limits: custom.limits,
    },
    predictionsPath,
    groundTruthPath,
    scorerPredictionsPath(format),
    { id: format.idColumn, usage: options.usageColumn },
  );
  return { public: result.public, private: result.private };
}
