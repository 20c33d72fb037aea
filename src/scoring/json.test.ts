import { describe, expect, it } from "vitest";
import { JsonReadError, readJsonArray, readJsonLines, type JsonReadOptions } from "./json.js";
import { tempFile } from "./test-support/files.js";

type Reader = typeof readJsonLines;

async function records(read: Reader, text: string | Uint8Array, options?: JsonReadOptions) {
  const out: [unknown, number][] = [];
  const summary = await read(
    tempFile(text, "x.json"),
    (value, line) => void out.push([value, line]),
    options,
  );
  return { out, summary };
}

async function error(
  read: Reader,
  text: string | Uint8Array,
  options?: JsonReadOptions,
): Promise<JsonReadError> {
  const failure = await records(read, text, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(failure).toBeInstanceOf(JsonReadError);
  return failure as JsonReadError;
}

describe("readJsonLines", () => {
  it("reads one value per line with its line, skipping blank lines, CRLF, a BOM and no final newline", async () => {
    const { out, summary } = await records(readJsonLines, '\uFEFF{"a":1}\r\n\n  \n{"a":"é"}\n[1]');
    expect(out).toEqual([
      [{ a: 1 }, 1],
      [{ a: "é" }, 4],
      [[1], 5],
    ]);
    expect(summary).toMatchObject({ records: 3, stopped: false, nonEmpty: true });
  });

  it("reads lines split across tiny chunks", async () => {
    const text = Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: `r${i}`, v: "ü".repeat(i) })).join(
      "\n",
    );
    const { out } = await records(readJsonLines, text, { chunkBytes: 7 });
    expect(out).toHaveLength(50);
    expect(out[49]).toEqual([{ id: "r49", v: "ü".repeat(49) }, 50]);
  });

  it("names the line of a syntax error, bad UTF-8 and an over-long line", async () => {
    expect(await error(readJsonLines, '{"a":1}\n{"a":}\n')).toMatchObject({ kind: "syntax", line: 2 });
    expect(await error(readJsonLines, Buffer.from('{"a":1}\n\n{"a":"\xe9"}\n', "latin1"))).toMatchObject({
      kind: "encoding",
      line: 3,
    });
    expect(
      await error(readJsonLines, `{"a":1}\n{"a":"${"x".repeat(200)}"}\n`, {
        maxRecordBytes: 100,
        chunkBytes: 16,
      }),
    ).toMatchObject({ kind: "too_large", line: 2 });
  });

  it("an empty file is not an error", async () => {
    expect((await records(readJsonLines, "\n \n")).summary).toMatchObject({ records: 0, nonEmpty: false });
  });
});

describe("readJsonArray", () => {
  it("reads each element of the top-level array with the line it starts on, in tiny chunks too", async () => {
    const text =
      '\uFEFF[\n  {"id": "a", "s": "x]\\"}{,"},\n  {"id": "b",\n   "n": [1, {"k": 2}]}, 3, "s", null\n]\n';
    for (const chunkBytes of [1, 5, 1 << 20]) {
      const { out, summary } = await records(readJsonArray, text, { chunkBytes });
      expect(out).toEqual([
        [{ id: "a", s: 'x]"}{,' }, 2],
        [{ id: "b", n: [1, { k: 2 }] }, 3],
        [3, 4],
        ["s", 4],
        [null, 4],
      ]);
      expect(summary).toMatchObject({ records: 5, nonEmpty: true });
    }
  });

  it("reads an empty array and an empty file", async () => {
    expect((await records(readJsonArray, " [ ] ")).summary).toMatchObject({ records: 0, nonEmpty: true });
    expect((await records(readJsonArray, "")).summary).toMatchObject({ records: 0, nonEmpty: false });
  });

  it.each([
    ['{"id": "a"}', 1, "one JSON array"],
    ['[{"id": "a"} {"id": "b"}]', 1, 'expected "," or "]"'],
    ['[{"id": "a"},\n]', 2, "expected a record"],
    ['[{"id": "a"},,{}]', 1, "expected a record"],
    ['[{"id": "a"}]\n[]', 2, 'after the closing "]"'],
    ['[{"id": "a"},\n{"id": "b"', 2, 'ends before the closing "]"'],
    ['[\n{"id": "a", "x": NaN}]', 2, ""],
    ["[\n\n1.5.2]", 3, ""],
  ])("refuses %j at line %i", async (text, line, says) => {
    const failure = await error(readJsonArray, text);
    expect(failure).toMatchObject({ kind: "syntax", line });
    expect(failure.message).toContain(says);
  });

  it("refuses an element over the record cap, naming where it starts", async () => {
    const text = `[{"a": 1},\n {"a": "${"x".repeat(500)}"}]`;
    expect(await error(readJsonArray, text, { maxRecordBytes: 100, chunkBytes: 64 })).toMatchObject({
      kind: "too_large",
      line: 2,
    });
  });

  it("refuses bytes that are not UTF-8 in an element", async () => {
    const failure = await error(readJsonArray, Buffer.from('[\n{"a": "\xff"}]', "latin1"));
    expect(failure).toMatchObject({ kind: "encoding", line: 2 });
  });

  it("stops when the handler says so", async () => {
    let seen = 0;
    const summary = await readJsonArray(tempFile("[1, 2, 3]", "x.json"), () => ++seen < 2);
    expect(summary).toMatchObject({ records: 2, stopped: true });
  });
});
