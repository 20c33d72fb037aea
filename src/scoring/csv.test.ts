import { isUtf8 } from "node:buffer";
import { describe, expect, it } from "vitest";
import { CsvReadError, firstInvalidUtf8, readCsvRecords } from "./csv.js";
import { tempFile } from "./test-support/files.js";

describe("firstInvalidUtf8", () => {
  const cases: [string, number[], number][] = [
    ["Latin-1 byte", [0x61, 0xe9, 0x62], 1],
    ["overlong NUL", [0x61, 0xc0, 0x80], 1],
    ["overlong 3-byte", [0xe0, 0x80, 0xaf], 0],
    ["UTF-16 surrogate", [0x61, 0x62, 0xed, 0xa0, 0x80], 2],
    ["above U+10FFFF", [0xf4, 0x90, 0x80, 0x80], 0],
    ["truncated sequence at the end", [0x61, 0xe6, 0xbc], 1],
    ["stray continuation byte", [0x80], 0],
    ["bad continuation", [0xe6, 0x41, 0x41], 0],
  ];
  for (const [name, bytes, at] of cases) {
    it(`finds a ${name}`, () => {
      const buf = Buffer.from(bytes);
      expect(isUtf8(buf)).toBe(false);
      expect(firstInvalidUtf8(buf)).toBe(at);
    });
  }

  it("passes valid UTF-8 of every length", () => {
    const buf = Buffer.from("a é 漢 😀 \u{10FFFF}");
    expect(firstInvalidUtf8(buf)).toBe(buf.length);
  });
});

describe("readCsvRecords", () => {
  it("reports the line of a bad byte after many lines", async () => {
    const lines = Array.from({ length: 1000 }, (_, i) => `${i},x`);
    const buf = Buffer.from(lines.join("\n") + "\n");
    buf[buf.indexOf("700,x") + 4] = 0xff;
    const error = await readCsvRecords(tempFile(buf), () => {}, { chunkBytes: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CsvReadError);
    expect(error).toMatchObject({ kind: "encoding", line: 701 });
  });

  it("reports an unreadable file as an io error", async () => {
    await expect(readCsvRecords("/nonexistent/x.csv", () => {})).rejects.toMatchObject({ kind: "io" });
  });

  it("reads a file smaller than a BOM", async () => {
    const seen: string[][] = [];
    await readCsvRecords(tempFile("a"), (fields) => void seen.push(fields));
    expect(seen).toEqual([["a"]]);
  });
});
