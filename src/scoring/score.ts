/**
 * Scoring a predictions file against the hidden ground truth, with the public/private split.
 *
 * One call reads each file once: the ground truth is streamed first (its ids are the expected ids; its
 * target and usage columns go into typed arrays), then the predictions are streamed through the same
 * validation as validatePredictions while the metric's columns are written into typed arrays at each id's
 * ground-truth row. Memory: one map of the ids and a few typed arrays; neither file is held.
 *
 * A file that breaks the format throws OutputInvalidError (output_invalid) with the problems; anything
 * else that stops a score (bad ground truth, metric undefined, options that do not fit the format)
 * throws ScoringError (scoring_failed).
 */
import { OutputInvalidError, ScoringError } from "./errors.js";
import type { FormatColumn, SubmissionFormat } from "./format.js";
import {
  readGroundTruth,
  USAGE_IGNORED,
  USAGE_PRIVATE,
  USAGE_PUBLIC,
  type GroundTruth,
  type Target,
} from "./ground-truth.js";
import { readCsvRecords } from "./csv.js";
import { METRICS, type MetricInput, type MetricName } from "./metrics.js";
import { formatIdType, scanPredictions, type Capture, type ScanOptions } from "./validate.js";

export interface ScoreOptions extends ScanOptions {
  predictionsPath: string;
  groundTruthPath: string;
  format: SubmissionFormat;
  metric: MetricName;
  /** Id column of the ground truth; default the format's id column. */
  idColumn?: string;
  /**
   * Ground-truth column holding the truth. Default: for label and value metrics the prediction column's
   * name; for probability metrics the format's only category column, else the ground truth's only column
   * besides the id and usage.
   */
  targetColumn?: string;
  /**
   * For label metrics (a category column) and value metrics (a numeric column): the predictions column to
   * score. Default: the column named like targetColumn, else the format's only column of a fitting type.
   */
  predictionColumn?: string;
  /**
   * For log_loss and roc_auc: class label → predictions column holding its probability. Default: the
   * format's probability columns, each for its `class` (or its own name). One column means a binary
   * problem scored on the probability of the positive class.
   */
  probabilityColumns?: Record<string, string>;
  /**
   * Binary problems with one probability column whose class is not given: the positive class. Default:
   * the greater of the two ground-truth classes (numeric order if both are numbers), as scikit-learn does.
   */
  positiveClass?: string;
  /** Usage column of the ground truth (case-insensitive); null to ignore it. Default "usage". */
  usageColumn?: string | null;
}

export interface ScoreResult {
  metric: MetricName;
  direction: "higher" | "lower";
  /** Score on the public rows; equal to overall when the ground truth has no usage column. */
  public: number | null;
  /** Score on the private rows; null when the ground truth has no usage column (or no private rows). */
  private: number | null;
  /** Score on every row that is not Ignored. */
  overall: number;
  /** Prediction rows read. */
  rows: number;
  counts: { public: number; private: number; ignored: number };
  /** Things the organizer may want to know (e.g. ground-truth classes no prediction can match). */
  warnings: string[];
}

function valueColumns(format: SubmissionFormat): FormatColumn[] {
  return format.columns.filter((column) => column.name !== format.idColumn);
}

function formatColumn(format: SubmissionFormat, name: string): FormatColumn {
  const column = valueColumns(format).find((candidate) => candidate.name === name);
  if (!column) {
    throw new ScoringError(
      `column "${name}" is not a value column of the submission format ${format.source} (value columns: ${valueColumns(
        format,
      )
        .map((c) => c.name)
        .join(", ")})`,
    );
  }
  return column;
}

function pickPredictionColumn(
  options: ScoreOptions,
  types: FormatColumn["type"][],
  what: string,
): FormatColumn {
  const { format, metric } = options;
  const name = options.predictionColumn ?? options.targetColumn;
  if (
    name !== undefined &&
    (options.predictionColumn !== undefined || valueColumns(format).some((c) => c.name === name))
  ) {
    const column = formatColumn(format, name);
    if (!types.includes(column.type)) {
      throw new ScoringError(`${metric} needs ${what}, but column "${name}" has type ${column.type}`);
    }
    return column;
  }
  const fitting = valueColumns(format).filter((column) => types.includes(column.type));
  if (fitting.length !== 1) {
    // competition.yml names no prediction column: the format itself must leave exactly one to score.
    const fix =
      fitting.length === 0
        ? "add one to the submission format (paths.submission_format)"
        : `keep one of them (${fitting.map((c) => c.name).join(", ")}) in the submission format (paths.submission_format) and give the others another type, or score with a custom scorer (scoring.metric: { custom: ... })`;
    throw new ScoringError(`${metric} needs ${what}; the format has ${fitting.length} such columns: ${fix}`);
  }
  return fitting[0]!;
}

async function peekHeader(path: string): Promise<string[]> {
  let header: string[] = [];
  try {
    await readCsvRecords(path, (fields) => {
      header = fields;
      return false;
    });
  } catch (error) {
    throw new ScoringError(`ground truth ${path}: ${(error as Error).message}`);
  }
  return header;
}

function compareClasses(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  if (a.trim() !== "" && b.trim() !== "" && Number.isFinite(x) && Number.isFinite(y) && x !== y) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * How a built-in metric reads the two files: the ground-truth column it scores against and, per kind of
 * metric input, the predictions column (labels, values) or the probability columns and their classes.
 */
type Plan =
  | { input: "labels"; targetColumn: string; predictionColumn: FormatColumn }
  | { input: "values"; targetColumn: string; predictionColumn: FormatColumn }
  | {
      input: "probabilities";
      targetColumn: string;
      /** The class of each column, in column order; `explicit` when each class was stated. */
      classes: string[];
      columns: string[];
      explicit: boolean;
    };

/** What the ground truth's target column holds for a plan: classes, or numbers for value metrics. */
const targetKind = (chosen: Plan): "label" | "number" => (chosen.input === "values" ? "number" : "label");

async function plan(options: ScoreOptions): Promise<Plan> {
  const { format, metric } = options;
  const spec = METRICS[metric];
  if (!spec) throw new ScoringError(`unknown metric "${String(metric)}"`);
  if (spec.input === "labels") {
    const column = pickPredictionColumn(options, ["category"], "a category column of predicted labels");
    return { input: "labels", targetColumn: options.targetColumn ?? column.name, predictionColumn: column };
  }
  if (spec.input === "values") {
    const column = pickPredictionColumn(
      options,
      ["float", "integer", "probability"],
      "a numeric column (float, integer or probability)",
    );
    return { input: "values", targetColumn: options.targetColumn ?? column.name, predictionColumn: column };
  }
  let classes: string[];
  let columns: string[];
  let explicit: boolean;
  if (options.probabilityColumns) {
    classes = Object.keys(options.probabilityColumns);
    columns = Object.values(options.probabilityColumns);
    explicit = true;
  } else {
    const probabilityColumns = valueColumns(format).filter((column) => column.type === "probability");
    classes = probabilityColumns.map((column) => column.class ?? column.name);
    columns = probabilityColumns.map((column) => column.name);
    explicit = probabilityColumns.every((column) => column.class !== undefined);
  }
  if (columns.length === 0) {
    throw new ScoringError(
      `${metric} needs probability columns, but the format ${format.source} has none; add columns of type probability`,
    );
  }
  for (const name of columns) {
    const column = formatColumn(format, name);
    if (column.type !== "probability" && column.type !== "float") {
      throw new ScoringError(`${metric} needs probabilities, but column "${name}" has type ${column.type}`);
    }
  }
  let targetColumn = options.targetColumn;
  if (targetColumn === undefined) {
    const categories = valueColumns(format).filter((column) => column.type === "category");
    if (categories.length === 1) targetColumn = categories[0]!.name;
    else {
      const header = await peekHeader(options.groundTruthPath);
      const idColumn = options.idColumn ?? format.idColumn;
      const usage = (options.usageColumn === undefined ? "usage" : options.usageColumn)?.toLowerCase();
      const rest = header.filter((name) => name !== idColumn && name.toLowerCase() !== usage);
      if (rest.length !== 1) {
        throw new ScoringError(
          `cannot tell which ground-truth column holds the labels (${rest.join(", ") || "none"}): give the submission format (paths.submission_format) one category column named like it, or keep only the id, the usage column and the labels in the ground truth (paths.ground_truth)`,
        );
      }
      targetColumn = rest[0]!;
    }
  }
  return { input: "probabilities", targetColumn, classes, columns, explicit };
}

/**
 * The ground-truth column a built-in metric scores against, once the format's columns are checked to fit
 * the metric (ScoringError otherwise): what a competition's set-up is checked with before anything runs.
 */
export async function scoringTarget(
  options: ScoreOptions,
): Promise<{ column: string; kind: "label" | "number" }> {
  const chosen = await plan(options);
  return { column: chosen.targetColumn, kind: targetKind(chosen) };
}

/** Row indices of each group: overall (all but Ignored), public, private. */
function groups(truth: GroundTruth): {
  overall: Int32Array;
  public: Int32Array | null;
  private: Int32Array | null;
  ignored: number;
} {
  const n = truth.ids.size;
  const usage = truth.usage;
  if (!usage) {
    const all = new Int32Array(n);
    for (let i = 0; i < n; i++) all[i] = i;
    return { overall: all, public: all, private: null, ignored: 0 };
  }
  let pub = 0;
  let priv = 0;
  for (let i = 0; i < n; i++) {
    if (usage[i] === USAGE_PUBLIC) pub++;
    else if (usage[i] === USAGE_PRIVATE) priv++;
  }
  const overall = new Int32Array(pub + priv);
  const publicRows = new Int32Array(pub);
  const privateRows = new Int32Array(priv);
  let o = 0;
  let a = 0;
  let b = 0;
  for (let i = 0; i < n; i++) {
    const u = usage[i];
    if (u === USAGE_IGNORED) continue;
    overall[o++] = i;
    if (u === USAGE_PUBLIC) publicRows[a++] = i;
    else privateRows[b++] = i;
  }
  return { overall, public: publicRows, private: privateRows, ignored: n - pub - priv };
}

/** The metric's input on some rows of the ground truth (row indices), once the predictions are in. */
type RowsInput = (rows: Int32Array) => MetricInput;

/**
 * Where a plan's predictions go while the file is scanned (typed arrays, row-aligned with the ground truth),
 * and how they meet the truth afterwards: one code space per kind of metric input.
 */
interface Collector {
  captures: Capture[];
  inputs(target: Target, warnings: string[]): RowsInput;
}

function collector(options: ScoreOptions, chosen: Plan, n: number): Collector {
  switch (chosen.input) {
    case "labels":
      return labelCollector(options, chosen, n);
    case "values":
      return valueCollector(options, chosen, n);
    case "probabilities":
      return probabilityCollector(options, chosen, n);
  }
}

const unscorable = (metric: MetricName, target: Target) =>
  new ScoringError(`${metric}: the target column "${target.column}" cannot be scored with this metric`);

function pickInts(from: Int32Array, rows: Int32Array): Int32Array {
  const picked = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) picked[i] = from[rows[i]!]!;
  return picked;
}

/** The rows' values, `width` per row (probability columns side by side). */
function pickFloats(from: Float64Array, rows: Int32Array, width = 1): Float64Array {
  const picked = new Float64Array(rows.length * width);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    for (let c = 0; c < width; c++) picked[i * width + c] = from[r * width + c]!;
  }
  return picked;
}

function labelCollector(
  options: ScoreOptions,
  chosen: Extract<Plan, { input: "labels" }>,
  n: number,
): Collector {
  const column = chosen.predictionColumn;
  const predicted = new Int32Array(n);
  return {
    captures: [{ column: column.name, into: predicted }],
    inputs(target, warnings) {
      if (target.kind !== "label") throw unscorable(options.metric, target);
      // Prediction category index → ground-truth class code (new codes for classes the truth never has).
      const categories = column.categories ?? [];
      const unreachable = target.classes.filter((name) => !categories.includes(name));
      if (unreachable.length > 0) {
        warnings.push(
          `the ground truth "${target.column}" has classes that are not categories of column "${column.name}" in ${options.format.source}, so no prediction can match them: ${unreachable.slice(0, 10).join(", ")}${unreachable.length > 10 ? ", ..." : ""}`,
        );
      }
      const classCode = new Map(target.classes.map((name, code) => [name, code]));
      let next = target.classes.length;
      const remap = Int32Array.from(categories, (category) => classCode.get(category) ?? next++);
      for (let i = 0; i < n; i++) predicted[i] = remap[predicted[i]!]!;
      return (rows) => ({
        kind: "labels",
        yTrue: pickInts(target.codes, rows),
        yPred: pickInts(predicted, rows),
      });
    },
  };
}

function valueCollector(
  options: ScoreOptions,
  chosen: Extract<Plan, { input: "values" }>,
  n: number,
): Collector {
  const predicted = new Float64Array(n);
  return {
    captures: [{ column: chosen.predictionColumn.name, into: predicted }],
    inputs(target) {
      if (target.kind !== "number") throw unscorable(options.metric, target);
      return (rows) => ({
        kind: "values",
        yTrue: pickFloats(target.values, rows),
        yPred: pickFloats(predicted, rows),
      });
    },
  };
}

function probabilityCollector(
  options: ScoreOptions,
  chosen: Extract<Plan, { input: "probabilities" }>,
  n: number,
): Collector {
  const { metric } = options;
  const k = chosen.columns.length;
  const proba = new Float64Array(n * k);
  return {
    captures: chosen.columns.map((column, offset) => ({ column, into: proba, stride: k, offset })),
    inputs(target) {
      if (target.kind !== "label") throw unscorable(metric, target);
      const remap =
        k === 1 ? positiveClassCodes(options, chosen, target) : classColumns(metric, chosen, target);
      const yTrue = target.codes.map((code) => remap[code]!);
      return (rows) => ({
        kind: "probabilities",
        yTrue: pickInts(yTrue, rows),
        proba: pickFloats(proba, rows, k),
        columns: k,
      });
    },
  };
}

type LabelTarget = Extract<Target, { kind: "label" }>;

/** One probability column (binary): each ground-truth class → 1 for the positive class, else 0. */
function positiveClassCodes(
  options: ScoreOptions,
  chosen: Extract<Plan, { input: "probabilities" }>,
  target: LabelTarget,
): Int32Array {
  const { metric } = options;
  const { classes, explicit } = chosen;
  if (target.classes.length > 2) {
    throw new ScoringError(
      `${metric}: one probability column (binary) but the ground truth "${target.column}" has ${target.classes.length} classes (${target.classes.slice(0, 10).join(", ")}); give one probability column per class`,
    );
  }
  let positive: string;
  if (explicit) positive = classes[0]!;
  else if (options.positiveClass !== undefined) positive = options.positiveClass;
  else {
    if (target.classes.length < 2) {
      throw new ScoringError(
        `${metric}: the ground truth "${target.column}" has one class only (${target.classes[0]}), so the positive class is unknown; set class on the probability column`,
      );
    }
    positive = [...target.classes].sort(compareClasses)[1]!;
  }
  if (explicit && !target.classes.includes(positive) && target.classes.length === 2) {
    throw new ScoringError(
      `${metric}: the probability column is for class "${positive}", which the ground truth "${target.column}" does not have (${target.classes.join(", ")})`,
    );
  }
  return Int32Array.from(target.classes, (name) => (name === positive ? 1 : 0));
}

/** A probability column per class: each ground-truth class → the index of its column. */
function classColumns(
  metric: MetricName,
  chosen: Extract<Plan, { input: "probabilities" }>,
  target: LabelTarget,
): Int32Array {
  const columnOf = new Map(chosen.classes.map((name, column) => [name, column]));
  return Int32Array.from(target.classes, (name) => {
    const column = columnOf.get(name);
    if (column === undefined) {
      throw new ScoringError(
        `${metric}: the ground truth has class "${name}" but no probability column is for it (columns are for ${chosen.classes.join(", ")}); add one or set class on a column`,
      );
    }
    return column;
  });
}

/**
 * Validates and scores a predictions file in one pass over each file. Throws OutputInvalidError when the
 * file breaks the format, ScoringError when no score can be computed.
 */
export async function scorePredictions(options: ScoreOptions): Promise<ScoreResult> {
  const { format, metric } = options;
  const chosen = await plan(options);
  const spec = METRICS[metric];
  const truth = await readGroundTruth(options.groundTruthPath, {
    idColumn: options.idColumn ?? format.idColumn,
    idType: formatIdType(format),
    targetColumn: chosen.targetColumn,
    targetKind: targetKind(chosen),
    usageColumn: options.usageColumn === undefined ? "usage" : options.usageColumn,
    ...(options.chunkBytes !== undefined ? { chunkBytes: options.chunkBytes } : {}),
  });
  const { target } = truth;
  const n = truth.ids.size;
  if (n === 0) throw new ScoringError(`ground truth ${options.groundTruthPath} has no rows`);

  const collect = collector(options, chosen, n);
  const scan = await scanPredictions(options.predictionsPath, format, truth.ids, collect.captures, options);
  if (!scan.problems.ok) throw new OutputInvalidError(scan.problems.failure());
  const warnings: string[] = [];
  const inputOf = collect.inputs(target, warnings);

  const split = groups(truth);
  const scoreRows = (rows: Int32Array, part: string): number => {
    try {
      return spec.compute(inputOf(rows));
    } catch (error) {
      if (error instanceof ScoringError) throw new ScoringError(`${part} rows: ${error.message}`);
      throw error;
    }
  };

  if (split.overall.length === 0) {
    throw new ScoringError(`ground truth ${options.groundTruthPath}: every row is Ignored; nothing to score`);
  }
  const overall = scoreRows(split.overall, "all scored");
  const publicScore = !truth.usage
    ? overall
    : split.public && split.public.length > 0
      ? scoreRows(split.public, "public")
      : null;
  const privateScore = split.private && split.private.length > 0 ? scoreRows(split.private, "private") : null;
  return {
    metric,
    direction: spec.direction,
    public: publicScore,
    private: privateScore,
    overall,
    rows: scan.rows,
    counts: {
      public: truth.usage ? (split.public?.length ?? 0) : split.overall.length,
      private: split.private?.length ?? 0,
      ignored: split.ignored,
    },
    warnings,
  };
}
