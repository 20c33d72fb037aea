/**
 * Loading a participant's image archive (`docker save`) into the engine, after the submission room has
 * inspected it, and removing it after the run.
 *
 * The engine is given a tar written from what was checked (submission's loadableArchive): the tags the
 * archive carries are never applied (an archive tagged `python:3.11-slim`, or with the runtime's own name,
 * would otherwise take that name on a shared engine); the image gets one tag of this run's instead
 * (loadedImageTag, with its lease), applied by the load itself, and removing that tag
 * afterwards removes the image unless something else on the engine also names it (another run, or an
 * image that was there before). A proctor killed outright leaves the tag to a later run's sweep.
 */
import type { Readable } from "node:stream";
import { loadedImageTag, registerRemoval } from "./cleanup.js";
import { describeEngineError, engine, EngineError, HOST_FAULT, onEngine } from "./engine.js";

export interface LoadedImage {
  /** This run's tag of the image: what the run and the removal use. */
  ref: string;
  /** The engine's image id ("sha256:…"), equal to the config digest the inspection found. */
  id: string;
  /** Removes this run's tag (and so the image, where nothing else names it); runs once. */
  remove(): Promise<void>;
}

/**
 * The engine refused the archive's content (a layer it cannot apply, a digest it disagrees with): the
 * participant's archive, not the platform. Engine failures (unreachable, disk full) are EngineErrors.
 */
export class ImageLoadError extends Error {
  readonly status = "invalid_submission" as const;
  override name = "ImageLoadError";
}

/** The tar the engine loads, as a stream, and how to end it (submission's loadableArchive makes it). */
export interface ArchiveStream {
  stream: Readable;
  /** Ends the stream and resolves with the error reading the archive met, if any (never rejects). */
  finish(): Promise<Error | undefined>;
}

/**
 * Loads the archive `archive(ref)` streams (its manifest naming `ref`, this run's tag, as its only tag) and
 * checks the engine's image id is `expectedId` (the config digest the inspection found). Throws
 * ImageLoadError when the engine refuses the archive or loads another image than the one inspected (nothing
 * of it is left), EngineError when the engine fails.
 */
export async function loadImageArchive(
  archive: (ref: string) => ArchiveStream,
  options: {
    expectedId: string;
    runId: string;
    /** The run's limits: the tag's lease, past which any later run's sweep removes it. */
    limits: { timeLimitMs: number; graceMs: number };
  },
): Promise<LoadedImage> {
  const ref = loadedImageTag(options.runId, options.limits);
  const docker = engine();
  const removal = registerRemoval("image", async () => {
    try {
      await docker.getImage(ref).remove({ noprune: false });
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return;
      throw new EngineError(`Docker engine error while removing the loaded image ${ref}: ${String(error)}`, {
        cause: error,
      });
    }
  });
  const body = archive(ref);
  try {
    let said: Awaited<ReturnType<typeof loadOutcome>>;
    try {
      const response = await onEngine("loading the image archive", () =>
        docker.loadImage(body.stream, { quiet: true }),
      );
      said = await loadOutcome(response);
    } catch (error) {
      // The engine cut the load short: because the archive could not be read (ours to say), or on its own.
      const failed = await body.finish();
      if (failed) throw unreadable(failed);
      if (error instanceof EngineError) throw error;
      throw new EngineError(
        `Docker engine error while loading the image archive: ${describeEngineError(error)}`,
        {
          cause: error,
        },
      );
    }
    const failed = await body.finish();
    if (failed) throw unreadable(failed);
    if (said.error) {
      if (HOST_FAULT.test(said.error))
        throw new EngineError(`Docker engine error while loading the image archive: ${said.error}`);
      throw new ImageLoadError(`the engine refused to load the image (${said.error}): ${RESAVE}`);
    }
    const info = await onEngine("inspecting the loaded image", () => docker.getImage(ref).inspect()).catch(
      (error: unknown) => {
        throw new EngineError(
          `the engine reported the image loaded, but has no ${ref} (${said.loaded.join("; ") || "it said nothing"}): ${(error as Error).message}`,
        );
      },
    );
    if (info.Id !== options.expectedId) {
      throw new ImageLoadError(
        `the engine loaded image ${info.Id}, not ${options.expectedId} that the archive's manifest names and ` +
          `that was checked: ${RESAVE}`,
      );
    }
    return { ref, id: info.Id, remove: removal };
  } catch (error) {
    await body.finish();
    await removal().catch(() => undefined);
    throw error;
  }
}

const unreadable = (error: Error) =>
  new ImageLoadError(`the archive could not be read while loading it (${error.message}): ${RESAVE}`);

const RESAVE = "build the image again and save it with `docker save -o algorithm.tar <image>`";

/** What the engine's load answer says: the images it loaded, or its error. */
async function loadOutcome(response: NodeJS.ReadableStream): Promise<{ loaded: string[]; error?: string }> {
  let text = "";
  for await (const chunk of response as AsyncIterable<Buffer | string>) {
    if (text.length < 1024 ** 2) text += String(chunk);
  }
  const loaded: string[] = [];
  let error: string | undefined;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const event = JSON.parse(line) as {
        stream?: string;
        error?: string;
        errorDetail?: { message?: string };
      };
      if (event.errorDetail?.message ?? event.error) error ??= event.errorDetail?.message ?? event.error;
      else if (event.stream?.trim()) loaded.push(event.stream.trim());
    } catch {
      loaded.push(line.trim());
    }
  }
  return { loaded, ...(error !== undefined && { error }) };
}
