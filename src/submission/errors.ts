import type { RunStatus } from "../status/index.js";

/**
 * A submission zip refused before anything runs. `rule` is a stable machine-readable name (see RULES in
 * rules.ts), `entry` the offending entry name when there is one; the message names the input, the rule
 * broken and what to do.
 */
export class InvalidSubmissionError extends Error {
  readonly status = "invalid_submission" satisfies RunStatus;

  constructor(
    readonly rule: string,
    readonly entry: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = "InvalidSubmissionError";
  }
}
