/**
 * One claimed attempt, run the same way by every runner (a `proctor runner` slot, the gateway's local
 * runners, the Actions job): download the zip of the attempt, make sure of the runtime image, run,
 * validate and score it (the one pipeline, pipeline/evaluate.ts), keep its predictions on the gateway, and
 * report the result for that attempt with its claim token; or, for a re-score, score the kept predictions
 * of an earlier attempt without running anything (rescore-claim.ts). While it runs the claim is kept by heartbeats; when the gateway answers one with
 * "stop" (the submission was cancelled, or the lease was lost and the submission queued again) the run's
 * containers are removed at once, by the claim's label, and nothing is reported.
 *
 * Nothing here prints: the caller's hooks say what is happening (the action folds steps into log groups,
 * the pull runner logs one line per claim and result). Nothing the program printed reaches them.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import os from "node:os";
import path from "node:path";
import type { Competition, Phase } from "../config/index.js";
import {
  downloadAttempt,
  downloadModel,
  finalReport,
  heartbeatClaim,
  MAX_RESULTS_JSON_CHARS,
  releaseClaim,
  sendResultReport,
  usageReport,
  type ClaimView,
  type GatewayCredentials,
  type RunnerSubmissionView,
  type Usage,
} from "../gateway-api/index.js";
import { MemoryLeaderboardStore, roundScore, type LeaderboardEntry } from "../leaderboard/index.js";
import type { Diagnosis } from "../logs/index.js";
import { evaluateSubmission } from "../pipeline/evaluate.js";
import { CompetitionSetupError } from "../pipeline/preflight.js";
import { readResultsJson } from "../pipeline/results-json.js";
import { evaluateRescore, keepPredictions, scoredBy } from "./rescore-claim.js";
import {
  EngineError,
  ensureImage,
  removeLabelled,
  withRunScope,
  type EnsureImageOptions,
} from "../sandbox/index.js";
import type { RunStatus } from "../status/index.js";
import { DEFAULT_MODEL_LIMITS } from "../config/submission.js";
import { DEFAULT_IMAGE_LIMITS, DEFAULT_ZIP_LIMITS, SubmissionFetchError } from "../submission/index.js";

/** The label every container and volume of a claimed run carries: `<submission id>.<attempt>` (public). */
export const CLAIM_LABEL = "org.proctor.claim";

export const claimLabelValue = (submissionId: string, attempt: number) => `${submissionId}.${attempt}`;

/** What the public surfaces say of an outcome. */
export interface Outcome {
  submissionId: string;
  attempt: number;
  status: RunStatus;
  publicScore: number | null;
  durationMs: number;
  imageDigest: string;
  /** The models image the run had at /code_execution/models (sha256:…); absent when it had none. */
  modelsDigest?: string;
  /** What scored it: the metric's or custom scorer's sha256 (public; the ground truth's is the report's only). */
  scorerDigest?: string;
  /** Coarse (usageReport): what the run used, shown with the status. */
  usage?: Usage;
}

/** How a caller sees the run go by; every hook is optional. */
export interface RunHooks {
  /** One step (download, image, run, report): the action folds each into a log group. */
  step?<T>(title: string, work: () => Promise<T>): Promise<T>;
  /** The engine's pull progress. */
  progress?(line: string): void;
  notice?(message: string): void;
  /** Trouble of the organizer's or the infrastructure's (never the program's output). */
  error?(message: string): void;
}

export interface RunClaimRequest {
  gateway: GatewayCredentials;
  claim: ClaimView;
  competition: Competition;
  /** The runtime image (a zip runs in it; an image submission's output is held by it). */
  image: string;
  registryAuth?: EnsureImageOptions["auth"];
  gpu: boolean;
  /** This slot's GPU devices (`--gpus device=i`); default all. */
  gpuDevices?: string[];
  /** The phase's data and ground truth on this runner (runnerPaths); null: none configured (the organizer's). */
  paths: { dataDir: string; groundTruth: string } | null;
  /** The phase when the gateway recorded none. */
  phase: Phase;
  /** The largest submission downloaded; default the competition's cap for its kind. */
  maxZipBytes?: number | undefined;
  hooks?: RunHooks;
  /** Aborted: stop the run now and give the claim back (a runner stopping at once). */
  signal?: AbortSignal;
}

export type ClaimResult =
  /** Reported to the gateway (`recorded`: it took it; false: it already had a result, or moved on). */
  | { ended: "reported"; outcome: Outcome; recorded: boolean; entry: LeaderboardEntry }
  /** The gateway said stop (cancelled, or the claim was lost): containers removed, nothing reported. */
  | { ended: "stopped"; why: string; message: string }
  /** The caller aborted: containers removed, the claim given back. */
  | { ended: "released" };

/** Stops a claimed run: the reason given to the abort. */
class Stop {
  constructor(
    readonly why: string,
    readonly message: string,
  ) {}
}

export async function runClaim(request: RunClaimRequest): Promise<ClaimResult> {
  const { claim, gateway } = request;
  const submission = claim.submission;
  const hold = { attempt: submission.attempt, claim_token: claim.claim_token };
  const label = claimLabelValue(submission.submission_id, submission.attempt);
  const stop = new AbortController();
  const removeContainers = () => removeLabelled(CLAIM_LABEL, label).catch(() => 0);

  const onAbort = () => stop.abort(new Stop("released", "the runner stopped"));
  request.signal?.addEventListener("abort", onAbort, { once: true });
  if (request.signal?.aborted) onAbort();
  const beat = setInterval(() => {
    heartbeatClaim(gateway, submission.submission_id, hold).then(
      (answer) => {
        if (answer.outcome === "stop" && !stop.signal.aborted)
          stop.abort(new Stop(answer.why, answer.message));
      },
      // Unreachable for a moment: the next heartbeat tries again (the lease outlasts two lost ones).
      (error: unknown) => request.hooks?.error?.(`heartbeat failed: ${(error as Error).message}`),
    );
  }, claim.heartbeat_ms);
  // A stop removes the run's containers at once: the pipeline sees its container go and ends.
  stop.signal.addEventListener("abort", () => void removeContainers(), { once: true });

  let run: Promise<Evaluated> | undefined;
  const stopped = async (): Promise<ClaimResult> => {
    const reason = stop.signal.reason as Stop;
    if (reason.why === "released") {
      // Stopping at once: the claim goes back to the queue, the containers go; the run is not waited for.
      await Promise.all([
        removeContainers(),
        releaseClaim(gateway, submission.submission_id, hold).catch(() => false),
      ]);
      return { ended: "released" };
    }
    // A container made after the first removal (the run was between steps) goes too.
    const again = setInterval(() => void removeContainers(), 1000);
    try {
      await removeContainers();
      await run?.catch(() => undefined);
    } finally {
      clearInterval(again);
    }
    // What the run made as it ended, and a removal the engine had not finished (still listed), are gone
    // before the stop is told: a cancel leaves nothing running (at most 30 s).
    for (let i = 0; i < 30 && (await removeContainers()) > 0; i += 1) await sleep(1000);
    return { ended: "stopped", why: reason.why, message: reason.message };
  };
  try {
    run = withRunScope(
      {
        labels: { [CLAIM_LABEL]: label },
        ...(request.gpuDevices && { gpuDevices: request.gpuDevices }),
      },
      () => evaluateClaimed(request, stop.signal),
    );
    const ended = new Promise<"stopped">((resolve) =>
      stop.signal.addEventListener("abort", () => resolve("stopped"), { once: true }),
    );
    if (stop.signal.aborted) return await stopped();
    const result = await Promise.race([run, ended]).catch((error: unknown): Evaluated | "stopped" => {
      // A run whose container was removed under it may fail any way it likes: it was stopped.
      if (stop.signal.aborted) return "stopped";
      // The runner's own fault (the engine, the disk): reported as such, so the gateway queues it again now.
      const message =
        error instanceof EngineError ? error.message : `the runner failed: ${(error as Error).message}`;
      request.hooks?.error?.(message);
      const outcome = {
        ...unrunOutcome(submission.submission_id, submission.attempt),
        status: "infrastructure_error" as const,
      };
      return { outcome, entry: entryOf(outcome, submission, null), details: { reason: message } };
    });
    if (result === "stopped" || stop.signal.aborted) return await stopped();
    const reported = await step(request, "report the result to the gateway", () =>
      reportToGateway(gateway, result.outcome, { ...result.details, claimToken: claim.claim_token }),
    );
    if (reported !== true) request.hooks?.notice?.(`the gateway did not take this result: ${reported}`);
    return { ended: "reported", outcome: result.outcome, recorded: reported === true, entry: result.entry };
  } finally {
    clearInterval(beat);
    request.signal?.removeEventListener("abort", onAbort);
  }
}

export const step = <T>(request: RunClaimRequest, title: string, work: () => Promise<T>): Promise<T> =>
  request.hooks?.step ? request.hooks.step(title, work) : work();

export interface Evaluated {
  outcome: Outcome;
  entry: LeaderboardEntry;
  details: ReportDetails;
}

/** Download, image, run, validate, score: the outcome and what its report carries. */
async function evaluateClaimed(request: RunClaimRequest, stopped: AbortSignal): Promise<Evaluated> {
  const { competition, claim, gateway } = request;
  const submission = claim.submission;
  const submissionId = submission.submission_id;
  const attempt = submission.attempt;
  /** Ends this attempt before the program ran. */
  const unrun = (status: RunStatus, reason: string): Evaluated => {
    const outcome = { ...unrunOutcome(submissionId, attempt), status };
    return { outcome, entry: entryOf(outcome, submission, null), details: { reason } };
  };
  const phase = submission.phase ?? request.phase;
  if (!request.paths) {
    const message =
      `${competition.file} has no runner_paths for phase ${phase}: set where this runner keeps the test data ` +
      `and ground truth (runner_paths, or timeline.phases[].runner_paths)`;
    request.hooks?.error?.(message);
    return unrun(
      "infrastructure_error",
      "the competition's setup on the runner is incomplete (the organizers are told)",
    );
  }
  const work = await mkdtemp(path.join(os.tmpdir(), "proctor-submission-"));
  try {
    if (claim.job?.kind === "rescore") return await evaluateRescore(request, claim.job, work);
    // A zip, or the participant's image archive where the competition takes images (submission.kind).
    const zipPath = path.join(
      work,
      competition.submission.kind === "image" ? "algorithm.tar" : "submission.zip",
    );
    let modelPath: string | undefined;
    try {
      await step(request, `download submission ${submissionId} (attempt ${attempt})`, () =>
        downloadAttempt(gateway, submissionId, attempt, zipPath, {
          maxBytes: maxSubmissionBytes(competition, request.maxZipBytes),
          sha256: submission.submission_sha256,
          claimToken: claim.claim_token,
        }),
      );
      // An image may come with a model tarball (Grand Challenge's /opt/ml/model); the run checks it again.
      const kind = competition.submission;
      if (kind.kind === "image") {
        const model = path.join(work, "model.tar");
        const downloaded = await downloadModel(gateway, submissionId, attempt, model, {
          maxBytes: (kind.image.perCase ?? DEFAULT_MODEL_LIMITS).maxModelBytes,
          claimToken: claim.claim_token,
        });
        if (downloaded) modelPath = model;
      }
    } catch (error) {
      if (!(error instanceof SubmissionFetchError)) throw error;
      if (error.status === "infrastructure_error") request.hooks?.error?.(error.message);
      return unrun(error.status, error.message);
    }
    try {
      // A fresh runner has no runtime image yet: pull it, digest recorded. An image submission needs it
      // too: it holds the output folder while it is copied out.
      await step(request, `runtime image ${request.image}`, () =>
        ensureImage(request.image, {
          auth: request.registryAuth,
          onProgress: (line) => request.hooks?.progress?.(line),
        }),
      );
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      request.hooks?.error?.(error.message);
      return unrun(error.status, error.message);
    }
    if (stopped.aborted) return unrun("infrastructure_error", "stopped");

    const evaluation = await step(request, "run, validate and score", () =>
      evaluateSubmission({
        competition,
        zipPath,
        ...(modelPath !== undefined && { modelPath }),
        image: request.image,
        participant: submission.participant,
        submissionId,
        submittedAt: new Date(submission.submitted_at),
        phase,
        dataDir: request.paths!.dataDir,
        groundTruth: request.paths!.groundTruth,
        outputDir: path.join(work, "out"),
        // The gateway is the record (the Actions job writes its branch after it), so the run records nowhere.
        store: new MemoryLeaderboardStore(),
        gpu: request.gpu,
      }),
    ).catch((error: unknown) => {
      if (!(error instanceof CompetitionSetupError)) throw error;
      // The organizer's mistake, found before anything ran: never the participant's, never counted.
      request.hooks?.error?.(error.message);
      return null;
    });
    if (!evaluation)
      return unrun(
        "infrastructure_error",
        "the competition's setup on the runner is incomplete (the organizers are told)",
      );
    // Predictions that went to scoring are kept on the gateway, so a metric fix re-scores them.
    const scored = evaluation.run.status === "succeeded";
    if (scored) await keepPredictions(request, path.join(work, "out"), evaluation.expectedOutput, work);
    const by = scored ? await scoredBy(competition, request.paths!.groundTruth) : {};
    const outcome: Outcome = {
      submissionId,
      attempt,
      status: evaluation.status,
      publicScore: roundScore(evaluation.scores.public, competition.leaderboard.precision),
      durationMs: evaluation.run.durationMs,
      imageDigest: evaluation.entry.imageDigest,
      ...(evaluation.entry.modelsDigest && { modelsDigest: evaluation.entry.modelsDigest }),
      ...(by.scorerDigest && { scorerDigest: by.scorerDigest }),
      ...(evaluation.run.metrics && {
        usage: usageReport(evaluation.run.metrics, {
          runtime: evaluation.run.runtime,
          memoryLimitBytes: evaluation.run.limits.memoryBytes,
          cpus: evaluation.run.limits.cpus,
        }),
      }),
    };
    return {
      outcome,
      entry: entryOf(outcome, submission, evaluation.entry.sealedPrivateScore),
      details: {
        reason: evaluation.reason,
        sealedPrivateScore: evaluation.entry.sealedPrivateScore,
        stdout: evaluation.logs.stdout,
        stderr: evaluation.logs.stderr,
        problems: evaluation.problems,
        diagnosis: evaluation.diagnosis,
        ...(by.groundTruthDigest && { groundTruthDigest: by.groundTruthDigest }),
        ...(evaluation.logs.visibility !== "none" && {
          resultsJson:
            (await readResultsJson(
              path.join(work, "out", evaluation.expectedOutput),
              MAX_RESULTS_JSON_CHARS,
            )) ?? undefined,
        }),
      },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** An outcome before anything ran. */
export const unrunOutcome = (submissionId: string, attempt: number) => ({
  submissionId,
  attempt,
  publicScore: null,
  durationMs: 0,
  imageDigest: "",
});

/** The largest submission this runner downloads: the given cap, else the competition's for its kind. */
function maxSubmissionBytes(competition: Competition, given: number | undefined): number {
  if (given !== undefined) return given;
  const submission = competition.submission;
  if (submission.kind === "image")
    return submission.image.limits.maxArchiveBytes ?? DEFAULT_IMAGE_LIMITS.maxArchiveBytes;
  return competition.zipLimits.maxZipBytes ?? DEFAULT_ZIP_LIMITS.maxZipBytes;
}

/** The leaderboard entry of an outcome (what the Actions job writes to its branch). */
export function entryOf(
  outcome: Outcome,
  submission: RunnerSubmissionView,
  sealedPrivateScore: string | null,
): LeaderboardEntry {
  const succeeded = outcome.status === "succeeded";
  return {
    submissionId: outcome.submissionId,
    participant: submission.participant,
    submittedAt: new Date(submission.submitted_at).toISOString(),
    status: outcome.status,
    publicScore: succeeded ? outcome.publicScore : null,
    privateScore: null,
    sealedPrivateScore: succeeded ? sealedPrivateScore : null,
    durationMs: outcome.durationMs,
    imageDigest: outcome.imageDigest,
    zipSha256: submission.submission_sha256,
    ...(outcome.modelsDigest && { modelsDigest: outcome.modelsDigest }),
    ...(outcome.scorerDigest && { scorerDigest: outcome.scorerDigest }),
    ...(submission.phase !== null && { phase: submission.phase }),
  };
}

interface ReportDetails {
  reason: string;
  /** Organizer-only (the report's): never on an entry or a public page. */
  groundTruthDigest?: string;
  sealedPrivateScore?: string | null;
  stdout?: string;
  stderr?: string;
  problems?: string[];
  diagnosis?: Diagnosis;
  resultsJson?: string | undefined;
}

/**
 * Reports the outcome to the gateway, before anything else is written: the gateway is what participants
 * read. true when recorded; else why not (it already had a result, or moved to another attempt, or the
 * claim was lost). An infrastructure_error is reported without logs: the gateway runs the submission
 * again or, when its attempts are used up, ends it without counting it.
 */
async function reportToGateway(
  gateway: GatewayCredentials,
  outcome: Outcome,
  details: ReportDetails & { claimToken: string },
): Promise<true | string> {
  const report = finalReport({
    attempt: outcome.attempt,
    claimToken: details.claimToken,
    status: outcome.status,
    reason: details.reason,
    publicScore: outcome.publicScore,
    sealedPrivateScore: details.sealedPrivateScore ?? null,
    durationMs: outcome.durationMs,
    imageDigest: outcome.imageDigest,
    ...(outcome.modelsDigest && { modelsDigest: outcome.modelsDigest }),
    ...(outcome.usage && { usage: outcome.usage }),
    ...(details.stdout !== undefined && { stdout: details.stdout }),
    ...(details.stderr !== undefined && { stderr: details.stderr }),
    ...(details.problems !== undefined && { problems: details.problems }),
    ...(details.diagnosis !== undefined && { diagnosis: details.diagnosis }),
    ...(details.resultsJson !== undefined && { resultsJson: details.resultsJson }),
    ...(outcome.scorerDigest !== undefined && { scorerDigest: outcome.scorerDigest }),
    ...(details.groundTruthDigest !== undefined && { groundTruthDigest: details.groundTruthDigest }),
  });
  const sent = await sendResultReport(gateway, outcome.submissionId, report);
  return sent.outcome === "conflict" ? sent.message : true;
}
