import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { imageMountFolders, type ImageSubmission } from "../config/index.js";
import { IMAGE_CONTAINER } from "../contract/index.js";
import {
  EngineError,
  ensureImage,
  resolveImage,
  ImageLoadError,
  loadImageArchive,
  newRunId,
  runSandboxed,
  type LoadedImage,
  type SandboxLimits,
} from "../sandbox/index.js";
import {
  checkBaseImage,
  checkImageConfig,
  DEFAULT_PLATFORM,
  inspectImageArchive,
  InvalidSubmissionError,
  loadableArchive,
  sha256File,
  type InspectedImage,
  type ResolvedUser,
} from "../submission/index.js";
import type { SubmissionFormat } from "../scoring/index.js";
import { DEFAULT_MODEL_LIMITS } from "../config/submission.js";
import { extractModelArchive } from "../submission/model-archive.js";
import { runPerCase } from "./per-case.js";
import { notRun, submissionEnv, type SubmissionRunResult } from "./run-submission.js";

/** Where and how a participant's image runs when competition.yml says nothing (Grand Challenge's paths). */
export const DEFAULT_IMAGE_SUBMISSION: ImageSubmission = {
  limits: {},
  inputDir: IMAGE_CONTAINER.input,
  outputDir: IMAGE_CONTAINER.output,
  platform: DEFAULT_PLATFORM,
  allowedBaseImages: [],
};

export interface ImageRunRequest {
  /** The participant's `docker save` archive (algorithm.tar, or gzipped). */
  archivePath: string;
  /**
   * A trusted image already on the engine (the competition's runtime): it holds the output folder while it
   * is copied out. The participant's image runs the program only.
   */
  helperImage: string;
  dataDir: string;
  outputDir: string;
  limits: SandboxLimits;
  /** competition.yml's submission.image; default DEFAULT_IMAGE_SUBMISSION. */
  image?: ImageSubmission;
  /** The file the program must write in the output folder, e.g. results.json. */
  expectedOutput?: string;
  /** The submission format: a per-case contract writes its predictions table in it. */
  format?: SubmissionFormat;
  /** The algorithm's model tarball (Grand Challenge's model.tar.gz), shown read-only at /opt/ml/model. */
  modelPath?: string;
  gpu?: boolean;
}

/**
 * Runs a participant's own image (Grand Challenge's contract): the archive inspected before anything is
 * loaded (a refusal is `invalid_submission`), checked against the allowed base images, loaded under this
 * run's own tag (its id must be the config digest inspected), run sandboxed with its own ENTRYPOINT/CMD,
 * the data read-only at the input folder and the output folder copied to `outputDir`, then removed from
 * the engine. Its config is checked first (checkImageConfig): never as uid or gid 0 (65534 instead, and the
 * result says so), and what the engine would refuse is the participant's, refused before the engine sees it.
 */
export async function runImageSubmission(request: ImageRunRequest): Promise<SubmissionRunResult> {
  const runId = newRunId();
  const settings = request.image ?? DEFAULT_IMAGE_SUBMISSION;
  const unrun = (status: SubmissionRunResult["status"], reason: string, sha256: string | null) =>
    notRun(request.limits, runId, status, reason, sha256);
  let inspected: InspectedImage;
  let user: ResolvedUser;
  let holderId: string;
  try {
    inspected = await inspectImageArchive(request.archivePath, {
      limits: settings.limits,
      platform: settings.platform,
    });
    user = checkImageConfig(inspected, { platformFolders: imageMountFolders(settings) });
    await checkAllowedBase(inspected, settings.allowedBaseImages);
    // The holder must be there before anything is loaded; it is used by id from here on.
    holderId = (await resolveImage(request.helperImage)).id;
  } catch (error) {
    const sha256 = () => sha256File(request.archivePath).catch(() => null);
    if (error instanceof InvalidSubmissionError)
      return unrun("invalid_submission", error.message, await sha256());
    if (error instanceof EngineError) return unrun("infrastructure_error", error.message, await sha256());
    throw error;
  }

  const scratch = await mkdtemp(path.join(os.tmpdir(), "proctor-image-run-"));
  try {
    let modelDir: string | undefined;
    if (request.modelPath) {
      modelDir = path.join(scratch, "model");
      await mkdir(modelDir);
      try {
        await extractModelArchive(request.modelPath, modelDir, settings.perCase ?? DEFAULT_MODEL_LIMITS);
      } catch (error) {
        if (error instanceof InvalidSubmissionError)
          return unrun("invalid_submission", error.message, inspected.sha256);
        throw error;
      }
    }
    let loaded: LoadedImage;
    try {
      loaded = await loadImageArchive((ref) => loadableArchive(request.archivePath, inspected, ref), {
        expectedId: inspected.configDigest,
        runId,
        limits: request.limits,
      });
    } catch (error) {
      const name = JSON.stringify(inspected.archiveName);
      if (error instanceof ImageLoadError)
        return unrun("invalid_submission", `${name}: ${error.message}`, inspected.sha256);
      if (error instanceof EngineError) return unrun("infrastructure_error", error.message, inspected.sha256);
      throw error;
    }
    try {
      const workingDir = inspected.config.workingDir || "/";
      const modelMount = modelDir ? [{ source: modelDir, target: IMAGE_CONTAINER.model }] : [];
      const result = settings.perCase
        ? await runPerCase({
            runId,
            image: loaded.ref,
            holderImage: holderId,
            workingDir,
            user: user.spec,
            settings: { ...settings, perCase: settings.perCase },
            dataDir: path.resolve(request.dataDir),
            outputDir: path.resolve(request.outputDir),
            scratchDir: path.join(scratch, "cases"),
            ...(modelDir && { modelDir }),
            format: perCaseFormat(request),
            limits: request.limits,
            gpu: request.gpu,
            env: submissionEnv(request),
          })
        : await runSandboxed({
            runId,
            image: loaded.ref,
            holderImage: holderId,
            // The image's own ENTRYPOINT and CMD.
            command: [],
            workingDir,
            user: user.spec,
            participantImage: true,
            mounts: [{ source: path.resolve(request.dataDir), target: settings.inputDir }, ...modelMount],
            output: {
              target: settings.outputDir,
              hostDir: path.resolve(request.outputDir),
              expectedFile: request.expectedOutput,
            },
            limits: request.limits,
            gpu: request.gpu,
            env: submissionEnv(request),
          });
      return {
        ...result,
        // Named as the participant named it, pinned by the id the engine gave it.
        image: result.image && { ...result.image, ref: inspected.repoTags[0] ?? inspected.archiveName },
        runId,
        submissionSha256: inspected.sha256,
        notes: user.note === undefined ? [] : [user.note],
      };
    } finally {
      await loaded.remove().catch(() => undefined);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function perCaseFormat(request: ImageRunRequest): SubmissionFormat {
  if (!request.format) throw new Error("a per-case run needs the submission format (evaluate passes it)");
  return request.format;
}

/** Refuses an image not built on one of the allowed base images (pulled where the engine lacks them). */
async function checkAllowedBase(inspected: InspectedImage, allowed: string[]): Promise<void> {
  if (allowed.length === 0) return;
  const bases = await Promise.all(
    allowed.map(async (reference) => ({ reference, diffIds: (await ensureImage(reference)).layers })),
  );
  checkBaseImage(
    inspected.archiveName,
    inspected.layers.map((layer) => layer.diffId),
    bases,
  );
}
