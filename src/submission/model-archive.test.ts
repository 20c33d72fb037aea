import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InvalidSubmissionError } from "./errors.js";
import { extractModelArchive, type ModelLimits } from "./model-archive.js";
import { device, dir, file, hardlink, symlink, tarBytes, type TarItem } from "./test-support/image-tar.js";

const LIMITS = { maxModelBytes: 1024 ** 2, maxModelUncompressedBytes: 1024 ** 2 };
let work: string;
let dest: string;

beforeEach(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), "proctor-model-"));
  dest = path.join(work, "model");
  await mkdir(dest);
});
afterEach(() => rm(work, { recursive: true, force: true }));

async function archive(items: TarItem[], gzip = true): Promise<string> {
  const tar = await tarBytes(items);
  const name = path.join(work, gzip ? "model.tar.gz" : "model.tar");
  await writeFile(name, gzip ? gzipSync(tar) : tar);
  return name;
}

async function refusal(items: TarItem[], limits: ModelLimits = LIMITS): Promise<InvalidSubmissionError> {
  const error = await extractModelArchive(await archive(items), dest, limits).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidSubmissionError);
  return error as InvalidSubmissionError;
}

describe("extractModelArchive", () => {
  it("extracts what `tar -czf model.tar.gz -C model .` makes, readable by anyone", async () => {
    const model = path.join(work, "src");
    await mkdir(path.join(model, "a_tarball_subdirectory"), { recursive: true });
    await writeFile(path.join(model, "a_tarball_subdirectory", "some_tarball_resource.txt"), "weights\n");
    await writeFile(path.join(model, "run.sh"), "#!/bin/sh\n", { mode: 0o700 });
    execFileSync("tar", ["-czf", path.join(work, "model.tar.gz"), "-C", model, "."]);
    const extracted = await extractModelArchive(path.join(work, "model.tar.gz"), dest, LIMITS);
    expect(extracted).toEqual({ files: 2, bytes: 18 });
    expect(
      await readFile(path.join(dest, "a_tarball_subdirectory", "some_tarball_resource.txt"), "utf8"),
    ).toBe("weights\n");
    expect((await stat(dest)).mode & 0o777).toBe(0o755);
    expect((await stat(path.join(dest, "a_tarball_subdirectory"))).mode & 0o777).toBe(0o755);
    expect((await stat(path.join(dest, "run.sh"))).mode & 0o777).toBe(0o755);
    expect(
      (await stat(path.join(dest, "a_tarball_subdirectory", "some_tarball_resource.txt"))).mode & 0o777,
    ).toBe(0o644);
  });

  it("takes a plain tar too", async () => {
    const name = await archive([file("weights.json", "{}")], false);
    await extractModelArchive(name, dest, LIMITS);
    expect(await readdir(dest)).toEqual(["weights.json"]);
  });

  it.each([
    ["a symbolic link", [symlink("leak", "/etc/shadow")], "unsupported_entry", /symlink/],
    ["a hard link", [file("a"), hardlink("b", "a")], "unsupported_entry", /link/],
    ["a device", [device("null")], "unsupported_entry", /character-device/],
    ["a name that climbs out", [file("../outside")], "parent_segment", /\.\./],
    ["an absolute name", [file("/etc/passwd")], "absolute_path", /absolute/],
    ["a file twice", [file("w"), file("./w")], "duplicate_entry", /twice/],
  ])("refuses %s, naming the tarball and the entry", async (_what, items, rule, detail) => {
    const error = await refusal(items as TarItem[]);
    expect(error.rule).toBe(rule);
    expect(error.message).toMatch(/^the model tarball "model\.tar\.gz" at /);
    expect(error.message).toMatch(detail);
    await expect(stat(path.join(work, "outside"))).rejects.toThrow();
  });

  it.each([
    ["a file where a folder is", [dir("w/"), file("w")]],
    ["a folder where a file is", [file("w"), file("w/x")]],
  ])("refuses %s (never written through)", async (_what, items) => {
    const error = await refusal(items);
    expect(error.rule).toBe("duplicate_entry");
    expect(error.message).toMatch(/"w.*share this name/);
  });

  it("refuses a tarball over its cap before reading it, and one that unpacks past the other cap", async () => {
    const big = await refusal([file("w", Buffer.alloc(64))], { ...LIMITS, maxModelBytes: 16 });
    expect(big.rule).toBe("model_too_large");
    expect(big.message).toMatch(/over the competition's 16 B/);
    const unpacked = await refusal([file("w", Buffer.alloc(4096))], {
      ...LIMITS,
      maxModelUncompressedBytes: 1000,
    });
    expect(unpacked.rule).toBe("model_too_large");
    expect(unpacked.message).toMatch(/"w".*unpacks to over/);
  });

  it("refuses a compression bomb, a tarball that is not one, and an empty one", async () => {
    const bomb = await refusal([file("zeros", Buffer.alloc(4 * 1024 ** 2))], {
      maxModelBytes: 1024 ** 2,
      maxModelUncompressedBytes: 64 * 1024 ** 2,
      maxCompressionRatio: 10,
    });
    expect(bomb.rule).toBe("compression_bomb");
    await writeFile(path.join(work, "junk.tar.gz"), gzipSync(Buffer.from("not a tar at all".repeat(64))));
    const junk = await extractModelArchive(path.join(work, "junk.tar.gz"), dest, LIMITS).catch(
      (e: unknown) => e as InvalidSubmissionError,
    );
    expect(junk).toBeInstanceOf(InvalidSubmissionError);
    expect((junk as InvalidSubmissionError).rule).toBe("corrupt_archive");
    expect((await refusal([])).rule).toBe("empty_archive");
  });

  it("checks without writing when given no folder (the gateway, at upload), with the same refusals", async () => {
    const name = await archive([dir("w/"), file("w/a.bin", "abc"), file("b.json", "{}")]);
    expect(await extractModelArchive(name, null, LIMITS)).toEqual({ files: 2, bytes: 5 });
    expect(await readdir(dest)).toEqual([]);
    const error = await extractModelArchive(
      await archive([file("x"), symlink("y", "x")]),
      null,
      LIMITS,
    ).catch((e: unknown) => e as InvalidSubmissionError);
    expect((error as InvalidSubmissionError).rule).toBe("unsupported_entry");
    const clash = await extractModelArchive(await archive([file("w"), dir("w/")]), null, LIMITS).catch(
      (e: unknown) => e as InvalidSubmissionError,
    );
    expect((clash as InvalidSubmissionError).rule).toBe("duplicate_entry");
  });
});
