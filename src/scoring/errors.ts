/**
 * Errors of the scoring room. Each carries the run status it maps to, so edges can report it without
 * guessing: a participant's file that breaks the format is `output_invalid`; a scorer that cannot produce
 * a number (bad ground truth, undefined metric) is `scoring_failed`.
 */
import type { RunStatus } from "../status/index.js";
import type { ValidationFailure } from "./problems.js";

/** The scorer could not produce a score: the reason says what was wrong and what to do. */
export class ScoringError extends Error {
  readonly status: RunStatus = "scoring_failed";
  override name = "ScoringError";
}

/** The predictions file does not follow the submission format; `failure.problems` lists why. */
export class OutputInvalidError extends Error {
  readonly status: RunStatus = "output_invalid";
  override name = "OutputInvalidError";
  constructor(readonly failure: ValidationFailure) {
    super(failure.summary);
  }
}
