import { describe, expect, it } from "vitest";
import { metricFixtures, type MetricCase } from "./test-support/metric-cases.js";
import { ScoringError } from "./errors.js";
import {
  accuracy,
  balancedAccuracy,
  computeMetric,
  f1Macro,
  isMetricName,
  logLoss,
  mape,
  METRIC_NAMES,
  METRICS,
  r2,
  rmse,
  rocAuc,
  type MetricInput,
  type MetricName,
} from "./metrics.js";

function closeTo(actual: number, expected: number): void {
  const scale = Math.max(Math.abs(expected), 1e-300);
  expect(Math.abs(actual - expected) / scale, `${actual} vs sklearn ${expected}`).toBeLessThanOrEqual(1e-9);
}

/** Builds the metric input of a fixture case restricted to `rows` (all rows by default). */
function inputFor(c: MetricCase, metric: MetricName, rows?: number[]): MetricInput {
  const pick = <T>(values: T[]): T[] => (rows ? rows.map((i) => values[i]!) : values);
  if (c.kind === "regression") {
    return {
      kind: "values",
      yTrue: Float64Array.from(pick(c.y_true as number[])),
      yPred: Float64Array.from(pick(c.y_pred as number[])),
    };
  }
  const labels = c.labels!;
  const code = (label: string | number): number => {
    const index = labels.indexOf(label);
    expect(index).toBeGreaterThanOrEqual(0);
    return index;
  };
  const yTrue = Int32Array.from(pick(c.y_true), code);
  if (METRICS[metric].input === "labels") {
    return { kind: "labels", yTrue, yPred: Int32Array.from(pick(c.y_pred), code) };
  }
  if (c.kind === "binary") {
    return { kind: "probabilities", yTrue, proba: Float64Array.from(pick(c.proba as number[])), columns: 1 };
  }
  const proba = pick(c.proba as number[][]);
  return { kind: "probabilities", yTrue, proba: Float64Array.from(proba.flat()), columns: labels.length };
}

describe("metrics match scikit-learn", () => {
  it("has fixtures for every metric", () => {
    const covered = new Set(metricFixtures.cases.flatMap((c) => Object.keys(c.expected)));
    expect([...covered].sort()).toEqual([...METRIC_NAMES].sort());
  });

  for (const c of metricFixtures.cases) {
    for (const [metric, expected] of Object.entries(c.expected) as [MetricName, number][]) {
      it(`${c.name}: ${metric} (sklearn ${metricFixtures.sklearn})`, () => {
        closeTo(computeMetric(metric, inputFor(c, metric)), expected);
      });
    }
    if (c.usage) {
      for (const part of ["Public", "Private"] as const) {
        const rows = c.usage.flatMap((u, i) => (u === part ? [i] : []));
        const expected = part === "Public" ? c.expected_public! : c.expected_private!;
        it(`${c.name}: ${part} rows match sklearn for every metric`, () => {
          for (const [metric, value] of Object.entries(expected) as [MetricName, number][]) {
            closeTo(computeMetric(metric, inputFor(c, metric, rows)), value);
          }
        });
      }
    }
  }
});

describe("metric registry", () => {
  it("names a direction and input kind for each metric", () => {
    expect(METRICS.accuracy.direction).toBe("higher");
    expect(METRICS.log_loss.direction).toBe("lower");
    expect(METRICS.rmse.direction).toBe("lower");
    expect(METRICS.r2.direction).toBe("higher");
    expect(METRICS.roc_auc.input).toBe("probabilities");
    expect(METRICS.mape.input).toBe("values");
    for (const name of METRIC_NAMES) expect(METRICS[name].name).toBe(name);
  });

  it("recognises metric names", () => {
    expect(isMetricName("f1_macro")).toBe(true);
    expect(isMetricName("toString")).toBe(false);
    expect(isMetricName("auc")).toBe(false);
  });

  it("refuses an input of the wrong kind", () => {
    const input: MetricInput = { kind: "values", yTrue: [1, 2], yPred: [1, 2] };
    expect(() => computeMetric("accuracy", input)).toThrow(/accuracy needs labels/);
  });
});

describe("metric edge cases", () => {
  it("roc_auc with one class in y_true is a ScoringError with the reason", () => {
    expect(() => rocAuc([1, 1, 1], [0.2, 0.5, 0.9])).toThrow(ScoringError);
    expect(() => rocAuc([0, 0], [0.2, 0.5])).toThrow(/only one class present/);
  });

  it("multi-class roc_auc with a class absent from y_true is a ScoringError naming the class column", () => {
    const proba = [0.5, 0.5, 0, 0.2, 0.8, 0, 0.6, 0.4, 0];
    expect(() => rocAuc([0, 1, 0], proba, 3)).toThrow(/class column 2/);
  });

  it("length mismatch is a ScoringError", () => {
    expect(() => accuracy([0, 1, 1], [0, 1])).toThrow(ScoringError);
    expect(() => accuracy([0, 1, 1], [0, 1])).toThrow(/3 rows but the predictions have 2/);
    expect(() => logLoss([0, 1], [0.2, 0.3, 0.5], 3)).toThrow(/must match/);
    expect(() => rmse([1], [1, 2])).toThrow(ScoringError);
  });

  it("empty input is a ScoringError", () => {
    expect(() => f1Macro([], [])).toThrow(/no rows/);
    expect(() => rocAuc([], [])).toThrow(/no rows/);
  });

  it("r2 needs two rows; a constant target follows sklearn's finite convention", () => {
    expect(() => r2([1], [1])).toThrow(/at least two rows/);
    expect(r2([3, 3, 3], [3, 3, 3])).toBe(1);
    expect(r2([3, 3, 3], [3, 2, 3])).toBe(0);
  });

  it("non-finite values and bad codes are ScoringErrors", () => {
    expect(() => rmse([1, NaN], [1, 2])).toThrow(/non-finite/);
    expect(() => logLoss([0, 1], [0.5, NaN])).toThrow(/non-finite/);
    expect(() => logLoss([0, 2], [0.5, 0.5])).toThrow(/not 0 or 1/);
    expect(() => balancedAccuracy([0, -1], [0, 1])).toThrow(/not a non-negative integer/);
    expect(() => logLoss([0, 3], [0.5, 0.5, 0.5, 0.5], 2)).toThrow(/no probability column/);
  });

  it("log_loss clips 0 and 1 with float64 eps", () => {
    expect(logLoss([1], [0])).toBeCloseTo(-Math.log(2.220446049250313e-16), 12);
    expect(logLoss([0, 1], [0, 1])).toBeCloseTo(2.220446049250313e-16, 20);
  });

  it("roc_auc counts ties as one half and is exact on a hand case", () => {
    // pos scores 0.5, 0.8; neg 0.5, 0.2 → pairs: (0.5,0.5)=½, (0.5,0.2)=1, (0.8,*)=2 → 3.5/4
    expect(rocAuc([1, 0, 1, 0], [0.5, 0.5, 0.8, 0.2])).toBe(0.875);
    expect(rocAuc([1, 0], [0.3, 0.3])).toBe(0.5);
  });

  it("mape divides by eps for zero targets like sklearn", () => {
    expect(mape([0, 2], [1, 1])).toBeCloseTo((1 / Number.EPSILON + 0.5) / 2, 0);
  });
});
