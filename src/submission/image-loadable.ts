/**
 * The archive the engine loads, written from what the inspection checked: the config and the layers, each a
 * plain file under the path the inspection read it at (found by the same name reader, checkTarName), then a
 * manifest.json of ours that names them and this run's tag only. Nothing else of the participant's archive
 * reaches the engine (its manifests, a `repositories` file, index.json, links, folders), so no name in it
 * can tag an image or point the loader at a file we did not check. Each file is hashed on the way and must
 * be what the inspection hashed.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract as tarExtract, pack as tarPack, type Header } from "tar-stream";
import type { InspectedImage } from "./image-archive.js";
import { checkTarName } from "./image-rules.js";

export interface LoadableArchive {
  stream: Readable;
  /**
   * Ends the stream where the engine stopped reading it, and resolves (never rejects) with the error that
   * reading the archive met, if any: never one of the ending's own making.
   */
  finish(): Promise<Error | undefined>;
}

/** The manifest.json the engine reads: exactly the checked config and layers, and `ref` as the only tag. */
export function loadManifest(load: InspectedImage["load"], ref: string): Buffer {
  return Buffer.from(JSON.stringify([{ Config: load.config, RepoTags: [ref], Layers: load.layers }]));
}

/** Files are written with fixed metadata: the engine reads their bytes only. */
const FILE_HEADER = { type: "file", mode: 0o644, uid: 0, gid: 0, mtime: new Date(0) } as const;

/**
 * Streams the archive at `archivePath` as the tar the engine loads under `ref` (see above). `inspected` is
 * the inspection of that same file.
 */
export function loadableArchive(
  archivePath: string,
  inspected: Pick<InspectedImage, "gzipped" | "load" | "configDigest" | "layers">,
  ref: string,
): LoadableArchive {
  // What each file must hash to: the config's digest is the image id; each layer's digest is its stored bytes'.
  const expected = new Map<string, string>([[inspected.load.config, inspected.configDigest]]);
  inspected.load.layers.forEach((source, i) => expected.set(source, inspected.layers[i]!.digest));
  const pending = new Set(expected.keys());
  const extract = tarExtract();
  const pack = tarPack();
  const out = new PassThrough();
  let cancelled = false;
  /** A failure of our own check (a file that changed since its inspection): always reported. */
  let changed: Error | undefined;
  const refuse = (error: Error): Error => (changed ??= error);
  extract.on("entry", (header: Header, source: unknown, next: (error?: Error | null) => void) => {
    const body = source as Readable;
    // A read error reaches the entry streams too; the pipeline reports it once.
    body.on("error", () => undefined);
    const checked = checkTarName(header.name);
    const path = "segments" in checked ? checked.segments.join("/") : undefined;
    const wanted = (header.type === "file" || header.type === "contiguous-file") && path !== undefined;
    if (!wanted || !pending.has(path)) {
      body.on("end", () => next()).resume();
      return;
    }
    pending.delete(path);
    const hash = createHash("sha256");
    const entry = pack.entry({ ...FILE_HEADER, name: path, size: header.size }, (error) => {
      const digest = `sha256:${hash.digest("hex")}`;
      if (error) next(error);
      else if (digest !== expected.get(path))
        next(
          refuse(new Error(`${path} changed after it was checked (${digest}, not ${expected.get(path)})`)),
        );
      else next();
    });
    entry.on("error", () => undefined);
    body.on("data", (chunk: Buffer) => hash.update(chunk));
    body.pipe(entry);
  });
  extract.on("finish", () => {
    if (pending.size > 0) {
      pack.destroy(refuse(new Error(`the archive no longer holds ${[...pending].join(", ")}`)));
      return;
    }
    const manifest = loadManifest(inspected.load, ref);
    pack.entry({ ...FILE_HEADER, name: "manifest.json", size: manifest.length }, manifest, (error) => {
      if (error) pack.destroy(error);
      else pack.finalize();
    });
  });
  const source = createReadStream(archivePath, { highWaterMark: 256 * 1024 });
  const stages: NodeJS.ReadWriteStream[] = inspected.gzipped ? [createGunzip()] : [];
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
    finish: async () => {
      if (!out.readableEnded) {
        cancelled = true;
        out.destroy();
      }
      const failed = await reading;
      return changed ?? failed;
    },
  };
}
