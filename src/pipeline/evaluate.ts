import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { logVisibility, phaseLimits, type Competition, type Phase } from "../config/index.js";
import { sealScore, type LeaderboardEntry, type LeaderboardStore } from "../leaderboard/index.js";
import { visibleLog, type Diagnosis, type LogVisibility } from "../logs/index.js";
import {
  formatProblem,
  OutputInvalidError,
  scoreSubmission,
  ScoringError,
  type Problem,
  type SubmissionFormat,
  type SubmissionScoring,
} from "../scoring/index.js";
import type { RunStatus } from "../status/index.js";
import { caseProblem, listCases } from "./per-case.js";
import { checkCompetitionSetup } from "./preflight.js";
import { DEFAULT_IMAGE_SUBMISSION, runImageSubmission } from "./run-image.js";
import { runSubmission, type SubmissionRunResult } from "./run-submission.js";

export interface EvaluationRequest {
  competition: Competition;
  /** The submitted file: a zip, or an image archive (`docker save`) when the kind is image. */
  zipPath: string;
  /** What the file is; default the competition's submission.kind. */
  kind?: "zip" | "image";
  /** An image submission's model tarball (Grand Challenge's model.tar.gz), shown at /opt/ml/model. */
  modelPath?: string;
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
  /** The facts of how it ended (exit code, problem counts): all a hidden-set phase shows its owner. */
  diagnosis: Diagnosis;
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
  const { competition } = request;
  const submittedAt = request.submittedAt ?? new Date();
  const dataDir = request.dataDir ?? competition.paths.dataDir;
  const groundTruth = request.groundTruth ?? competition.paths.groundTruth;
  const format = await checkCompetitionSetup(competition, { dataDir, groundTruth });
  const scratch = request.outputDir ? null : await mkdtemp(path.join(os.tmpdir(), "proctor-predictions-"));
  const outputDir = request.outputDir ?? path.join(scratch!, "out");
  try {
    const run = await runSandboxed(request, { dataDir, outputDir, format });
    const submissionId = request.submissionId ?? `local-${run.runId}`;
    const { status, reason, problems, problemCounts, scores } =
      run.status === "succeeded"
        ? await score(
            {
              // A folder format's predictions are the output folder itself, one file per id.
              predictionsPath: format.files ? outputDir : path.join(outputDir, format.file),
              groundTruthPath: groundTruth,
              format,
              metric: competition.scoring.metric,
              usageColumn: competition.scoring.usageColumn,
              image: request.image,
            },
            await perCaseProblems(competition, format, dataDir),
          )
        : { ...UNSCORED, status: run.status, reason: run.reason };
    const entry: LeaderboardEntry = {
      submissionId,
      participant: request.participant,
      submittedAt: submittedAt.toISOString(),
      status,
      publicScore: scores.public,
      // Private scores are never stored in the clear: sealed to the organizer's key, or not kept at all.
      privateScore: null,
      sealedPrivateScore: sealed(scores.private, submissionId, competition.leaderboard.sealingPublicKeyPem),
      durationMs: run.durationMs,
      imageDigest: run.image?.digest ?? run.image?.id ?? "",
      zipSha256: run.submissionSha256 ?? "",
      ...(run.image && { runtime: run.runtime }),
      ...(run.image && modelsDigestOf(request)),
    };
    await request.store.record(entry);
    return {
      submissionId,
      participant: request.participant,
      submittedAt: entry.submittedAt,
      phase: request.phase,
      status,
      reason,
      expectedOutput: format.file,
      problems,
      diagnosis: { exitCode: run.exitCode, problemCounts },
      scores,
      run,
      logs: visibleLogs(run, logVisibility(competition, request.phase), competition.logs.tailLines),
      entry,
    };
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

/** The models a run gets at /code_execution/models (zips only, where the competition has them), as entries keep it. */
function modelsDigestOf(request: EvaluationRequest): { modelsDigest: string } | undefined {
  const { models, submission } = request.competition;
  return (request.kind ?? submission.kind) === "zip" && models
    ? { modelsDigest: `sha256:${models.digest}` }
    : undefined;
}

/** A re-score: predictions a run left earlier, scored again with the competition as it is now. */
export interface RescoreRequest {
  competition: Competition;
  /** Holds the kept predictions as the run left its output folder (the format's file, or a folder's files). */
  outputDir: string;
  /** Where a custom scorer without an image of its own runs. */
  image: string;
  submissionId: string;
  dataDir: string;
  groundTruth: string;
}

export type Rescored = Pick<Evaluation, "status" | "reason" | "problems" | "diagnosis" | "scores"> & {
  sealedPrivateScore: string | null;
};

/**
 * The scoring half of the one path, for a re-score: the same set-up check, format validation and metric
 * or custom scorer as a run's, on predictions a run left earlier; no container of the program is made.
 * Throws CompetitionSetupError (the organizer's mistake) before anything is scored.
 */
export async function rescorePredictions(request: RescoreRequest): Promise<Rescored> {
  const { competition } = request;
  const format = await checkCompetitionSetup(competition, {
    dataDir: request.dataDir,
    groundTruth: request.groundTruth,
  });
  const { problemCounts, ...scored } = await score({
    predictionsPath: format.files ? request.outputDir : path.join(request.outputDir, format.file),
    groundTruthPath: request.groundTruth,
    format,
    metric: competition.scoring.metric,
    usageColumn: competition.scoring.usageColumn,
    image: request.image,
  });
  return {
    ...scored,
    diagnosis: { exitCode: null, problemCounts },
    sealedPrivateScore: sealed(
      scored.scores.private,
      request.submissionId,
      competition.leaderboard.sealingPublicKeyPem,
    ),
  };
}

/** Runs the submission sandboxed: a zip in the runtime image, or the participant's own image. */
function runSandboxed(
  request: EvaluationRequest,
  paths: { dataDir: string; outputDir: string; format: SubmissionFormat },
): Promise<SubmissionRunResult> {
  const { competition } = request;
  const kind = request.kind ?? competition.submission.kind;
  const limits = phaseLimits(competition, request.phase);
  return kind === "image"
    ? runImageSubmission({
        archivePath: request.zipPath,
        helperImage: request.image,
        dataDir: paths.dataDir,
        outputDir: paths.outputDir,
        limits,
        image:
          competition.submission.kind === "image" ? competition.submission.image : DEFAULT_IMAGE_SUBMISSION,
        expectedOutput: paths.format.file,
        format: paths.format,
        ...(request.modelPath && { modelPath: request.modelPath }),
        gpu: request.gpu,
      })
    : runSubmission({
        zipPath: request.zipPath,
        image: request.image,
        dataDir: paths.dataDir,
        outputDir: paths.outputDir,
        limits,
        zipLimits: competition.zipLimits,
        expectedOutput: paths.format.file,
        gpu: request.gpu,
        models: competition.models,
      });
}

/** The private score sealed to the organizer's key; null when there is none or no key to seal it to. */
function sealed(score: number | null, submissionId: string, publicKeyPem: string | undefined): string | null {
  return score !== null && publicKeyPem ? sealScore(score, submissionId, publicKeyPem) : null;
}

type Scored = Pick<Evaluation, "status" | "reason" | "problems" | "scores"> &
  Pick<Diagnosis, "problemCounts">;

const UNSCORED = {
  problems: [],
  problemCounts: {},
  scores: { public: null, private: null },
} satisfies Partial<Scored>;

/**
 * How a per-case run's problems are told: by the case and its output file, not by the line of the table
 * proctor collected (which the participant never wrote); undefined for any other run.
 */
async function perCaseProblems(
  competition: Competition,
  format: SubmissionFormat,
  dataDir: string,
): Promise<((problem: Problem) => Problem) | undefined> {
  const { submission } = competition;
  if (submission.kind !== "image" || !submission.image.perCase) return undefined;
  const settings = { ...submission.image, perCase: submission.image.perCase };
  const cases = (await listCases(dataDir)).cases.length;
  return (problem) => caseProblem(problem, format, settings, cases);
}

/** Scores the predictions; the participant's output that cannot be scored becomes its status. */
async function score(
  scoring: SubmissionScoring,
  tell: (problem: Problem) => Problem = (problem) => problem,
): Promise<Scored> {
  try {
    const scores = await scoreSubmission(scoring);
    return { ...UNSCORED, status: "succeeded", reason: "scored", scores };
  } catch (error) {
    if (error instanceof OutputInvalidError) {
      return {
        ...UNSCORED,
        status: "output_invalid",
        // The problems travel as their own list, which every view shows under the reason.
        reason: error.failure.overview,
        problems: error.failure.problems.map((problem) => formatProblem(tell(problem))),
        problemCounts: error.failure.counts,
      };
    }
    // Its own status: scoring_failed, or scorer_failed where the organizers' scorer failed.
    if (error instanceof ScoringError) return { ...UNSCORED, status: error.status, reason: error.message };
    throw error;
  }
}

function visibleLogs(
  run: SubmissionRunResult,
  visibility: LogVisibility,
  tailLines: number,
): Evaluation["logs"] {
  const logs = { visibility, tailLines };
  return { stdout: visibleLog(run.stdout.text, logs), stderr: visibleLog(run.stderr.text, logs), visibility };
}
