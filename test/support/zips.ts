import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { ZipFile } from "yazl";

/** Writes a zip of the given files (name → content) with yazl; for valid zips in tests. */
export async function writeZip(path: string, files: Record<string, string | Buffer>): Promise<string> {
  const zip = new ZipFile();
  for (const [name, content] of Object.entries(files)) {
    zip.addBuffer(Buffer.isBuffer(content) ? content : Buffer.from(content), name, { mode: 0o100644 });
  }
  zip.end();
  const out = createWriteStream(path);
  zip.outputStream.pipe(out);
  await once(out, "close");
  return path;
}
