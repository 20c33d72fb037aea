/**
 * The scoring room: submission-format validation (CSV, JSON Lines, a JSON array, a folder of files one
 * per id), built-in metrics, the organizer's custom scorer and the public/private split. scoreSubmission
 * chooses between built-in and custom.
 */
export { ScoringError, OutputInvalidError } from "./errors.js";
export {
  COLUMN_TYPES,
  FILE_TYPES,
  expectedHeader,
  loadSubmissionFormat,
  parseSubmissionFormat,
  predictionsEncoding,
  type ColumnType,
  type FileType,
  type FolderFormat,
  type PredictionsEncoding,
  type FormatColumn,
  type SubmissionFormat,
} from "./format.js";
export {
  PROBLEM_RULES,
  formatProblem,
  type Problem,
  type ProblemRule,
  type ValidationFailure,
  type ValidationResult,
  type ValidationSuccess,
} from "./problems.js";
export { CsvReadError, readCsvRecords, type CsvReadOptions, type CsvRecordHandler } from "./csv.js";
export {
  JsonReadError,
  readJsonArray,
  readJsonLines,
  type JsonReadOptions,
  type JsonRecordHandler,
} from "./json.js";
export {
  IdIndex,
  canonicalId,
  formatIdType,
  validatePredictions,
  type IdType,
  type ScanOptions,
} from "./validate.js";
export {
  fileNameOf,
  idFileNameProblem,
  shownName,
  validateOutputFolder,
  type FolderScanOptions,
} from "./validate-files.js";
export {
  readGroundTruth,
  USAGE_IGNORED,
  USAGE_PRIVATE,
  USAGE_PUBLIC,
  type GroundTruth,
  type ReadGroundTruthOptions,
  type Target,
} from "./ground-truth.js";
export {
  METRICS,
  METRIC_NAMES,
  LOG_LOSS_EPS,
  accuracy,
  balancedAccuracy,
  computeMetric,
  f1Macro,
  f1Micro,
  isMetricName,
  logLoss,
  mae,
  mape,
  r2,
  rmse,
  rocAuc,
  type MetricInput,
  type MetricInputKind,
  type MetricName,
  type MetricSpec,
} from "./metrics.js";
export { scorePredictions, scoringTarget, type ScoreOptions, type ScoreResult } from "./score.js";
export {
  scoreSubmission,
  type CustomScorerSpec,
  type Metric,
  type SubmissionScores,
  type SubmissionScoring,
} from "./score-submission.js";
export { metricName } from "./metric-name.js";
export { scoringSetupDigests, type ScoringSetup, type ScoringSetupDigests } from "./setup-digest.js";
export {
  runCustomScorer,
  ScorerFailedError,
  parseScorerOutput,
  scorerPredictionsPath,
  SCORER_PATHS,
  type CustomScorer,
  type CustomScores,
} from "./custom.js";
