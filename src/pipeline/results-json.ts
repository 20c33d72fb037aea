import { readFile, stat } from "node:fs/promises";
import path from "node:path";

/**
 * Grand Challenge's results contract: the text of the predictions a run left at `file` when the format
 * names a `*.json` file (results.json), for showing as the program wrote it; null when the format is not
 * JSON, nothing regular is there, or it is over `maxBytes` (too large to show).
 */
export async function readResultsJson(file: string, maxBytes: number): Promise<string | null> {
  if (path.extname(file) !== ".json") return null;
  const info = await stat(file).catch(() => null);
  if (!info?.isFile() || info.size > maxBytes) return null;
  return readFile(file, "utf8");
}
