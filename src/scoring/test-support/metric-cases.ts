import { readFileSync } from "node:fs";
import type { MetricName } from "../metrics.js";

/** One case of fixtures/metric-cases.json, as scripts/metric-fixtures.py writes it with scikit-learn. */
export interface MetricCase {
  name: string;
  kind: "binary" | "multiclass" | "regression";
  labels?: (string | number)[];
  y_true: (string | number)[];
  y_pred: (string | number)[];
  proba?: number[] | number[][];
  usage?: string[];
  expected: Partial<Record<MetricName, number>>;
  expected_public?: Partial<Record<MetricName, number>>;
  expected_private?: Partial<Record<MetricName, number>>;
}

export const metricFixtures = JSON.parse(
  readFileSync(new URL("../fixtures/metric-cases.json", import.meta.url), "utf8"),
) as { sklearn: string; cases: MetricCase[] };
