/**
 * The score's name as pages and tables show it. Its own file, with no runtime imports, so the gateway's
 * pages name the score without loading the custom scorer's sandbox (and Docker's client).
 */
import type { Metric } from "./score-submission.js";

/** The built-in metric's name, or the custom scorer's own (scoring.metric.custom.name). */
export function metricName(metric: Metric): string {
  return typeof metric === "string" ? metric : metric.custom.name;
}
