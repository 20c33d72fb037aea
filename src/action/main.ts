import * as core from "@actions/core";
import { commandInput, InputError, type ActionCommand } from "./inputs.js";
import { buildRuntimeCommand, publishRuntimeCommand, testRuntimeCommand } from "./runtime-commands.js";
import { runSubmissionCommand } from "./run-submission.js";

/**
 * The GitHub Action's entry: reads the inputs and calls the same rooms the CLI uses. Runs as the runner
 * runs it: `node dist/index.js` with INPUT_* variables, GITHUB_EVENT_PATH and GITHUB_STEP_SUMMARY.
 */
const handlers: Record<ActionCommand, () => Promise<void>> = {
  "build-runtime": buildRuntimeCommand,
  "test-runtime": testRuntimeCommand,
  "publish-runtime": publishRuntimeCommand,
  "run-submission": runSubmissionCommand,
};

/** Runs the command the `command` input names; a failure fails the step (core.setFailed), never throws. */
export async function run(): Promise<void> {
  // Folders the engine bind-mounts must be where it can see them: on runners (also with Docker-in-Docker),
  // under the runner's temp folder.
  if (process.env.RUNNER_TEMP) process.env.TMPDIR = process.env.RUNNER_TEMP;
  try {
    await handlers[commandInput()]();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    core.setFailed(error instanceof InputError ? message : `proctor: ${message}`);
  }
}
