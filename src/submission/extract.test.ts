import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, promises as fsp } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import yazl from "yazl";
import { InvalidSubmissionError } from "./errors.js";
import { extractSubmission, extractWith, type ExtractedSubmission } from "./extract.js";
import type { ZipLimits } from "./limits.js";
import { inspectSubmission } from "./inspect.js";
import { exists, tempDir, writeRaw, writeYazl } from "./test-support/fixtures.js";

let work: string;
let counter = 0;
const fresh = (name: string): string => join(work, `${name}-${counter++}`);

beforeAll(async () => {
  work = await tempDir();
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

const modeOf = async (path: string): Promise<number> => (await fsp.stat(path)).mode & 0o7777;

describe.each([
  ["synchronous", false],
  ["portable", true],
])("extractSubmission (%s writer)", (_, portable) => {
  const extractSubmission = (
    zip: string,
    dest: string,
    limits?: Partial<ZipLimits>,
  ): Promise<ExtractedSubmission> => extractWith(zip, dest, limits, { portable });

  it("extracts a flat zip: contents, modes, counts and the zip's sha256", async () => {
    const zip = await writeYazl(fresh("flat") + ".zip", {
      "main.py": "print('hello')\n",
      "lib/": { dir: true },
      "lib/util.py": "X = 1\n",
      "model/weights.bin": Buffer.alloc(300_000, 3),
    });
    const dest = fresh("flat-out");
    const result = await extractSubmission(zip, dest);
    expect(result).toEqual({
      sha256: createHash("sha256")
        .update(await fsp.readFile(zip))
        .digest("hex"),
      zipBytes: (await fsp.stat(zip)).size,
      root: dest,
      entrypoint: "main.py",
      files: 3,
      totalBytes: 15 + 6 + 300_000,
    });
    expect(await fsp.readFile(join(dest, "main.py"), "utf8")).toBe("print('hello')\n");
    expect(await fsp.readFile(join(dest, "lib/util.py"), "utf8")).toBe("X = 1\n");
    expect((await fsp.readFile(join(dest, "model/weights.bin"))).equals(Buffer.alloc(300_000, 3))).toBe(true);
    expect(await modeOf(join(dest, "main.py"))).toBe(0o644);
    expect(await modeOf(join(dest, "lib"))).toBe(0o755);
    expect(await modeOf(join(dest, "model"))).toBe(0o755);
    expect(await modeOf(dest)).toBe(0o755);
  });

  it("keeps the owner-exec bit as 0o755 and strips setuid, setgid and sticky bits", async () => {
    const zip = await writeRaw(fresh("modes") + ".zip", [
      { name: "main.sh", data: Buffer.from("#!/bin/sh\n"), unixMode: 0o100700 },
      { name: "suid", data: Buffer.from("x"), unixMode: 0o104755 },
      { name: "sgid", data: Buffer.from("x"), unixMode: 0o102644 },
      { name: "sticky", data: Buffer.from("x"), unixMode: 0o101777 },
      { name: "private", data: Buffer.from("x"), unixMode: 0o100600 },
      { name: "dos.txt", data: Buffer.from("x"), versionMadeBy: 0x0014, externalFileAttributes: 0x20 },
      { name: "secret/", unixMode: 0o047700 },
    ]);
    const dest = fresh("modes-out");
    const result = await extractSubmission(zip, dest);
    expect(result.entrypoint).toBe("main.sh");
    expect(await modeOf(join(dest, "main.sh"))).toBe(0o755);
    expect(await modeOf(join(dest, "suid"))).toBe(0o755);
    expect(await modeOf(join(dest, "sgid"))).toBe(0o644);
    expect(await modeOf(join(dest, "sticky"))).toBe(0o755);
    expect(await modeOf(join(dest, "private"))).toBe(0o644);
    expect(await modeOf(join(dest, "dos.txt"))).toBe(0o644);
    expect(await modeOf(join(dest, "secret"))).toBe(0o755);
  });

  it("extracts entries larger than its read and inflate pieces, stored and deflated, and zip64", async () => {
    const files = {
      "main.py": Buffer.from("print(1)\n"),
      "random.bin": randomBytes(700_000),
      "table.csv": Buffer.from(
        Array.from({ length: 150_000 }, (_, i) => `${i},${(i * i) % 9973}\n`).join(""),
      ),
      "stored.bin": randomBytes(600_000),
    };
    const raw = await writeRaw(fresh("big") + ".zip", [
      { name: "main.py", data: files["main.py"] },
      { name: "random.bin", data: files["random.bin"], method: 8 },
      { name: "table.csv", data: files["table.csv"], method: 8 },
      { name: "stored.bin", data: files["stored.bin"] },
    ]);
    const zip64 = fresh("zip64") + ".zip";
    const zip = new yazl.ZipFile();
    for (const [name, data] of Object.entries(files)) zip.addBuffer(data, name, { forceZip64Format: true });
    zip.end({ forceZip64Format: true, comment: "" });
    await pipeline(zip.outputStream, createWriteStream(zip64));
    for (const path of [raw, zip64]) {
      const dest = fresh("big-out");
      expect((await extractSubmission(path, dest)).files).toBe(4);
      for (const [name, data] of Object.entries(files)) {
        expect((await fsp.readFile(join(dest, name))).equals(data)).toBe(true);
      }
    }
  });

  it("gives files and folders their modes under a restrictive umask", async () => {
    const zip = await writeRaw(fresh("umask") + ".zip", [
      { name: "main.sh", data: Buffer.from("#!/bin/sh\n"), unixMode: 0o100755 },
      { name: "lib/data.txt", data: Buffer.from("x") },
    ]);
    const dest = fresh("umask-out");
    const previous = process.umask(0o077);
    try {
      await extractSubmission(zip, dest);
    } finally {
      process.umask(previous);
    }
    expect(await modeOf(dest)).toBe(0o755);
    expect(await modeOf(join(dest, "lib"))).toBe(0o755);
    expect(await modeOf(join(dest, "main.sh"))).toBe(0o755);
    expect(await modeOf(join(dest, "lib/data.txt"))).toBe(0o644);
  });

  it("points root at the single top-level folder that holds main", async () => {
    const zip = await writeYazl(fresh("top") + ".zip", {
      "submission/": { dir: true },
      "submission/main.py": "print(1)\n",
      "submission/lib/a.py": "",
    });
    const dest = fresh("top-out");
    const result = await extractSubmission(zip, dest);
    expect(result.root).toBe(join(dest, "submission"));
    expect(result.entrypoint).toBe("main.py");
    expect(await fsp.readFile(join(result.root, "main.py"), "utf8")).toBe("print(1)\n");
    expect(await exists(join(result.root, "lib/a.py"))).toBe(true);
  });

  it("takes main.sh over main.py when both are there", async () => {
    const zip = await writeYazl(fresh("both") + ".zip", { "main.py": "", "main.sh": "python main.py\n" });
    expect((await extractSubmission(zip, fresh("both-out"))).entrypoint).toBe("main.sh");
  });

  it("ignores __MACOSX and .DS_Store junk, also when finding the top folder", async () => {
    const zip = await writeYazl(fresh("junk") + ".zip", {
      "sub/main.py": "print(1)\n",
      "sub/.DS_Store": "junk",
      "__MACOSX/": { dir: true },
      "__MACOSX/sub/._main.py": "junk",
      ".DS_Store": "junk",
    });
    const dest = fresh("junk-out");
    const result = await extractSubmission(zip, dest);
    expect(result.root).toBe(join(dest, "sub"));
    expect(result.files).toBe(1);
    expect(await fsp.readdir(dest)).toEqual(["sub"]);
    expect(await fsp.readdir(join(dest, "sub"))).toEqual(["main.py"]);
  });

  it("extracts empty files and a zip built by a non-unix host", async () => {
    const zip = await writeRaw(fresh("dos") + ".zip", [
      {
        name: "main.py",
        data: Buffer.from("print(1)\n"),
        method: 8,
        versionMadeBy: 0x0014,
        externalFileAttributes: 0,
      },
      { name: "empty.txt", versionMadeBy: 0x0014, externalFileAttributes: 0 },
      { name: "folder", versionMadeBy: 0x0014, externalFileAttributes: 0x10 },
    ]);
    const dest = fresh("dos-out");
    const result = await extractSubmission(zip, dest);
    expect(result.files).toBe(2);
    expect(await fsp.readFile(join(dest, "empty.txt"), "utf8")).toBe("");
    expect((await fsp.stat(join(dest, "folder"))).isDirectory()).toBe(true);
  });

  it("extracts into an existing empty folder", async () => {
    const zip = await writeYazl(fresh("empty-dest") + ".zip", { "main.py": "" });
    const dest = fresh("empty-dest-out");
    await fsp.mkdir(dest);
    expect((await extractSubmission(zip, dest)).root).toBe(dest);
  });

  it("refuses a destination that is not empty, and leaves it untouched", async () => {
    const zip = await writeYazl(fresh("busy") + ".zip", { "main.py": "" });
    const dest = fresh("busy-out");
    await fsp.mkdir(dest);
    await fsp.writeFile(join(dest, "precious.txt"), "keep me");
    const error = await extractSubmission(zip, dest).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(InvalidSubmissionError);
    expect((error as Error).message).toMatch(
      /is not empty.*precious\.txt.*: extract into a new or empty folder/,
    );
    expect(await fsp.readdir(dest)).toEqual(["precious.txt"]);
  });

  it("refuses a destination that is a file", async () => {
    const zip = await writeYazl(fresh("file-dest") + ".zip", { "main.py": "" });
    const dest = fresh("file-dest-out");
    await fsp.writeFile(dest, "a file");
    await expect(extractSubmission(zip, dest)).rejects.toThrow(/is not a folder/);
    expect(await fsp.readFile(dest, "utf8")).toBe("a file");
  });

  it("after a refusal, empties an existing destination but keeps the folder", async () => {
    // The refusal comes while streaming, after earlier files were written.
    const zip = await writeRaw(fresh("late") + ".zip", [
      { name: "main.py", data: Buffer.from("print(1)\n") },
      { name: "lib/a.py", data: Buffer.from("A = 1\n") },
      { name: "lib/b.py", data: Buffer.from("B = 2\n"), crc32: 1 },
    ]);
    const dest = fresh("late-out");
    await fsp.mkdir(dest);
    await expect(extractSubmission(zip, dest)).rejects.toMatchObject({
      rule: "corrupt_zip",
      entry: "lib/b.py",
    });
    expect(await fsp.readdir(dest)).toEqual([]);
  });

  it("after a refusal, removes the folders it created", async () => {
    const zip = await writeRaw(fresh("late2") + ".zip", [
      { name: "main.py", data: Buffer.from("print(1)\n") },
      { name: "x.py", data: Buffer.from("x"), crc32: 1 },
    ]);
    const parent = fresh("late2-out");
    await expect(extractSubmission(zip, join(parent, "a", "b"))).rejects.toMatchObject({
      rule: "corrupt_zip",
    });
    expect(await exists(parent)).toBe(false);
  });

  it("stops at the bytes actually written when declared sizes lie, with many files in flight", async () => {
    const entries = Array.from({ length: 40 }, (_, i) => ({
      name: `data/${i}.bin`,
      method: 8,
      data: randomBytes(100_000),
      // Every other entry claims to be smaller than it is.
      ...(i % 2 === 1 && { uncompressedSize: 1000 }),
    }));
    const zip = await writeRaw(fresh("liars") + ".zip", [{ name: "main.py" }, ...entries]);
    const dest = fresh("liars-out");
    const error = (await extractSubmission(zip, dest).catch(
      (caught: unknown) => caught,
    )) as InvalidSubmissionError;
    expect(error.rule).toBe("size_mismatch");
    expect(error.entry).toMatch(/^data\/\d*[13579]\.bin$/);
    expect(await exists(dest)).toBe(false);
  });
});

describe("inspectSubmission", () => {
  it("reports what extraction would, without writing anything", async () => {
    const before = await fsp.readdir(work);
    const zip = await writeYazl(fresh("inspect") + ".zip", {
      "sub/main.py": "print(1)\n",
      "sub/data.csv": "a,b\n1,2\n",
    });
    const inspected = await inspectSubmission(zip);
    expect(await fsp.readdir(work)).toEqual([...before, zip.split("/").at(-1)].sort());
    const extracted = await extractSubmission(zip, fresh("inspect-out"));
    expect(inspected).toEqual({
      sha256: extracted.sha256,
      zipBytes: extracted.zipBytes,
      rootPrefix: "sub/",
      entrypoint: "main.py",
      files: 2,
      totalBytes: 17,
    });
  });

  it("applies partial limits over the defaults", async () => {
    const zip = await writeYazl(fresh("limits") + ".zip", { "main.py": "", "a.bin": Buffer.alloc(2000) });
    await expect(inspectSubmission(zip, { maxEntryBytes: 1000 })).rejects.toMatchObject({
      rule: "entry_too_large",
    });
    await expect(inspectSubmission(zip, { maxEntries: 0 })).rejects.toThrow(RangeError);
    expect((await inspectSubmission(zip, { maxEntryBytes: 2000 })).files).toBe(2);
  });
});
