/**
 * The predictions a run left, as one tar the gateway keeps (so an organizer can re-score them without
 * running the program again), and back. The tar holds regular files only, flat: the format's file, or for
 * a folder format the folder's files. Unpacking trusts nothing in it (the names are the program's): only
 * plain names are written, each file created exclusively in a fresh folder, within the output caps.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { lstat, open, readdir } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { extract as tarExtract, pack as tarPack } from "tar-stream";

/**
 * Packs the predictions in `outDir` into `dest`: `expected` when the run wrote that file, else (a folder
 * format) every regular file at the folder's top. Returns how many files; 0: nothing to keep.
 */
export async function packPredictions(outDir: string, expected: string, dest: string): Promise<number> {
  const names = (await isFile(path.join(outDir, expected)))
    ? [expected]
    : (await readdir(outDir, { withFileTypes: true }).catch(() => []))
        .filter((entry) => entry.isFile())
        .map((entry) => entry.name)
        .sort();
  if (names.length === 0) return 0;
  const pack = tarPack();
  const written = pipeline(pack, createWriteStream(dest, { mode: 0o600 }));
  for (const name of names) {
    const file = path.join(outDir, name);
    const { size } = await lstat(file);
    await new Promise<void>((resolve, reject) => {
      const entry = pack.entry({ name, size, mode: 0o644, type: "file" }, (error) =>
        error ? reject(error) : resolve(),
      );
      createReadStream(file).on("error", reject).pipe(entry);
    });
  }
  pack.finalize();
  await written;
  return names.length;
}

/**
 * Unpacks a predictions tar into `destDir` (which must be empty): plain names only, at most `maxBytes` and
 * `maxFiles` in all; anything else is refused with an Error naming the entry.
 */
export async function unpackPredictions(
  tarFile: string,
  destDir: string,
  caps: { maxBytes: number; maxFiles: number },
): Promise<string[]> {
  const extract = tarExtract();
  const names: string[] = [];
  let bytes = 0;
  // The first refusal ends the unpacking; the rest of the tar is only read through.
  let failure: Error | undefined;
  extract.on("entry", (header, stream, next) => {
    const skip = (error?: Error) => {
      failure ??= error;
      stream.resume();
      next();
    };
    const name = header.name;
    const refuse = (why: string) =>
      skip(new Error(`the kept predictions hold ${JSON.stringify(name)}, which ${why}`));
    if (failure) return skip();
    if (header.type !== "file") return refuse(`is a ${header.type}, not a file`);
    if (!/^[^/\\\0]+$/.test(name) || name === "." || name === "..") return refuse("is not a plain name");
    bytes += header.size ?? 0;
    if (names.length >= caps.maxFiles || bytes > caps.maxBytes)
      return refuse("goes past the output folder's caps");
    names.push(name);
    open(path.join(destDir, name), "wx", 0o644).then(
      (handle) => pipeline(stream, handle.createWriteStream()).then(() => next(), skip),
      skip,
    );
  });
  await pipeline(createReadStream(tarFile), extract);
  if (failure) throw failure;
  return names;
}

async function isFile(file: string): Promise<boolean> {
  return lstat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}
