import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { pack as tarPack } from "tar-stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { packPredictions, unpackPredictions } from "./predictions.js";

/** The kept predictions' tar: what a run left, and back, trusting nothing in it. */
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-predictions-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const CAPS = { maxBytes: 1024, maxFiles: 5 };

async function folder(name: string, files: Record<string, string>): Promise<string> {
  const at = path.join(dir, name);
  await mkdir(at);
  for (const [file, text] of Object.entries(files)) await writeFile(path.join(at, file), text);
  return at;
}

/** A tar made by hand: what a tampered file could hold. */
async function handMade(
  entries: { name: string; type?: "file" | "symlink"; text?: string; linkname?: string }[],
) {
  const file = path.join(dir, "hand.tar");
  const pack = tarPack();
  const done = pipeline(pack, createWriteStream(file));
  for (const e of entries)
    pack.entry({ name: e.name, type: e.type ?? "file", linkname: e.linkname }, e.text ?? "");
  pack.finalize();
  await done;
  return file;
}

describe("kept predictions", () => {
  it("keep the format's file only (not what else the run wrote), and come back the same", async () => {
    const out = await folder("out", { "submission.csv": "id,y\n1,a\n", "debug.log": "noise" });
    const tar = path.join(dir, "p.tar");
    expect(await packPredictions(out, "submission.csv", tar)).toBe(1);
    const back = await folder("back", {});
    expect(await unpackPredictions(tar, back, CAPS)).toEqual(["submission.csv"]);
    expect(await readFile(path.join(back, "submission.csv"), "utf8")).toBe("id,y\n1,a\n");
    expect(await readdir(back)).toEqual(["submission.csv"]);
  });

  it("keep a folder format's files; nothing to keep is 0", async () => {
    const out = await folder("masks", { "a.tif": "A", "b.tif": "B" });
    const tar = path.join(dir, "p.tar");
    expect(await packPredictions(out, "{id}.tif", tar)).toBe(2);
    const back = await folder("back", {});
    expect(await unpackPredictions(tar, back, CAPS)).toEqual(["a.tif", "b.tif"]);
    expect(
      await packPredictions(await folder("empty", {}), "submission.csv", path.join(dir, "none.tar")),
    ).toBe(0);
  });

  it.each([
    [[{ name: "../escape.csv" }], /"\.\.\/escape\.csv", which is not a plain name/],
    [[{ name: "sub/x.csv" }], /is not a plain name/],
    [[{ name: "link", type: "symlink" as const, linkname: "/etc/passwd" }], /is a symlink, not a file/],
    [[{ name: "big.csv", text: "x".repeat(2000) }], /goes past the output folder's caps/],
    [[{ name: "a" }, { name: "a" }], /EEXIST/],
  ])("refuse a tampered tar: %j", async (entries, message) => {
    const back = await folder("back", {});
    await expect(unpackPredictions(await handMade(entries), back, CAPS)).rejects.toThrow(message);
    expect((await readdir(dir)).sort()).toEqual(["back", "hand.tar"]);
  });
});
