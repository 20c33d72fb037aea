import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "proctor-scoring-test-"));
let counter = 0;

/** Writes a temporary file (text as UTF-8, or raw bytes) and returns its path. */
export function tempFile(content: string | Uint8Array, name = "submission.csv"): string {
  const sub = join(dir, String(counter++));
  mkdirSync(sub);
  const path = join(sub, name);
  writeFileSync(path, content);
  return path;
}
