import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readResultsJson } from "./results-json.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-results-json-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("readResultsJson", () => {
  it("reads a *.json output as written, and nothing else", async () => {
    await writeFile(path.join(dir, "results.json"), '[{"id": "a"}]\n');
    await writeFile(path.join(dir, "submission.csv"), "id\na\n");
    await mkdir(path.join(dir, "folder.json"));
    expect(await readResultsJson(path.join(dir, "results.json"), 100)).toBe('[{"id": "a"}]\n');
    expect(await readResultsJson(path.join(dir, "submission.csv"), 100)).toBeNull();
    expect(await readResultsJson(path.join(dir, "folder.json"), 100)).toBeNull();
    expect(await readResultsJson(path.join(dir, "missing.json"), 100)).toBeNull();
  });

  it("leaves out a file over the cap rather than showing part of it", async () => {
    await writeFile(path.join(dir, "big.json"), "x".repeat(101));
    expect(await readResultsJson(path.join(dir, "big.json"), 100)).toBeNull();
    expect(await readResultsJson(path.join(dir, "big.json"), 101)).toBe("x".repeat(101));
  });
});
