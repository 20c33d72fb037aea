import { stat } from "node:fs/promises";
import path from "node:path";
import type { Competition } from "../config/index.js";
import {
  formatIdType,
  idFileNameProblem,
  loadSubmissionFormat,
  readGroundTruth,
  SCORER_PATHS,
  ScoringError,
  scorerPredictionsPath,
  scoringTarget,
  shownName,
  type CustomScorerSpec,
  type SubmissionFormat,
} from "../scoring/index.js";
import { YamlConfigError } from "../yaml/index.js";
import { FOLDER_OUTPUT_KEY, listCases, socketProblems } from "./per-case.js";

/**
 * The competition's own set-up is wrong (the organizer's mistake): found before any participant code runs,
 * so it is never run, never counted and never recorded; proctor exits with the infrastructure code.
 */
export class CompetitionSetupError extends Error {
  override name = "CompetitionSetupError";
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(
      `the competition set up in ${file} cannot score any submission (the organizer's mistake; nothing was run or counted):\n` +
        problems.map((problem) => `  - ${problem}`).join("\n"),
    );
  }
}

export interface SetupPaths {
  /** Where the test features are; default the competition's local data_dir. */
  dataDir?: string;
  /** Where the ground truth is; default the competition's local ground_truth. */
  groundTruth?: string;
}

/**
 * Checks everything a run needs from the organizer before the participant's code runs: the data folder,
 * the submission format, the metric against the format (a folder format needs a custom scorer), and the
 * ground truth (readable, ids unique, the id, target and usage columns present; a folder format's ids can
 * be file names). Returns the submission format; throws CompetitionSetupError
 * listing every problem found.
 */
export async function checkCompetitionSetup(
  competition: Competition,
  paths: SetupPaths = {},
): Promise<SubmissionFormat> {
  const dataDir = paths.dataDir ?? competition.paths.dataDir;
  const groundTruth = paths.groundTruth ?? competition.paths.groundTruth;
  const problems: string[] = [];

  if (!(await stat(dataDir).catch(() => null))?.isDirectory())
    problems.push(`paths.data_dir: ${dataDir} is not a folder; put the test features there`);
  const { metric } = competition.scoring;
  if (typeof metric !== "string") problems.push(...(await scorerFileProblems(metric.custom)));

  let format: SubmissionFormat | null = null;
  try {
    format = await loadSubmissionFormat(competition.paths.submissionFormat);
  } catch (error) {
    if (!(error instanceof YamlConfigError)) throw error;
    const issues = error.issues.map(
      (issue) =>
        `${issue.line === null ? "" : `line ${issue.line}: `}${issue.key || "(top level)"} ${issue.message}`,
    );
    problems.push(`paths.submission_format: ${error.file} ${issues.join("; ")}`);
  }

  if (!(await stat(groundTruth).catch(() => null))?.isFile()) {
    problems.push(`paths.ground_truth: ${groundTruth} does not exist; put the ground truth CSV there`);
  } else if (format) {
    problems.push(...(await groundTruthProblems(competition, format, groundTruth)));
  }

  if (format) problems.push(...(await perCaseProblems(competition, format, dataDir)));

  if (problems.length > 0 || !format) throw new CompetitionSetupError(competition.file, problems);
  return format;
}

/** Grand Challenge's per-case contract: a folder of cases, and outputs that name the format's columns. */
async function perCaseProblems(
  competition: Competition,
  format: SubmissionFormat,
  dataDir: string,
): Promise<string[]> {
  const { submission } = competition;
  if (submission.kind !== "image" || !submission.image.perCase) return [];
  const outputs = Object.keys(submission.image.perCase.outputs);
  const problems: string[] = [];
  if (format.files) {
    if (outputs.length !== 1 || outputs[0] !== FOLDER_OUTPUT_KEY)
      problems.push(
        `submission.image.outputs: the submission format ${format.source} is a folder of files (${format.files.name}), one per case; name the file each case writes as the only output, e.g. outputs: { ${FOLDER_OUTPUT_KEY}: images/mask/output.mha }`,
      );
  } else {
    const columns = format.columns.map((column) => column.name).filter((name) => name !== format.idColumn);
    for (const name of outputs.filter((name) => !columns.includes(name)))
      problems.push(
        `submission.image.outputs: ${JSON.stringify(name)} is not a column of the submission format ${format.source} (${columns.join(", ")}); map each column to its output file`,
      );
  }
  if (await stat(dataDir).catch(() => null)) {
    const { cases, problems: caseProblems } = await listCases(dataDir);
    problems.push(...caseProblems.map((problem) => `paths.data_dir: ${problem}`));
    problems.push(...(await socketProblems(cases, submission.image.perCase.inputs ?? [])));
  }
  return problems;
}

/**
 * The scorer's folder and the files its command names under /scoring/scorer (the schema has checked that
 * every other /scoring path is one the scorer is given): a typo here would fail every submission.
 */
async function scorerFileProblems(custom: CustomScorerSpec): Promise<string[]> {
  if (!custom.scriptDir) return [];
  if (!(await stat(custom.scriptDir).catch(() => null))?.isDirectory())
    return [
      `scoring.metric.custom.script_dir: ${custom.scriptDir} is not a folder; put the scorer's files there (they are shown at ${SCORER_PATHS.scorer})`,
    ];
  const problems: string[] = [];
  for (const arg of custom.command) {
    if (!arg.startsWith(`${SCORER_PATHS.scorer}/`)) continue;
    const file = path.join(custom.scriptDir, arg.slice(SCORER_PATHS.scorer.length + 1));
    if (!(await stat(file).catch(() => null)))
      problems.push(
        `scoring.metric.custom.command: ${arg} is ${file} in script_dir, which does not exist; fix the name in the command or add the file`,
      );
  }
  return problems;
}

async function groundTruthProblems(
  competition: Competition,
  format: SubmissionFormat,
  groundTruth: string,
): Promise<string[]> {
  const { metric, usageColumn } = competition.scoring;
  let target: Awaited<ReturnType<typeof scoringTarget>> | null = null;
  if (typeof metric === "string" && format.files) {
    return [
      `scoring.metric: ${metric} scores a table of predictions, but the submission format ${format.source} is a folder of files (files: one ${format.files.name} per id), which no built-in metric reads; set scoring.metric: { custom: { command: [...] } } and score the folder in your scorer: it gets the files at ${scorerPredictionsPath(format)}/`,
    ];
  }
  if (typeof metric === "string") {
    try {
      target = await scoringTarget({
        predictionsPath: "",
        groundTruthPath: groundTruth,
        format,
        metric,
        usageColumn,
      });
    } catch (error) {
      if (!(error instanceof ScoringError)) throw error;
      return [
        `scoring.metric: ${metric} cannot score the submission format ${format.source}: ${error.message}; choose a metric that fits its columns, or a custom scorer`,
      ];
    }
  }
  try {
    const truth = await readGroundTruth(groundTruth, {
      idColumn: format.idColumn,
      idType: formatIdType(format),
      usageColumn,
      ...(target && { targetColumn: target.column, targetKind: target.kind }),
    });
    if (truth.ids.size === 0) return [`paths.ground_truth: ${groundTruth} has no rows`];
    if (format.files) {
      const files = format.files;
      const bad = truth.ids.ids().flatMap((id) => {
        const problem = idFileNameProblem(files, id);
        return problem ? [`id ${shownName(id)} ${problem}`] : [];
      });
      if (bad.length > 0) {
        return [
          `paths.ground_truth: ${groundTruth}'s ids name the files of the folder format ${format.source} (${files.name}), but ${bad.length} cannot: ${bad.slice(0, 3).join("; ")}${bad.length > 3 ? "; ..." : ""}; give every row an id that can be a file name`,
        ];
      }
    }
    if (usageColumn !== null && !truth.usage) {
      return [
        `paths.ground_truth: ${groundTruth} has no "${usageColumn}" column (scoring.usage_column), so there is no public/private split; add the column (Public or Private per row), or set scoring.usage_column: null to score every row as public`,
      ];
    }
  } catch (error) {
    if (!(error instanceof ScoringError)) throw error;
    return [`paths.ground_truth: ${error.message}`];
  }
  return [];
}
