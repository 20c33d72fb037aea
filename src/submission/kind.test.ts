import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { submissionFileKind } from "./kind.js";
import { imageArchive } from "./test-support/image-tar.js";
import { zipBytes } from "./test-support/zip-bytes.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-kind-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const kindOf = async (name: string, bytes: Buffer) => {
  await writeFile(path.join(dir, name), bytes);
  return submissionFileKind(path.join(dir, name));
};

describe("submissionFileKind", () => {
  it("tells zips from image archives by their bytes, whatever their names", async () => {
    const tar = await imageArchive();
    expect(await kindOf("a.zip", zipBytes([{ name: "main.py", data: Buffer.from("print(1)") }]))).toBe("zip");
    expect(await kindOf("algorithm.zip", tar)).toBe("image");
    expect(await kindOf("algorithm.tar.gz", gzipSync(tar))).toBe("image");
  });

  it("says unknown for anything else, empty files included", async () => {
    expect(await kindOf("notes.txt", Buffer.from("hello"))).toBe("unknown");
    expect(await kindOf("empty", Buffer.alloc(0))).toBe("unknown");
  });
});
