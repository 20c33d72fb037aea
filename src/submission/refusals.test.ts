import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidSubmissionError } from "./errors.js";
import { extractSubmission, extractWith } from "./extract.js";
import { inspectSubmission } from "./inspect.js";
import type { ZipLimits } from "./limits.js";
import type { Rule } from "./rules.js";
import { exists, tempDir, writeRaw, writeYazl } from "./test-support/fixtures.js";
import { deflatedZeros, type RawEntry } from "./test-support/zip-bytes.js";

const main: RawEntry = { name: "main.py", data: Buffer.from("print('hi')\n") };
const file = (name: string | Buffer, extra: Partial<RawEntry> = {}): RawEntry => ({
  name,
  data: Buffer.from("x"),
  ...extra,
});

interface Case {
  title: string;
  rule: Rule;
  /** The entry the refusal must name (in .entry and in the message); undefined: an archive-level rule. */
  entry?: string;
  /** Text the message must contain. */
  says?: string;
  entries: RawEntry[];
  limits?: Partial<ZipLimits>;
  /** Caught only while streaming: inspection (central directory only) accepts it. */
  streamingOnly?: boolean;
}

const bomb = deflatedZeros(500);
const lyingBomb = deflatedZeros(64);
const nearlyMiB = 1000 * 1024;

const cases: Case[] = [
  { title: '".." segment', rule: "parent_segment", entry: "../evil.py", entries: [main, file("../evil.py")] },
  {
    title: '".." deeper in the path',
    rule: "parent_segment",
    entry: "lib/../../evil.py",
    entries: [main, file("lib/../../evil.py")],
  },
  {
    title: "absolute unix path",
    rule: "absolute_path",
    entry: "/etc/cron.d/x",
    entries: [main, file("/etc/cron.d/x")],
  },
  {
    title: "drive-letter path",
    rule: "absolute_path",
    entry: "C:evil.py",
    entries: [main, file("C:evil.py")],
  },
  {
    title: "drive-letter root",
    rule: "absolute_path",
    entry: "c:/evil.py",
    entries: [main, file("c:/evil.py")],
  },
  { title: "backslash", rule: "backslash", entry: "lib\\x.py", entries: [main, file("lib\\x.py")] },
  {
    title: "backslash traversal",
    rule: "backslash",
    entry: "..\\evil.py",
    entries: [main, file("..\\evil.py")],
  },
  { title: "empty name", rule: "bad_name", entry: "", entries: [main, file("")] },
  { title: '"." segment', rule: "bad_name", entry: "./x.py", entries: [main, file("./x.py")] },
  { title: "empty segment", rule: "bad_name", entry: "lib//x.py", entries: [main, file("lib//x.py")] },
  { title: "NUL in name", rule: "control_char", entry: "x\u0000.py", entries: [main, file("x\u0000.py")] },
  { title: "newline in name", rule: "control_char", entry: "x\n.py", entries: [main, file("x\n.py")] },
  {
    title: "segment over 255 bytes",
    rule: "name_too_long",
    entry: `${"a".repeat(256)}.py`,
    entries: [main, file(`${"a".repeat(256)}.py`)],
  },
  {
    title: "symlink",
    rule: "symlink",
    entry: "link",
    entries: [main, file("link", { data: Buffer.from("/etc/passwd"), unixMode: 0o120777 })],
  },
  {
    title: "symlink written by a non-unix host",
    rule: "symlink",
    entry: "link",
    entries: [main, file("link", { data: Buffer.from("/etc"), unixMode: 0o120777, versionMadeBy: 0x0014 })],
  },
  {
    title: "character device",
    rule: "special_file",
    entry: "null",
    says: "character device",
    entries: [main, file("null", { data: Buffer.alloc(0), unixMode: 0o020666 })],
  },
  {
    title: "block device",
    rule: "special_file",
    entry: "sda",
    entries: [main, file("sda", { data: Buffer.alloc(0), unixMode: 0o060660 })],
  },
  {
    title: "FIFO",
    rule: "special_file",
    entry: "pipe",
    says: "FIFO",
    entries: [main, file("pipe", { data: Buffer.alloc(0), unixMode: 0o010644 })],
  },
  {
    title: "socket",
    rule: "special_file",
    entry: "sock",
    entries: [main, file("sock", { data: Buffer.alloc(0), unixMode: 0o140755 })],
  },
  { title: "the same name twice", rule: "duplicate_entry", entry: "main.py", entries: [main, main] },
  {
    title: "a file and a folder of the same name",
    rule: "duplicate_entry",
    entry: "lib/",
    entries: [main, file("lib"), { name: "lib/" }],
  },
  {
    title: "a file where a folder is implied",
    rule: "duplicate_entry",
    entry: "lib",
    entries: [main, file("lib/x.py"), file("lib")],
  },
  {
    title: "a folder implied under a file",
    rule: "duplicate_entry",
    entry: "lib/x.py",
    entries: [main, file("lib"), file("lib/x.py")],
  },
  {
    title: "names equal after Unicode normalisation",
    rule: "duplicate_entry",
    entry: "cafe\u0301.txt",
    entries: [main, file("caf\u00e9.txt"), file("cafe\u0301.txt")],
  },
  {
    title: "one folder spelled in two Unicode forms",
    rule: "duplicate_entry",
    entry: "cafe\u0301/b.py",
    entries: [main, file("caf\u00e9/a.py"), file("cafe\u0301/b.py")],
  },
  {
    title: "the same folder twice",
    rule: "duplicate_entry",
    entry: "lib/",
    entries: [main, { name: "lib/" }, { name: "lib/" }],
  },
  {
    title: "encrypted entry",
    rule: "encrypted",
    entry: "secret.bin",
    entries: [
      main,
      file("secret.bin", { flags: 0x801, data: Buffer.alloc(20), compressed: Buffer.alloc(32) }),
    ],
  },
  {
    title: "bzip2 entry",
    rule: "unsupported_compression",
    entry: "model.bin",
    says: "bzip2",
    entries: [main, file("model.bin", { method: 12 })],
  },
  {
    title: "a folder entry that carries data",
    rule: "directory_with_data",
    entry: "lib/",
    entries: [main, { name: "lib/", data: Buffer.from("data") }],
  },
  {
    title: "too many entries",
    rule: "too_many_entries",
    says: "4 entries, over the limit of 3",
    entries: [main, file("a"), file("b"), file("c")],
    limits: { maxEntries: 3 },
  },
  {
    title: "a declared size over the per-file cap",
    rule: "entry_too_large",
    entry: "big.bin",
    entries: [main, file("big.bin", { data: Buffer.alloc(200) })],
    limits: { maxEntryBytes: 100 },
  },
  {
    title: "declared sizes over the total cap",
    rule: "total_too_large",
    entry: "b.bin",
    entries: [main, file("a.bin", { data: Buffer.alloc(90) }), file("b.bin", { data: Buffer.alloc(90) })],
    limits: { maxTotalBytes: 150 },
  },
  {
    title: "a deflate bomb declared honestly (500 MiB of zeros)",
    rule: "compression_ratio",
    entry: "zeros.bin",
    entries: [
      main,
      {
        name: "zeros.bin",
        method: 8,
        compressed: bomb.compressed,
        crc32: bomb.crc32,
        uncompressedSize: bomb.size,
      },
    ],
  },
  {
    title: "many small entries that expand too much together",
    rule: "archive_compression_ratio",
    entries: [
      main,
      ...["a", "b", "c", "d", "e"].map((name) => ({
        name,
        method: 8,
        data: Buffer.alloc(nearlyMiB),
      })),
    ],
  },
  {
    title: "entries sharing their data (overlap bomb)",
    rule: "overlapping_entries",
    entry: "b.bin",
    entries: [
      main,
      file("a.bin", { data: Buffer.alloc(1000), method: 8 }),
      file("b.bin", { localHeaderOf: 1 }),
    ],
  },
  {
    title: "a deflated entry that lies about its size (caught while streaming)",
    rule: "size_mismatch",
    entry: "zeros.bin",
    streamingOnly: true,
    entries: [
      main,
      {
        name: "zeros.bin",
        method: 8,
        compressed: lyingBomb.compressed,
        crc32: lyingBomb.crc32,
        uncompressedSize: 1024 * 1024,
      },
    ],
  },
  {
    title: "a deflated entry shorter than declared",
    rule: "size_mismatch",
    entry: "short.bin",
    streamingOnly: true,
    entries: [main, file("short.bin", { method: 8, data: Buffer.alloc(100), uncompressedSize: 5000 })],
  },
  {
    title: "a stored entry whose two sizes disagree",
    rule: "size_mismatch",
    says: "central directory entry #2",
    entries: [main, file("x.bin", { data: Buffer.alloc(10), compressedSize: 10, uncompressedSize: 5000 })],
  },
  {
    title: "a CRC mismatch",
    rule: "corrupt_zip",
    entry: "x.py",
    says: "CRC-32",
    streamingOnly: true,
    entries: [main, file("x.py", { crc32: 12345 })],
  },
  {
    title: "deflate data that is not deflate",
    rule: "corrupt_zip",
    entry: "x.bin",
    streamingOnly: true,
    entries: [
      main,
      file("x.bin", { method: 8, compressed: Buffer.from([0xff, 0xff, 0xff, 0xff]), uncompressedSize: 10 }),
    ],
  },
  { title: "no files at all", rule: "empty_zip", entries: [] },
  {
    title: "only macOS junk",
    rule: "empty_zip",
    entries: [file("__MACOSX/._main.py"), file(".DS_Store"), { name: "empty/" }],
  },
  { title: "no main", rule: "no_entrypoint", says: "there is none", entries: [file("predict.py")] },
  {
    title: "main in one of two top folders",
    rule: "no_entrypoint",
    entry: "a/main.py",
    entries: [file("a/main.py"), file("b/util.py")],
  },
  {
    title: "main beside a top-level file",
    rule: "no_entrypoint",
    entry: "sub/main.py",
    entries: [file("sub/main.py"), file("README.md")],
  },
  {
    title: "main two folders deep",
    rule: "no_entrypoint",
    entry: "a/b/main.py",
    entries: [file("a/b/main.py")],
  },
  { title: "main.py is a folder", rule: "no_entrypoint", entries: [{ name: "main.py/" }, file("main.py/x")] },
];

let work: string;
beforeAll(async () => {
  work = await tempDir();
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

async function refusal(promise: Promise<unknown>): Promise<InvalidSubmissionError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(InvalidSubmissionError);
  return error as InvalidSubmissionError;
}

function expectNamed(error: InvalidSubmissionError, c: Case): void {
  expect(error.rule).toBe(c.rule);
  expect(error.status).toBe("invalid_submission");
  if (c.entry !== undefined) {
    expect(error.entry).toBe(c.entry);
    expect(error.message).toContain(JSON.stringify(c.entry));
  }
  if (c.says !== undefined) expect(error.message).toContain(c.says);
  // Every message says what to do after a colon.
  expect(error.message).toMatch(/: \S.*$/);
}

describe.each(cases.map((c, i) => ({ ...c, i })))("refuses $title", (c) => {
  const zipPath = (): string => join(work, `case-${c.i}.zip`);
  beforeAll(async () => {
    await writeRaw(zipPath(), c.entries);
  });

  it(`inspection: ${c.streamingOnly ? "passes (only the data can tell)" : c.rule}`, async () => {
    if (c.streamingOnly) await expect(inspectSubmission(zipPath(), c.limits)).resolves.toBeDefined();
    else expectNamed(await refusal(inspectSubmission(zipPath(), c.limits)), c);
  });

  it.each([
    ["synchronous", false],
    ["portable", true],
  ])(`extraction (%s writer): ${c.rule}, leaving nothing behind`, async (_, portable) => {
    const dest = join(work, `out-${c.i}-${portable}`, "nested");
    expectNamed(await refusal(extractWith(zipPath(), dest, c.limits, { portable })), c);
    expect(await exists(join(work, `out-${c.i}-${portable}`))).toBe(false);
  });
});

describe("refuses files that are not usable zips", () => {
  it("a text file, naming it and saying how to re-create it", async () => {
    const path = join(work, "notes.zip");
    await fsp.writeFile(path, "this is not a zip\n".repeat(10));
    const error = await refusal(inspectSubmission(path));
    expect(error.rule).toBe("not_a_zip");
    expect(error.message).toContain('"notes.zip"');
    expect(error.message).toContain("`proctor pack` or `zip -r`");
  });

  it("a truncated zip", async () => {
    const whole = join(work, "whole.zip");
    await writeYazl(whole, { "main.py": "print(1)\n", "data.bin": Buffer.alloc(5000, 7) });
    const bytes = await fsp.readFile(whole);
    const cut = join(work, "cut.zip");
    await fsp.writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect((await refusal(extractSubmission(cut, join(work, "cut-out")))).rule).toBe("not_a_zip");
    expect(await exists(join(work, "cut-out"))).toBe(false);
  });

  it("a folder given as the zip", async () => {
    expect((await refusal(inspectSubmission(work))).rule).toBe("not_a_zip");
  });

  it("a zip over the size cap, before reading it", async () => {
    const path = await writeYazl(join(work, "big.zip"), { "main.py": "print(1)\n" });
    const error = await refusal(inspectSubmission(path, { maxZipBytes: 10 }));
    expect(error.rule).toBe("zip_too_large");
    expect(error.message).toContain('"big.zip"');
  });

  it("a missing zip is the caller's error, not the participant's", async () => {
    const error = await inspectSubmission(join(work, "absent.zip")).catch((caught: unknown) => caught);
    expect(error).not.toBeInstanceOf(InvalidSubmissionError);
    expect((error as Error).message).toContain("does not exist");
  });
});
