/**
 * The container contract: what a participant's program, a runtime image and a custom scorer may count on
 * inside their containers, the same locally and on runners. runtime/entrypoint.sh mirrors the values it
 * needs (contract.test.ts checks that the two agree). This room imports nothing.
 */

/** A zip submission's folders (DrivenData's layout). */
export const CONTAINER = {
  root: "/code_execution",
  /** The extracted submission, main.py or main.sh at its root: read-only. */
  src: "/code_execution/src",
  /** The test features: read-only. */
  data: "/code_execution/data",
  /** Where the predictions go: writable, size- and file-capped while the program runs. */
  submission: "/code_execution/submission",
  /** The organizer's pinned model files (runtime/models.yml), one folder per model: read-only. */
  models: "/code_execution/models",
  /** Scratch, empty at start, size-capped; also HOME and TMPDIR. */
  tmp: "/tmp",
  /**
   * The runtime entrypoint's working folder (in /tmp): the submission's files linked in, and data/ and
   * submission/ resolving to the two folders above.
   */
  workDir: "/tmp/work",
} as const;

/** The file a zip submission's program writes in CONTAINER.submission when competition.yml names none. */
export const DEFAULT_EXPECTED_OUTPUT = "submission.csv";

/**
 * An expected output named with this (e.g. "{id}.tif") is a folder of files, one per id, not one file: the
 * program writes them into the output folder itself, and any file there is output (runtime/entrypoint.sh
 * mirrors this).
 */
export const ID_PLACEHOLDER = "{id}";

/** True for an expected output that names one file per id ("{id}.tif") rather than one file. */
export function namesFilePerId(expectedOutput: string): boolean {
  return expectedOutput.includes(ID_PLACEHOLDER);
}

/** An image submission's folders (Grand Challenge's contract), unless competition.yml says otherwise. */
export const IMAGE_CONTAINER = {
  /** The test features: read-only. */
  input: "/input",
  /** Where the predictions go: writable, capped. */
  output: "/output",
  /**
   * Grand Challenge's per-case contract: where the algorithm's model tarball is extracted (read-only), and
   * the file in the input folder that lists the case's inputs (its "socket values").
   */
  model: "/opt/ml/model",
  inputsJson: "inputs.json",
} as const;

/**
 * Exit codes of runtime/entrypoint.sh besides the program's own: the program exited 0 but wrote no expected
 * output; there was no main.sh or main.py; the entrypoint could not set up (no python, /tmp not writable).
 */
export const ENTRYPOINT_EXIT = { outputMissing: 65, noMain: 66, setupFailed: 70 } as const;

/** What runtime/entrypoint.sh reads from its environment. */
export const ENTRYPOINT_ENV = {
  /** The file the program must write in CONTAINER.submission (default DEFAULT_EXPECTED_OUTPUT). */
  expectedOutput: "PROCTOR_EXPECTED_OUTPUT",
  /** "1": set up the working folder, then start a shell there instead of the program. */
  interactive: "PROCTOR_INTERACTIVE",
} as const;

/** Where the runtime images keep their own tests (both flavours). */
export const RUNTIME_TESTS_DIR = "/opt/proctor/tests";

/**
 * Where a custom scorer finds its inputs, read-only, in its own container. Predictions in JSON come as
 * /scoring/predictions.jsonl or /scoring/predictions.json instead (scorerPredictionsFile), and a folder of
 * files, one per id, as the folder /scoring/predictions.
 */
export const SCORER_PATHS = {
  predictions: "/scoring/predictions.csv",
  predictionsFolder: "/scoring/predictions",
  groundTruth: "/scoring/ground_truth.csv",
  scorer: "/scoring/scorer",
} as const;

/** Where the scorer finds predictions written as `encoding`: /scoring/predictions.csv, .jsonl or .json. */
export function scorerPredictionsFile(encoding: "csv" | "json" | "jsonl"): string {
  return encoding === "csv" ? SCORER_PATHS.predictions : `/scoring/predictions.${encoding}`;
}

/**
 * What runs the participant's code. A runtime image with an entrypoint (runtime/entrypoint.sh) decides
 * itself; a bare image gets the interpreter for main.py or main.sh.
 */
export function submissionCommand(entrypoint: "main.py" | "main.sh", imageHasEntrypoint: boolean): string[] {
  if (imageHasEntrypoint) return [];
  return entrypoint === "main.py"
    ? ["python3", `${CONTAINER.src}/main.py`]
    : ["bash", `${CONTAINER.src}/main.sh`];
}
