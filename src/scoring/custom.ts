/**
 * The organizer's own scorer (`scoring.metric: { custom: { command, script_dir, image } }`), run in a
 * sandboxed container of its own: no network, never root, nothing writable but /tmp. It gets, read-only:
 * - the predictions that passed the format check: /scoring/predictions.csv (or .jsonl, .json, as the
 *   format's file is written); for a folder format (`files:`), the folder /scoring/predictions/ holding
 *   exactly one file per expected id, named as `files.name` says (e.g. <id>.tif), and nothing else;
 * - the ground truth at /scoring/ground_truth.csv;
 * - script_dir's files under /scoring/scorer/.
 * It prints `{"public": <number>, "private": <number>}` (private optional) as its last line on stdout.
 */
import path from "node:path";
import { z } from "zod";
import { SCORER_PATHS, scorerPredictionsFile } from "../contract/index.js";
import { newRunId, runSandboxed, type SandboxLimits } from "../sandbox/index.js";
import type { RunStatus } from "../status/index.js";
import { ScoringError } from "./errors.js";
import { predictionsEncoding, type SubmissionFormat } from "./format.js";

/** Where a custom scorer finds its inputs, read-only, in its own container: the container contract's. */
export { SCORER_PATHS };

/**
 * Where the scorer finds the predictions: /scoring/predictions.csv, .jsonl or .json, as the format writes
 * them; for a folder format, the folder /scoring/predictions holding one file per id, as the format names
 * them (`files.name`, e.g. /scoring/predictions/<id>.tif), and nothing else: it passed validate-files.ts.
 */
export function scorerPredictionsPath(format: Pick<SubmissionFormat, "file" | "files">): string {
  return format.files ? SCORER_PATHS.predictionsFolder : scorerPredictionsFile(predictionsEncoding(format));
}

/**
 * The organizer's scorer failed on predictions that passed the format check: it crashed, ran out of time
 * or memory, or printed no score (never the participant's doing), or it could not be started at all
 * (`infrastructure`: no engine, no image).
 */
export class ScorerFailedError extends ScoringError {
  override name = "ScorerFailedError";
  /** scorer_failed: the organizers' to fix (never counted, never retried by itself). */
  override readonly status: RunStatus;
  constructor(
    message: string,
    readonly infrastructure = false,
  ) {
    super(message);
    this.status = infrastructure ? "scoring_failed" : "scorer_failed";
  }
}

export interface CustomScorer {
  command: string[];
  image: string;
  /** Host folder with the organizer's scoring code, shown at /scoring/scorer. */
  scriptDir?: string;
  limits: SandboxLimits;
}

export interface CustomScores {
  public: number;
  private: number | null;
  /** Every number the scorer printed, for the record. */
  all: Record<string, number>;
}

const scoresSchema = z.record(z.string(), z.number().refine(Number.isFinite, "must be a finite number"));

/**
 * Runs an organizer's scorer in its own sandboxed container (no network, the predictions and the ground
 * truth read-only, nothing writable but /tmp) and reads the JSON object it prints last on stdout:
 * `{"public": 0.91, "private": 0.89}` (private optional). Anything else is a ScorerFailedError with the reason.
 * `predictionsPath` is a file, or for a folder format the output folder (mounted whole at the target).
 */
export async function runCustomScorer(
  scorer: CustomScorer,
  predictionsPath: string,
  groundTruthPath: string,
  /** Where the scorer sees the predictions: scorerPredictionsPath(format). */
  predictionsTarget: string = SCORER_PATHS.predictions,
  /** The format's id column and the ground truth's usage column (null: no split), told in its environment. */
  columns?: { id: string; usage: string | null },
): Promise<CustomScores> {
  const mounts = [
    { source: path.resolve(predictionsPath), target: predictionsTarget },
    { source: path.resolve(groundTruthPath), target: SCORER_PATHS.groundTruth },
    ...(scorer.scriptDir ? [{ source: path.resolve(scorer.scriptDir), target: SCORER_PATHS.scorer }] : []),
  ];
  const result = await runSandboxed({
    runId: `scorer-${newRunId()}`,
    image: scorer.image,
    command: scorer.command,
    workingDir: "/tmp",
    mounts,
    limits: scorer.limits,
    // What docs/scoring.md promises a scorer, so one scorer serves formats and splits without edits.
    env: {
      PROCTOR_PREDICTIONS: predictionsTarget,
      PROCTOR_GROUND_TRUTH: SCORER_PATHS.groundTruth,
      ...(columns && { PROCTOR_ID_COLUMN: columns.id, PROCTOR_USAGE_COLUMN: columns.usage ?? "" }),
    },
  });
  if (result.status !== "succeeded") {
    const stderr = result.stderr.text.trim().split("\n").slice(-5).join(" | ");
    throw new ScorerFailedError(
      `the custom scorer ${result.status === "infrastructure_error" ? "could not run" : "did not succeed"}: ${result.reason}${stderr ? `; its stderr ends: ${stderr}` : ""}`,
      result.status === "infrastructure_error",
    );
  }
  return parseScorerOutput(result.stdout.text);
}

/** The last non-empty stdout line must be a JSON object of finite numbers with at least `public`. */
export function parseScorerOutput(stdout: string): CustomScores {
  const last = stdout.trim().split("\n").at(-1)?.trim() ?? "";
  let parsed: unknown;
  try {
    parsed = JSON.parse(last);
  } catch {
    throw new ScorerFailedError(
      `the custom scorer must print a JSON object like {"public": 0.9, "private": 0.8} as its last line; it printed ${JSON.stringify(last.slice(0, 200))}`,
    );
  }
  const scores = scoresSchema.safeParse(parsed);
  if (!scores.success || Array.isArray(parsed)) {
    throw new ScorerFailedError(
      `the custom scorer's last line must be a JSON object of numbers; got ${JSON.stringify(last.slice(0, 200))}`,
    );
  }
  const all = scores.data;
  if (all.public === undefined) {
    throw new ScorerFailedError(
      `the custom scorer's JSON has no "public" score (keys: ${Object.keys(all).join(", ") || "none"}); print {"public": <number>, "private": <number>}`,
    );
  }
  return { public: all.public, private: all.private ?? null, all };
}
