/**
 * Built-in metrics, matching scikit-learn's definitions (checked against fixtures it generated, see
 * scripts/metric-fixtures.py) on typed arrays.
 *
 * Labels are dense non-negative integer codes (class k is code k); probabilities are row-major n × k
 * matrices, or for binary problems one column with the probability of class 1. Every metric throws a
 * ScoringError when it is undefined for its input (empty input, lengths that differ, one class only for
 * ROC AUC, ...), never returns NaN.
 */
import { ScoringError } from "./errors.js";

export type MetricName =
  | "accuracy"
  | "balanced_accuracy"
  | "f1_macro"
  | "f1_micro"
  | "log_loss"
  | "roc_auc"
  | "rmse"
  | "mae"
  | "r2"
  | "mape";

export type MetricInputKind = "labels" | "probabilities" | "values";

export interface LabelInput {
  kind: "labels";
  yTrue: ArrayLike<number>;
  yPred: ArrayLike<number>;
}

export interface ProbabilityInput {
  kind: "probabilities";
  /** Class codes: in [0, columns) when columns ≥ 2, in {0, 1} when columns is 1. */
  yTrue: ArrayLike<number>;
  /** Row-major n × columns; with one column, the probability of class 1. */
  proba: ArrayLike<number>;
  columns: number;
}

export interface ValueInput {
  kind: "values";
  yTrue: ArrayLike<number>;
  yPred: ArrayLike<number>;
}

export type MetricInput = LabelInput | ProbabilityInput | ValueInput;

export interface MetricSpec {
  name: MetricName;
  /** Whether a larger score is better (ranking order). */
  direction: "higher" | "lower";
  /** What the predictions must hold: labels (a category column), probabilities, or numbers. */
  input: MetricInputKind;
  /** scikit-learn's equivalent, for documentation. */
  sklearn: string;
  description: string;
  compute(input: MetricInput): number;
}

/** Neumaier-compensated sum, so million-row means stay within a few ulps of NumPy's pairwise sums. */
class Sum {
  private sum = 0;
  private compensation = 0;
  add(value: number): void {
    const t = this.sum + value;
    if (Math.abs(this.sum) >= Math.abs(value)) this.compensation += this.sum - t + value;
    else this.compensation += value - t + this.sum;
    this.sum = t;
  }
  get value(): number {
    return this.sum + this.compensation;
  }
}

function checkLengths(metric: string, a: ArrayLike<number>, b: ArrayLike<number>, per = 1): number {
  if (a.length * per !== b.length) {
    throw new ScoringError(
      `${metric}: y_true has ${a.length} rows but the predictions have ${b.length / per} rows; they must match`,
    );
  }
  if (a.length === 0) throw new ScoringError(`${metric}: no rows to score; the metric is undefined`);
  return a.length;
}

function checkFinite(metric: string, values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new ScoringError(`${metric}: ${what} has a non-finite value (${values[i]}) at row ${i}`);
    }
  }
}

function classCount(metric: string, ...arrays: ArrayLike<number>[]): number {
  let max = -1;
  for (const array of arrays) {
    for (let i = 0; i < array.length; i++) {
      const code = array[i]!;
      if (!(code >= 0) || !Number.isInteger(code)) {
        throw new ScoringError(`${metric}: label code ${code} at row ${i} is not a non-negative integer`);
      }
      if (code > max) max = code;
    }
  }
  return max + 1;
}

/** Per-class counts of a label problem: true positives, true (support) and predicted totals. */
export interface LabelCounts {
  tp: Float64Array;
  trueCount: Float64Array;
  predCount: Float64Array;
  n: number;
}

export function labelCounts(metric: string, yTrue: ArrayLike<number>, yPred: ArrayLike<number>): LabelCounts {
  const n = checkLengths(metric, yTrue, yPred);
  const k = classCount(metric, yTrue, yPred);
  const tp = new Float64Array(k);
  const trueCount = new Float64Array(k);
  const predCount = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const t = yTrue[i]!;
    const p = yPred[i]!;
    trueCount[t]!++;
    predCount[p]!++;
    if (t === p) tp[t]!++;
  }
  return { tp, trueCount, predCount, n };
}

export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const n = checkLengths("accuracy", yTrue, yPred);
  let correct = 0;
  for (let i = 0; i < n; i++) if (yTrue[i] === yPred[i]) correct++;
  return correct / n;
}

/** Mean recall over the classes present in y_true (sklearn drops classes it has no support for). */
export function balancedAccuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const { tp, trueCount } = labelCounts("balanced_accuracy", yTrue, yPred);
  let sum = 0;
  let classes = 0;
  for (let c = 0; c < tp.length; c++) {
    if (trueCount[c]! === 0) continue;
    sum += tp[c]! / trueCount[c]!;
    classes++;
  }
  return sum / classes;
}

function fScore(tp: number, predCount: number, trueCount: number): number {
  // sklearn: precision and recall with 0 for 0/0, then F1 = 2PR / (P + R), 0 when P + R = 0.
  const precision = predCount === 0 ? 0 : tp / predCount;
  const recall = trueCount === 0 ? 0 : tp / trueCount;
  const denominator = precision + recall;
  return denominator === 0 ? 0 : (2 * precision * recall) / denominator;
}

/** Unweighted mean of per-class F1 over the classes present in y_true or y_pred (sklearn's default). */
export function f1Macro(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const { tp, trueCount, predCount } = labelCounts("f1_macro", yTrue, yPred);
  let sum = 0;
  let classes = 0;
  for (let c = 0; c < tp.length; c++) {
    if (trueCount[c]! === 0 && predCount[c]! === 0) continue;
    sum += fScore(tp[c]!, predCount[c]!, trueCount[c]!);
    classes++;
  }
  return sum / classes;
}

/** F1 of the pooled counts; for single-label problems this equals accuracy. */
export function f1Micro(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const { tp, trueCount, predCount } = labelCounts("f1_micro", yTrue, yPred);
  let tpSum = 0;
  let trueSum = 0;
  let predSum = 0;
  for (let c = 0; c < tp.length; c++) {
    tpSum += tp[c]!;
    trueSum += trueCount[c]!;
    predSum += predCount[c]!;
  }
  return fScore(tpSum, predSum, trueSum);
}

/** sklearn's default clipping for float64 probabilities: machine epsilon. */
export const LOG_LOSS_EPS = 2.220446049250313e-16;

/**
 * Cross-entropy like sklearn.metrics.log_loss(labels=all classes): probabilities are clipped to
 * [eps, 1 - eps], each row is renormalised to sum to 1, and the loss is the mean of -ln p(true class).
 */
export function logLoss(
  yTrue: ArrayLike<number>,
  proba: ArrayLike<number>,
  columns = 1,
  eps = LOG_LOSS_EPS,
): number {
  if (!Number.isInteger(columns) || columns < 1) {
    throw new ScoringError(`log_loss: ${columns} probability columns; give 1 (binary) or one per class`);
  }
  const n = checkLengths("log_loss", yTrue, proba, columns);
  checkFinite("log_loss", proba, "the probabilities");
  const hi = 1 - eps;
  const clip = (p: number): number => (p < eps ? eps : p > hi ? hi : p);
  const total = new Sum();
  if (columns === 1) {
    for (let i = 0; i < n; i++) {
      const t = yTrue[i]!;
      if (t !== 0 && t !== 1)
        throw new ScoringError(`log_loss: binary label at row ${i} is ${t}, not 0 or 1`);
      const p = clip(proba[i]!);
      const q = 1 - p;
      total.add(-Math.log((t === 1 ? p : q) / (q + p)));
    }
  } else {
    for (let i = 0; i < n; i++) {
      const t = yTrue[i]!;
      if (!(t >= 0 && t < columns && Number.isInteger(t))) {
        throw new ScoringError(`log_loss: label code ${t} at row ${i} has no probability column`);
      }
      const base = i * columns;
      let rowSum = 0;
      for (let c = 0; c < columns; c++) rowSum += clip(proba[base + c]!);
      total.add(-Math.log(clip(proba[base + t]!) / rowSum));
    }
  }
  return total.value / n;
}

/**
 * Mann–Whitney form of the area under the ROC curve for one binary problem, exactly equal to sklearn's
 * trapezoidal area: ties between a positive and a negative count one half (average ranks).
 * O(n log n): positives and negatives are sorted separately (native numeric sort) and merged.
 */
function binaryAuc(
  isPositive: (i: number) => boolean,
  score: (i: number) => number,
  n: number,
  what: string,
) {
  let positives = 0;
  for (let i = 0; i < n; i++) if (isPositive(i)) positives++;
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) {
    throw new ScoringError(
      `roc_auc: only one class present in the ground truth${what}, so ROC AUC is undefined (needs both positives and negatives)`,
    );
  }
  const pos = new Float64Array(positives);
  const neg = new Float64Array(negatives);
  let pi = 0;
  let ni = 0;
  for (let i = 0; i < n; i++) {
    const s = score(i);
    if (Number.isNaN(s)) throw new ScoringError(`roc_auc: score at row ${i} is NaN`);
    if (isPositive(i)) pos[pi++] = s;
    else neg[ni++] = s;
  }
  pos.sort();
  neg.sort();
  // U = Σ over positives of (#negatives below) + ½ (#negatives equal); exact in doubles below 2^52.
  let u = 0;
  let below = 0;
  let i = 0;
  while (i < positives) {
    const s = pos[i]!;
    let run = 1;
    while (i + run < positives && pos[i + run] === s) run++;
    while (below < negatives && neg[below]! < s) below++;
    let equal = 0;
    while (below + equal < negatives && neg[below + equal] === s) equal++;
    u += run * (2 * below + equal);
    i += run;
  }
  return u / 2 / positives / negatives;
}

/**
 * ROC AUC like sklearn.metrics.roc_auc_score: binary with one score column (probability of class 1), or
 * macro-averaged one-vs-rest with one probability column per class.
 */
export function rocAuc(yTrue: ArrayLike<number>, proba: ArrayLike<number>, columns = 1): number {
  if (!Number.isInteger(columns) || columns < 1) {
    throw new ScoringError(`roc_auc: ${columns} score columns; give 1 (binary) or one per class`);
  }
  const n = checkLengths("roc_auc", yTrue, proba, columns);
  if (columns === 1) {
    for (let i = 0; i < n; i++) {
      const t = yTrue[i];
      if (t !== 0 && t !== 1) throw new ScoringError(`roc_auc: binary label at row ${i} is ${t}, not 0 or 1`);
    }
    return binaryAuc(
      (i) => yTrue[i] === 1,
      (i) => proba[i]!,
      n,
      "",
    );
  }
  let sum = 0;
  for (let c = 0; c < columns; c++) {
    sum += binaryAuc(
      (i) => yTrue[i] === c,
      (i) => proba[i * columns + c]!,
      n,
      ` for class column ${c} (one-vs-rest)`,
    );
  }
  return sum / columns;
}

function regressionCheck(metric: string, yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const n = checkLengths(metric, yTrue, yPred);
  checkFinite(metric, yTrue, "y_true");
  checkFinite(metric, yPred, "y_pred");
  return n;
}

export function rmse(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const n = regressionCheck("rmse", yTrue, yPred);
  const sum = new Sum();
  for (let i = 0; i < n; i++) {
    const d = yTrue[i]! - yPred[i]!;
    sum.add(d * d);
  }
  return Math.sqrt(sum.value / n);
}

export function mae(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const n = regressionCheck("mae", yTrue, yPred);
  const sum = new Sum();
  for (let i = 0; i < n; i++) sum.add(Math.abs(yTrue[i]! - yPred[i]!));
  return sum.value / n;
}

/** Coefficient of determination; like sklearn (force_finite), a constant y_true gives 1 if perfect, else 0. */
export function r2(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const n = regressionCheck("r2", yTrue, yPred);
  if (n < 2) throw new ScoringError("r2: needs at least two rows; R² is undefined for one");
  const mean = new Sum();
  for (let i = 0; i < n; i++) mean.add(yTrue[i]!);
  const average = mean.value / n;
  const residual = new Sum();
  const total = new Sum();
  for (let i = 0; i < n; i++) {
    const d = yTrue[i]! - yPred[i]!;
    const m = yTrue[i]! - average;
    residual.add(d * d);
    total.add(m * m);
  }
  if (total.value === 0) return residual.value === 0 ? 1 : 0;
  return 1 - residual.value / total.value;
}

/** sklearn's mean_absolute_percentage_error: mean |y - ŷ| / max(|y|, eps), a fraction (not ×100). */
export function mape(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const n = regressionCheck("mape", yTrue, yPred);
  const sum = new Sum();
  for (let i = 0; i < n; i++) {
    const t = yTrue[i]!;
    sum.add(Math.abs(yPred[i]! - t) / Math.max(Math.abs(t), Number.EPSILON));
  }
  return sum.value / n;
}

function expect<K extends MetricInputKind>(
  metric: MetricName,
  kind: K,
  input: MetricInput,
): Extract<MetricInput, { kind: K }> {
  if (input.kind !== kind) {
    throw new ScoringError(`${metric} needs ${kind} as predictions, got ${input.kind}`);
  }
  return input as Extract<MetricInput, { kind: K }>;
}

function labelMetric(
  name: MetricName,
  sklearn: string,
  description: string,
  fn: (yTrue: ArrayLike<number>, yPred: ArrayLike<number>) => number,
): MetricSpec {
  return {
    name,
    direction: "higher",
    input: "labels",
    sklearn,
    description,
    compute: (input) => {
      const { yTrue, yPred } = expect(name, "labels", input);
      return fn(yTrue, yPred);
    },
  };
}

function probabilityMetric(
  name: MetricName,
  direction: "higher" | "lower",
  sklearn: string,
  description: string,
  fn: (yTrue: ArrayLike<number>, proba: ArrayLike<number>, columns: number) => number,
): MetricSpec {
  return {
    name,
    direction,
    input: "probabilities",
    sklearn,
    description,
    compute: (input) => {
      const { yTrue, proba, columns } = expect(name, "probabilities", input);
      return fn(yTrue, proba, columns);
    },
  };
}

function valueMetric(
  name: MetricName,
  direction: "higher" | "lower",
  sklearn: string,
  description: string,
  fn: (yTrue: ArrayLike<number>, yPred: ArrayLike<number>) => number,
): MetricSpec {
  return {
    name,
    direction,
    input: "values",
    sklearn,
    description,
    compute: (input) => {
      const { yTrue, yPred } = expect(name, "values", input);
      return fn(yTrue, yPred);
    },
  };
}

/** Every built-in metric by the name competition.yml uses. */
export const METRICS: Record<MetricName, MetricSpec> = {
  accuracy: labelMetric("accuracy", "accuracy_score", "share of rows whose label is right", accuracy),
  balanced_accuracy: labelMetric(
    "balanced_accuracy",
    "balanced_accuracy_score",
    "mean recall over the classes in the ground truth",
    balancedAccuracy,
  ),
  f1_macro: labelMetric("f1_macro", "f1_score(average='macro')", "unweighted mean of per-class F1", f1Macro),
  f1_micro: labelMetric("f1_micro", "f1_score(average='micro')", "F1 of pooled counts", f1Micro),
  log_loss: probabilityMetric(
    "log_loss",
    "lower",
    "log_loss",
    "cross-entropy of the predicted class probabilities (clipped, renormalised per row)",
    logLoss,
  ),
  roc_auc: probabilityMetric(
    "roc_auc",
    "higher",
    "roc_auc_score (binary, or multi_class='ovr', average='macro')",
    "area under the ROC curve; macro one-vs-rest for more than two classes",
    rocAuc,
  ),
  rmse: valueMetric("rmse", "lower", "mean_squared_error(squared=False)", "root mean squared error", rmse),
  mae: valueMetric("mae", "lower", "mean_absolute_error", "mean absolute error", mae),
  r2: valueMetric("r2", "higher", "r2_score", "coefficient of determination", r2),
  mape: valueMetric(
    "mape",
    "lower",
    "mean_absolute_percentage_error",
    "mean absolute percentage error, as a fraction",
    mape,
  ),
};

export const METRIC_NAMES = Object.keys(METRICS) as MetricName[];

export function isMetricName(name: string): name is MetricName {
  return Object.prototype.hasOwnProperty.call(METRICS, name);
}

/** Computes a metric by name. */
export function computeMetric(name: MetricName, input: MetricInput): number {
  return METRICS[name].compute(input);
}
