/**
 * The re-score half of a claim (gateway-api/claims.ts, job `rescore`): download the predictions an earlier
 * attempt left (the gateway kept them), score them with the competition as this runner has it now (its
 * metric or scorer and its hidden ground truth: pipeline/evaluate.ts `rescorePredictions`), and report.
 * No container of the participant's program is made. And the run half's part in it: a scored run's
 * predictions go to the gateway before its report, and every scored attempt says what scored it.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Competition } from "../config/index.js";
import { downloadPredictions, uploadPredictions, type ClaimView } from "../gateway-api/index.js";
import { roundScore } from "../leaderboard/index.js";
import { rescorePredictions } from "../pipeline/evaluate.js";
import { CompetitionSetupError } from "../pipeline/preflight.js";
import { EngineError, ensureImage } from "../sandbox/index.js";
import { scoringSetupDigests } from "../scoring/index.js";
import { packPredictions, unpackPredictions } from "./predictions.js";
import { entryOf, step, unrunOutcome, type Evaluated, type RunClaimRequest } from "./run-claim.js";

/** What scored an attempt, as its report carries it (a file this runner cannot read has no digest). */
export async function scoredBy(
  competition: Competition,
  groundTruth: string,
): Promise<{ scorerDigest?: string; groundTruthDigest?: string }> {
  const digests = await scoringSetupDigests({
    metric: competition.scoring.metric,
    direction: competition.scoring.direction,
    usageColumn: competition.scoring.usageColumn,
    groundTruthPath: groundTruth,
    formatPath: competition.paths.submissionFormat,
  });
  const hex = (d: string) => (/^[0-9a-f]{64}$/.test(d) ? d : undefined);
  const scorer = hex(digests.metric);
  const truth = hex(digests.groundTruth);
  return {
    ...(scorer !== undefined && { scorerDigest: scorer }),
    ...(truth !== undefined && { groundTruthDigest: truth }),
  };
}

/**
 * Sends the predictions a scored run left in `outDir` to the gateway (organizer-only, for re-scoring).
 * Never fails the run: where they cannot be kept, the caller is told, and that attempt cannot be re-scored.
 */
export async function keepPredictions(
  request: RunClaimRequest,
  outDir: string,
  expected: string,
  work: string,
): Promise<void> {
  const { claim } = request;
  const tar = path.join(work, "predictions.tar");
  const notKept = (why: string) =>
    request.hooks?.notice?.(
      `the predictions were not kept on the gateway (${why}): this attempt cannot be re-scored without ` +
        `running it again`,
    );
  let files: number;
  try {
    files = await packPredictions(outDir, expected, tar);
  } catch {
    // The names in the output folder are the program's: never in a (public) log line.
    return notKept("they could not be packed");
  }
  if (files === 0) return;
  try {
    await step(request, "keep the predictions on the gateway (for re-scoring)", () =>
      uploadPredictions(request.gateway, claim.submission.submission_id, claim.submission.attempt, tar, {
        claimToken: claim.claim_token,
        ...(request.signal && { signal: request.signal }),
      }),
    );
  } catch (error) {
    notKept((error as Error).message);
  }
}

/** Download, unpack, score: the outcome of a re-score and what its report carries. */
export async function evaluateRescore(
  request: RunClaimRequest,
  job: Extract<NonNullable<ClaimView["job"]>, { kind: "rescore" }>,
  work: string,
): Promise<Evaluated> {
  const { competition, claim, gateway } = request;
  const submission = claim.submission;
  const id = submission.submission_id;
  const attempt = submission.attempt;
  const started = Date.now();
  const unscored = (reason: string): Evaluated => {
    const outcome = { ...unrunOutcome(id, attempt), status: "infrastructure_error" as const };
    return { outcome, entry: entryOf(outcome, submission, null), details: { reason } };
  };
  // The run half checked them (a re-score comes here from evaluateClaimed).
  const paths = request.paths!;
  const tar = path.join(work, "predictions.tar");
  const outDir = path.join(work, "out");
  const caps = { maxBytes: competition.limits.outputBytes, maxFiles: competition.limits.outputFiles };
  try {
    await step(request, `download the predictions of ${id} attempt ${job.predictions_of}`, () =>
      downloadPredictions(gateway, id, attempt, tar, {
        maxBytes: Math.max(job.predictions_bytes, 1),
        sha256: job.predictions_sha256,
        claimToken: claim.claim_token,
      }),
    );
    await mkdir(outDir, { mode: 0o700 });
    await unpackPredictions(tar, outDir, caps);
  } catch (error) {
    // The runner's own log (the organizers') gets why; the names in the tar are the program's, so the
    // reported reason, which its owner may see, carries none of them.
    request.hooks?.error?.(`the kept predictions could not be fetched: ${(error as Error).message}`);
    return unscored("the kept predictions could not be fetched or unpacked (the organizers are told)");
  }
  if (typeof competition.scoring.metric !== "string") {
    // A custom scorer runs in a container (its own image, or the runtime image): make sure it is here.
    try {
      await step(request, `runtime image ${request.image}`, () =>
        ensureImage(request.image, { auth: request.registryAuth }),
      );
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      request.hooks?.error?.(error.message);
      return unscored(error.message);
    }
  }
  const scored = await step(request, "validate and score the kept predictions", () =>
    rescorePredictions({
      competition,
      outputDir: outDir,
      image: request.image,
      submissionId: id,
      dataDir: paths.dataDir,
      groundTruth: paths.groundTruth,
    }),
  ).catch((error: unknown) => {
    if (!(error instanceof CompetitionSetupError)) throw error;
    request.hooks?.error?.(error.message);
    return null;
  });
  if (!scored)
    return unscored("the competition's setup on the runner is incomplete (the organizers are told)");
  const by = await scoredBy(competition, paths.groundTruth);
  const outcome = {
    ...unrunOutcome(id, attempt),
    status: scored.status,
    publicScore: roundScore(scored.scores.public, competition.leaderboard.precision),
    durationMs: Date.now() - started,
    ...(by.scorerDigest && { scorerDigest: by.scorerDigest }),
  };
  return {
    outcome,
    entry: entryOf(outcome, submission, scored.sealedPrivateScore),
    details: {
      reason: scored.reason,
      sealedPrivateScore: scored.sealedPrivateScore,
      problems: scored.problems,
      diagnosis: scored.diagnosis,
      ...(by.groundTruthDigest && { groundTruthDigest: by.groundTruthDigest }),
    },
  };
}
