import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Competition, Phase } from "../config/index.js";
import { sealScore, type LeaderboardEntry, type LeaderboardStore } from "../leaderboard/index.js";
import { visibleLog, type LogVisibility } from "../logs/index.js";
import {
  formatProblem,
  OutputInvalidError,
  readGroundTruth,
  runCustomScorer,
  scorerPredictionsPath,
  validatePredictions,
  scorePredictions,
  ScoringError,
  type MetricName,
  type SubmissionFormat,
} from "../scoring/index.js";
import type { RunStatus } from "../status/index.js";
import { checkCompetitionSetup } from "./preflight.js";
import { DEFAULT_IMAGE_SUBMISSION, runImageSubmission } from "./run-image.js";
import { runSubmission, type SubmissionRunResult } from "./run-submission.js";

export interface EvaluationRequest {
  competition: Competition;
  /** The submitted file: a zip, or an image archive (`docker save`) when the kind is image. */
  zipPath: string;
  /** What the file is; default the competition's submission.kind. */
  kind?: "zip" | "image";
  /**
   * The runtime image: runs a zip; for an image archive, the trusted image that holds the output folder
   * (and the custom scorer's default image).
   */
  image: string;
  participant: string;
  /** Default: local-<the run's id>, so every local run is a row of its own. */
  submissionId?: string;
  submittedAt?: Date;
  phase: Phase;
  /** Runners override the competition's local paths with theirs. */
  dataDir?: string;
  groundTruth?: string;
  /** Where the predictions are left for the participant to look at; default a temporary folder. */
  outputDir?: string;
  store: LeaderboardStore;
  gpu?: boolean;
}

export interface Evaluation {
  submissionId: string;
  participant: string;
  submittedAt: string;
  phase: Phase;
  status: RunStatus;
  reason: string;
  /** The file the competition expects in the submission folder (the submission format's `file`). */
  expectedOutput: string;
  /** Format problems, one line each, when the predictions were output_invalid. */
  problems: string[];
  scores: { public: number | null; private: number | null };
  run: SubmissionRunResult;
  /** The program's logs as this phase lets the participant see them. */
  logs: { stdout: string; stderr: string; visibility: LogVisibility };
  entry: LeaderboardEntry;
}

/**
 * The one path every submission takes, locally and on runners: check the competition's set-up → run
 * sandboxed → validate → score → record on the leaderboard. Nothing here depends on where it runs; the
 * edges pass the paths and the store. Submission limits are not checked here: they apply where
 * submissions are accepted (the gateway), never to a participant's own machine.
 *
 * Throws CompetitionSetupError (the organizer's mistake) before anything runs or is recorded.
 */
export async function evaluateSubmission(request: EvaluationRequest): Promise<Evaluation> {
  const { competition, store } = request;
  const rules = competition.leaderboard;
  const submittedAt = request.submittedAt ?? new Date();
  const dataDir = request.dataDir ?? competition.paths.dataDir;
  const groundTruth = request.groundTruth ?? competition.paths.groundTruth;
  const format = await checkCompetitionSetup(competition, { dataDir, groundTruth });
  const scratch = request.outputDir ? null : await mkdtemp(path.join(os.tmpdir(), "proctor-predictions-"));
  const outputDir = request.outputDir ?? path.join(scratch!, "out");
  try {
    const kind = request.kind ?? competition.submission.kind;
    const run =
      kind === "image"
        ? await runImageSubmission({
            archivePath: request.zipPath,
            helperImage: request.image,
            dataDir,
            outputDir,
            limits: competition.limits,
            image:
              competition.submission.kind === "image"
                ? competition.submission.image
                : DEFAULT_IMAGE_SUBMISSION,
            expectedOutput: format.file,
            gpu: request.gpu,
          })
        : await runSubmission({
            zipPath: request.zipPath,
            image: request.image,
            dataDir,
            outputDir,
            limits: competition.limits,
            zipLimits: competition.zipLimits,
            expectedOutput: format.file,
            gpu: request.gpu,
          });
    const submissionId = request.submissionId ?? `local-${run.runId}`;
    let status: RunStatus = run.status;
    let reason = run.reason;
    let problems: string[] = [];
    let scores: Evaluation["scores"] = { public: null, private: null };
    if (run.status === "succeeded") {
      const predictions = path.join(outputDir, format.file);
      try {
        scores = await score(competition, request.image, predictions, groundTruth, format);
        reason = "scored";
      } catch (error) {
        if (error instanceof OutputInvalidError) {
          status = "output_invalid";
          reason = error.failure.summary;
          problems = error.failure.problems.map(formatProblem);
        } else if (error instanceof ScoringError) {
          status = "scoring_failed";
          reason = error.message;
        } else {
          throw error;
        }
      }
    }

    const sealingKey = rules.sealingPublicKey ? await readFile(rules.sealingPublicKey, "utf8") : null;
    const entry: LeaderboardEntry = {
      submissionId,
      participant: request.participant,
      submittedAt: submittedAt.toISOString(),
      status,
      publicScore: scores.public,
      // Private scores are never stored in the clear: sealed to the organizer's key, or not kept at all.
      privateScore: null,
      sealedPrivateScore:
        scores.private !== null && sealingKey ? sealScore(scores.private, submissionId, sealingKey) : null,
      durationMs: run.durationMs,
      imageDigest: run.image?.digest ?? run.image?.id ?? "",
      zipSha256: run.submissionSha256 ?? "",
      ...(run.image && { runtime: run.runtime }),
    };
    await store.record(entry);
    return {
      submissionId,
      participant: request.participant,
      submittedAt: entry.submittedAt,
      phase: request.phase,
      status,
      reason,
      expectedOutput: format.file,
      problems,
      scores,
      run,
      logs: visibleLogs(run, competition.logs[request.phase], competition.logs.tail_lines),
      entry,
    };
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

async function score(
  competition: Competition,
  image: string,
  predictions: string,
  groundTruth: string,
  format: SubmissionFormat,
): Promise<Evaluation["scores"]> {
  const metric = competition.scoring.metric;
  if (typeof metric === "string") {
    const result = await scorePredictions({
      predictionsPath: predictions,
      groundTruthPath: groundTruth,
      format,
      metric: metric as MetricName,
      usageColumn: competition.scoring.usage_column,
    });
    return { public: result.public, private: result.private };
  }
  // A custom scorer only sees predictions that passed the format check.
  const idType =
    format.columns.find((c) => c.name === format.idColumn)?.type === "integer" ? "integer" : "string";
  const truth = await readGroundTruth(groundTruth, { idColumn: format.idColumn, idType, usageColumn: null });
  const checked = await validatePredictions(predictions, format, truth.ids);
  if (!checked.ok) throw new OutputInvalidError(checked);
  const custom = metric.custom;
  const result = await runCustomScorer(
    {
      command: custom.command,
      image: custom.image ?? image,
      ...(custom.script_dir && { scriptDir: custom.script_dir }),
      limits: { ...competition.limits, timeLimitMs: custom.time, memoryBytes: custom.memory },
    },
    predictions,
    groundTruth,
    scorerPredictionsPath(format),
  );
  return { public: result.public, private: result.private };
}

function visibleLogs(
  run: SubmissionRunResult,
  visibility: LogVisibility,
  tailLines: number,
): Evaluation["logs"] {
  const logs = { visibility, tailLines };
  return { stdout: visibleLog(run.stdout.text, logs), stderr: visibleLog(run.stderr.text, logs), visibility };
}
