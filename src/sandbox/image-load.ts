/**
 * Loading a participant's image archive (`docker save`) into the engine, after the submission room has
 * inspected it, and removing it after the run.
 *
 * The archive streams from its file to the engine (gunzipped on the way when it is .tar.gz), with its names
 * rewritten: the tags the archive carries are never applied (an archive tagged `python:3.11-slim`, or with
 * the runtime's own name, would otherwise take that name on a shared engine); the image gets one tag of
 * this run's instead (loadedImageTag, with its lease), applied by the load itself, and removing that tag
 * afterwards removes the image unless something else on the engine also names it (another run, or an
 * image that was there before). A proctor killed outright leaves the tag to a later run's sweep.
 */
import { createReadStream } from "node:fs";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract as tarExtract, pack as tarPack, type Header } from "tar-stream";
import { loadedImageTag, registerRemoval } from "./cleanup.js";
import { describeEngineError, engine, EngineError, onEngine } from "./engine.js";

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

/** Engine complaints that are the host's, never the archive's. */
const ENGINE_FAULT =
  /no space left|disk quota|read-only file system|input\/output error|connection (refused|reset)|context canceled|cannot allocate memory|too many open files/i;

/** Caps on what the archive's names rewrite reads into memory (manifest.json, index.json). */
const MAX_NAME_FILE_BYTES = 16 * 1024 ** 2;

/**
 * Loads the archive at `archivePath` as this run's image and checks the engine's image id is `expectedId`
 * (the config digest the inspection found). Throws ImageLoadError when the engine refuses the archive or
 * loads another image than the one inspected (nothing of it is left), EngineError when the engine fails.
 */
export async function loadImageArchive(
  archivePath: string,
  options: {
    expectedId: string;
    runId: string;
    gzipped: boolean;
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
  const body = renamed(archivePath, options.gzipped, ref);
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
      if (ENGINE_FAULT.test(said.error))
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

interface RenamedArchive {
  stream: Readable;
  /**
   * Ends the stream where the engine stopped reading it, and resolves (never rejects) with the error that
   * reading the archive met, if any: never one of the ending's own making.
   */
  finish(): Promise<Error | undefined>;
}

/**
 * The archive as a tar stream whose manifests name only `ref`: manifest.json's RepoTags replaced, index.json's
 * name annotations dropped, the legacy `repositories` file left out.
 */
function renamed(archivePath: string, gzipped: boolean, ref: string): RenamedArchive {
  const extract = tarExtract();
  const pack = tarPack();
  const out = new PassThrough();
  let cancelled = false;
  extract.on("entry", (header: Header, source: unknown, next: (error?: Error | null) => void) => {
    const body = source as Readable;
    // A read error reaches the entry streams too; the pipeline reports it once.
    body.on("error", () => undefined);
    const name = header.name.replace(/^(\.\/)+/, "");
    if (name === "repositories") {
      body.on("end", () => next()).resume();
      return;
    }
    if ((name === "manifest.json" || name === "index.json") && (header.size ?? 0) <= MAX_NAME_FILE_BYTES) {
      const chunks: Buffer[] = [];
      body.on("data", (chunk: Buffer) => chunks.push(chunk));
      body.on("end", () => {
        let data: Buffer;
        try {
          data = rewriteNames(name, Buffer.concat(chunks), ref);
        } catch (error) {
          next(error as Error);
          return;
        }
        pack.entry({ ...header, size: data.length }, data, (error) => next(error ?? undefined));
      });
      return;
    }
    if (header.type === "file" || header.type === "contiguous-file") {
      const entry = pack.entry(header, (error) => next(error ?? undefined));
      entry.on("error", () => undefined);
      body.pipe(entry);
      return;
    }
    body.on("end", () => pack.entry(header, (error) => next(error ?? undefined))).resume();
  });
  extract.on("finish", () => pack.finalize());
  const source = createReadStream(archivePath, { highWaterMark: 256 * 1024 });
  const stages: NodeJS.ReadWriteStream[] = gzipped ? [createGunzip()] : [];
  const reading = pipeline([source, ...stages, extract]).then(
    () => undefined,
    (error: unknown) => {
      pack.destroy(error as Error);
      return cancelled ? undefined : (error as Error);
    },
  );
  pipeline(pack, out).catch(() => undefined);
  out.on("close", () => {
    source.destroy();
    extract.destroy();
  });
  return {
    stream: out,
    finish: () => {
      if (!out.readableEnded) {
        cancelled = true;
        out.destroy();
      }
      return reading;
    },
  };
}

/** manifest.json with RepoTags [ref]; index.json without the annotations that name images. */
function rewriteNames(name: string, data: Buffer, ref: string): Buffer {
  const json = JSON.parse(data.toString("utf8")) as unknown;
  if (name === "manifest.json" && Array.isArray(json)) {
    for (const image of json as Record<string, unknown>[]) image["RepoTags"] = [ref];
  } else if (name === "index.json" && json && typeof json === "object") {
    for (const manifest of ((json as { manifests?: unknown[] }).manifests ?? []) as {
      annotations?: Record<string, string>;
    }[]) {
      delete manifest.annotations?.["io.containerd.image.name"];
      delete manifest.annotations?.["org.opencontainers.image.ref.name"];
    }
  }
  return Buffer.from(JSON.stringify(json));
}
