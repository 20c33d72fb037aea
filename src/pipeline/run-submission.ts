import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  EngineError,
  ensureModelsVolume,
  LEASE_MARGIN_MS,
  newRunId,
  prepareRun,
  type ModelsMount,
  type SandboxLimits,
  type SandboxRequest,
  type SandboxResult,
} from "../sandbox/index.js";
import type { RunStatus } from "../status/index.js";
import { InvalidSubmissionError } from "../submission/errors.js";
import { extractSubmission } from "../submission/extract.js";
import { sha256File } from "../submission/hash.js";
import type { ZipLimits } from "../submission/limits.js";
import { CONTAINER, ENTRYPOINT_ENV, ENTRYPOINT_EXIT, submissionCommand } from "../contract/index.js";

export interface SubmissionRunRequest {
  zipPath: string;
  image: string;
  dataDir: string;
  outputDir: string;
  limits: SandboxLimits;
  zipLimits?: Partial<ZipLimits>;
  /** The file the program must write in the submission folder, e.g. submission.csv. */
  expectedOutput?: string;
  gpu?: boolean;
  /** runtime/models.yml's files, mounted read-only at /code_execution/models (competition.yml runtime.models). */
  models?: ModelsMount | null;
}

export type SubmissionRunResult = Omit<SandboxResult, "status"> & {
  status: RunStatus;
  runId: string;
  /** sha256 of the submitted file (the zip, or the image archive). */
  submissionSha256: string | null;
  /** What the participant should know of how it ran (e.g. as which user), one sentence each. */
  notes?: string[];
};

/**
 * Runs a participant's zip per the container contract: checked and extracted before its container is
 * created (a refused zip is `invalid_submission`, and nothing of it reaches the engine), then run sandboxed
 * with the data read-only and the predictions copied to `outputDir`. The engine prepares the run's output
 * holder meanwhile.
 */
export async function runSubmission(request: SubmissionRunRequest): Promise<SubmissionRunResult> {
  const runId = newRunId();
  const workDir = await mkdtemp(path.join(os.tmpdir(), "proctor-run-"));
  const srcDir = path.join(workDir, "src");
  const prepared = prepareRun({
    runId,
    image: request.image,
    limits: request.limits,
    output: submissionOutput(request),
  });
  // The models volume is found (or filled, once per models digest) while the zip is extracted.
  const models = request.models
    ? ensureModelsVolume(request.models, {
        needMs: request.limits.timeLimitMs + request.limits.graceMs + LEASE_MARGIN_MS,
      })
    : null;
  models?.catch(() => undefined);
  try {
    let extracted;
    try {
      extracted = await extractSubmission(request.zipPath, srcDir, request.zipLimits);
    } catch (error) {
      if (!(error instanceof InvalidSubmissionError)) throw error;
      const sha256 = await sha256File(request.zipPath).catch(() => null);
      return notRun(request.limits, runId, "invalid_submission", error.message, sha256);
    }
    // The sandbox user is not root: it must be able to read the code through the bind mount.
    await chmod(extracted.root, 0o755);
    let modelsVolume: string | undefined;
    try {
      modelsVolume = (await models)?.name;
    } catch (error) {
      // The engine's or the organizer's (an unpublished models image), never the participant's.
      const reason = `the models could not be mounted: ${(error as Error).message}`;
      if (!(error instanceof EngineError)) throw error;
      return notRun(request.limits, runId, "infrastructure_error", reason, extracted.sha256);
    }
    const result = await prepared.run(submissionSandboxRequest(request, runId, extracted, modelsVolume));
    return { ...result, runId, submissionSha256: extracted.sha256 };
  } finally {
    await Promise.all([prepared.dispose(), rm(workDir, { recursive: true, force: true })]);
  }
}

/**
 * The sandboxed run of an extracted submission per the container contract: one definition for the real
 * run and for the interactive shell (`proctor interact`), so both see the same mounts, limits and
 * environment.
 */
export function submissionSandboxRequest(
  request: Omit<SubmissionRunRequest, "zipPath" | "zipLimits">,
  runId: string,
  extracted: { root: string; entrypoint: "main.py" | "main.sh" },
  /** The models volume (ensureModelsVolume), shown read-only at /code_execution/models. */
  modelsVolume?: string,
): SandboxRequest {
  return {
    runId,
    image: request.image,
    command: (image) => submissionCommand(extracted.entrypoint, image.hasEntrypoint),
    workingDir: CONTAINER.src,
    mounts: [
      { source: extracted.root, target: CONTAINER.src },
      { source: path.resolve(request.dataDir), target: CONTAINER.data },
      ...(modelsVolume ? [{ source: modelsVolume, target: CONTAINER.models, kind: "volume" as const }] : []),
    ],
    output: submissionOutput(request),
    limits: request.limits,
    gpu: request.gpu,
    env: submissionEnv(request),
  };
}

/** The submission folder, copied out to `outputDir` after the run. */
function submissionOutput(request: Pick<SubmissionRunRequest, "outputDir" | "expectedOutput">) {
  return {
    target: CONTAINER.submission,
    hostDir: path.resolve(request.outputDir),
    expectedFile: request.expectedOutput,
    missingExitCode: ENTRYPOINT_EXIT.outputMissing,
  };
}

/**
 * What the runtime entrypoint and numeric libraries read: the expected output's name, and thread counts
 * that match the CPU limit (else torch, BLAS and friends size their pools to every core of the host).
 */
export function submissionEnv(
  request: Pick<SubmissionRunRequest, "limits" | "expectedOutput">,
): Record<string, string> {
  const threads = String(Math.max(1, Math.ceil(request.limits.cpus)));
  return {
    ...(request.expectedOutput && { [ENTRYPOINT_ENV.expectedOutput]: request.expectedOutput }),
    OMP_NUM_THREADS: threads,
    OPENBLAS_NUM_THREADS: threads,
    MKL_NUM_THREADS: threads,
    NUMEXPR_NUM_THREADS: threads,
  };
}

/** The result of a submission that never reached a container (refused, or the engine failed first). */
export function notRun(
  limits: SandboxLimits,
  runId: string,
  status: RunStatus,
  reason: string,
  sha256: string | null,
): SubmissionRunResult {
  const empty = { text: "", bytes: 0, lines: 0, truncated: false };
  return {
    runId,
    status,
    reason,
    exitCode: null,
    durationMs: 0,
    image: null,
    runtime: limits.runtime,
    limits,
    metrics: null,
    stdout: empty,
    stderr: empty,
    output: null,
    submissionSha256: sha256,
  };
}
