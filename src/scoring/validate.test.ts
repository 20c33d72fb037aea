import { describe, expect, it } from "vitest";
import { readCsvRecords } from "./csv.js";
import { parseSubmissionFormat } from "./format.js";
import { formatProblem, type Problem, type ValidationFailure, type ValidationResult } from "./problems.js";
import { IdIndex, canonicalId, validatePredictions } from "./validate.js";
import { tempFile } from "./test-support/files.js";

const FORMAT = parseSubmissionFormat(
  [
    "id_column: id",
    "columns:",
    "  - {name: id, type: string}",
    "  - {name: species, type: category, categories: [adelie, chinstrap, gentoo]}",
    "  - {name: p, type: probability}",
    "  - {name: n, type: integer}",
    "  - {name: x, type: float}",
  ].join("\n"),
  "format.yml",
);
const HEADER = "id,species,p,n,x";
const IDS = ["a", "b", "c"];
const GOOD = [HEADER, "a,adelie,0.5,1,1.5", "b,gentoo,0,-2,1e-3", "c,chinstrap,1,+3,-.5"];

async function check(text: string | Uint8Array, ids: Iterable<string> = IDS): Promise<ValidationResult> {
  return validatePredictions(tempFile(text), FORMAT, ids);
}

async function failure(text: string | Uint8Array, ids: Iterable<string> = IDS): Promise<ValidationFailure> {
  const result = await check(text, ids);
  if (result.ok) throw new Error("expected the file to be refused");
  expect(result.status).toBe("output_invalid");
  for (const problem of result.problems) {
    expect(problem.file).toBe("submission.csv");
    expect(problem.fix.length).toBeGreaterThan(0);
  }
  return result;
}

function only(result: ValidationFailure): Problem {
  expect(result.problems).toHaveLength(1);
  return result.problems[0]!;
}

const rows = (...lines: string[]): string => lines.join("\n") + "\n";

describe("validatePredictions: happy paths", () => {
  it("accepts a valid file and counts its rows", async () => {
    expect(await check(rows(...GOOD))).toEqual({ ok: true, rows: 3 });
  });

  it("accepts rows in any order, CRLF line ends, a BOM, no final newline, blank lines", async () => {
    expect(
      await check(GOOD[0] + "\r\n" + GOOD[3] + "\r\n" + GOOD[1] + "\r\n" + GOOD[2] + "\r\n"),
    ).toMatchObject({
      ok: true,
    });
    expect(await check("\uFEFF" + rows(...GOOD))).toMatchObject({ ok: true, rows: 3 });
    expect(await check(GOOD.join("\n"))).toMatchObject({ ok: true });
    expect(await check(rows(GOOD[0]!, GOOD[1]!, "", GOOD[2]!, GOOD[3]!, ""))).toMatchObject({ ok: true });
  });

  it("accepts quoted fields and non-ASCII ids", async () => {
    const text = rows(HEADER, '"a,1",adelie,0.5,1,1', "b,gentoo,0,2,2", "é漢,adelie,1,3,3");
    expect(await check(text, ["a,1", "b", "é漢"])).toMatchObject({ ok: true });
  });

  it("takes an IdIndex and integer ids compare by value", async () => {
    const format = parseSubmissionFormat(
      "id_column: id\ncolumns:\n  - {name: id, type: integer}\n  - {name: y, type: float}\n",
      "f.yml",
    );
    const ids = IdIndex.from(["1", "2", "10"], "integer");
    const result = await validatePredictions(tempFile(rows("id,y", "001,1", "+2,2", "10,3")), format, ids);
    expect(result).toMatchObject({ ok: true, rows: 3 });
    expect(canonicalId("-0", "integer")).toBe("0");
  });

  it("names the file by displayName", async () => {
    const result = await validatePredictions(tempFile(""), FORMAT, IDS, { displayName: "out/preds.csv" });
    expect(result.ok).toBe(false);
    expect((result as ValidationFailure).problems[0]!.file).toBe("out/preds.csv");
  });
});

describe("validatePredictions: header", () => {
  it("refuses columns in the wrong order", async () => {
    const problem = only(await failure(rows("id,p,species,n,x", "a,0.5,adelie,1,1")));
    expect(problem).toMatchObject({ rule: "header", line: 1, column: null });
    expect(problem.message).toBe("the columns are in the wrong order: got id,p,species,n,x");
    expect(problem.fix).toBe(`make the first line exactly: ${HEADER}`);
  });

  it("refuses a missing column, naming a near miss", async () => {
    const result = await failure(rows("id,Species,p,n,x", "a,adelie,0.5,1,1"));
    const messages = result.problems.map((p) => p.message);
    expect(messages).toContain(
      'column "species" is missing (the header has "Species"; spelling, case and spaces matter)',
    );
    expect(messages).toContain('unexpected column "Species"; the format has no such column');
  });

  it("refuses a missing column", async () => {
    const problem = only(await failure(rows("id,species,p,n", "a,adelie,0.5,1")));
    expect(problem).toMatchObject({ rule: "header", column: "x", message: 'column "x" is missing' });
  });

  it("refuses an extra column", async () => {
    const problem = only(await failure(rows(HEADER + ",extra", "a,adelie,0.5,1,1,2")));
    expect(problem).toMatchObject({ rule: "header", column: "extra" });
  });

  it("refuses a duplicated column", async () => {
    const result = await failure(rows(HEADER + ",x", "a,adelie,0.5,1,1,2"));
    expect(result.problems[0]!.message).toBe('column "x" appears 2 times in the header');
  });

  it("says when the header line is absent", async () => {
    const problem = only(await failure(rows(GOOD[1]!, GOOD[2]!, GOOD[3]!)));
    expect(problem.message).toMatch(/is not the header/);
    expect(problem.fix).toBe(`add the header line before the data: ${HEADER}`);
  });

  it("refuses an empty file and a header-only file", async () => {
    expect(only(await failure(""))).toMatchObject({ rule: "empty_file", line: null });
    expect(only(await failure("\uFEFF"))).toMatchObject({ rule: "empty_file" });
    expect(only(await failure("\n\n"))).toMatchObject({ rule: "empty_file" });
    const headerOnly = only(await failure(HEADER + "\n"));
    expect(headerOnly).toMatchObject({ rule: "no_rows" });
    expect(headerOnly.message).toMatch(/3 ids are expected/);
  });
});

describe("validatePredictions: ids", () => {
  it("reports missing, extra and duplicate ids with lines", async () => {
    const result = await failure(rows(HEADER, "a,adelie,0.5,1,1", "zz,adelie,0.5,1,1", "a,gentoo,0.5,1,1"));
    expect(result.counts).toEqual({ missing_id: 2, extra_id: 1, duplicate_id: 1 });
    const byRule = Object.fromEntries(result.problems.map((p) => [p.rule, p]));
    expect(byRule.extra_id).toMatchObject({
      line: 3,
      column: "id",
      message: 'id "zz" is not one of the expected ids',
    });
    expect(byRule.duplicate_id).toMatchObject({ line: 4, message: 'id "a" was already on line 2' });
    expect(result.problems.filter((p) => p.rule === "missing_id").map((p) => p.message)).toEqual([
      'id "b" has no row',
      'id "c" has no row',
    ]);
    expect(byRule.missing_id!.line).toBeNull();
  });

  it("shows the first five of each rule and counts them all", async () => {
    const ids = Array.from({ length: 100 }, (_, i) => `id${i}`);
    const lines = [HEADER];
    for (let i = 0; i < 40; i++) lines.push(`id${i},adelie,0.5,1,1`);
    for (let i = 0; i < 12; i++) lines.push(`id${i},adelie,0.5,1,1`);
    for (let i = 0; i < 7; i++) lines.push(`other${i},adelie,0.5,1,1`);
    const result = await failure(rows(...lines), ids);
    expect(result.counts).toEqual({ missing_id: 60, duplicate_id: 12, extra_id: 7 });
    expect(result.problems.filter((p) => p.rule === "missing_id")).toHaveLength(5);
    expect(result.problems.filter((p) => p.rule === "duplicate_id").map((p) => p.line)).toEqual([
      42, 43, 44, 45, 46,
    ]);
    expect(result.problems.filter((p) => p.rule === "extra_id")).toHaveLength(5);
    expect(result.summary).toContain("submission.csv does not follow the submission format: 79 problems");
    expect(result.summary).toContain("60 missing ids (first 5 shown)");
    expect(result.summary).toContain("12 duplicate ids (first 5 shown)");
    expect(result.summary).toContain("7 unexpected ids (first 5 shown)");
    expect(result.summary).toContain(
      'submission.csv:42: column "id": id "id0" was already on line 2 [duplicate_id]',
    );
  });

  it("reports an empty id as an empty cell", async () => {
    const result = await failure(rows(HEADER, ",adelie,0.5,1,1", GOOD[1]!, GOOD[2]!, GOOD[3]!));
    expect(only(result)).toMatchObject({ rule: "empty_cell", line: 2, column: "id" });
  });
});

describe("validatePredictions: cells", () => {
  const withRow = (bad: string): string => rows(HEADER, bad, GOOD[2]!, GOOD[3]!);

  const cases: [string, string, string, string | RegExp][] = [
    ["a,adelie,0.5,1.0,1", "integer", "n", '"1.0" is not an integer'],
    ["a,adelie,0.5,x,1", "integer", "n", '"x" is not an integer'],
    ["a,adelie,0.5,1,abc", "float", "x", '"abc" is not a number'],
    ["a,adelie,0.5,1,0x10", "float", "x", '"0x10" is not a number'],
    ["a,adelie,0.5,1, 1", "float", "x", '" 1" is not a number'],
    ["a,adelie,1.2,1,1", "probability", "p", '"1.2" is outside [0, 1]'],
    ["a,adelie,-0.1,1,1", "probability", "p", '"-0.1" is outside [0, 1]'],
    ["a,adelie,p,1,1", "float", "p", '"p" is not a number'],
    [
      "a,Adelie,0.5,1,1",
      "category",
      "species",
      '"Adelie" is not one of the categories (did you mean "adelie"?)',
    ],
    ["a,emperor,0.5,1,1", "category", "species", '"emperor" is not one of the categories'],
    ["a,adelie,0.5,1,NaN", "nan", "x", '"NaN" is a missing value (NaN)'],
    ["a,adelie,nan,1,1", "nan", "p", '"nan" is a missing value (NaN)'],
    ["a,adelie,0.5,NA,1", "nan", "n", '"NA" is a missing value (NaN)'],
    ["a,adelie,0.5,1,inf", "infinite", "x", '"inf" is infinite'],
    ["a,adelie,0.5,1,-Infinity", "infinite", "x", '"-Infinity" is infinite'],
    ["a,adelie,0.5,1,1e999", "infinite", "x", '"1e999" is infinite'],
    ["a,adelie,0.5,1,", "empty_cell", "x", "the cell is empty"],
    ["a,,0.5,1,1", "empty_cell", "species", "the cell is empty"],
  ];
  for (const [row, rule, column, message] of cases) {
    it(`refuses ${JSON.stringify(row)} as ${rule}`, async () => {
      const problem = only(await failure(withRow(row)));
      expect(problem).toMatchObject({ rule, column, line: 2 });
      expect(problem.message).toEqual(message);
    });
  }

  it("gives the category list in the fix", async () => {
    const problem = only(await failure(withRow("a,emperor,0.5,1,1")));
    expect(problem.fix).toBe("write exactly one of: adelie, chinstrap, gentoo");
    expect(formatProblem(problem)).toBe(
      'submission.csv:2: column "species": "emperor" is not one of the categories [category]. Fix: write exactly one of: adelie, chinstrap, gentoo',
    );
  });

  it("checks every cell of every row", async () => {
    const result = await failure(rows(HEADER, "a,x,2,y,z", "b,x,2,y,z", "c,adelie,0,1,1"));
    expect(result.counts).toEqual({ category: 2, probability: 2, integer: 2, float: 2 });
  });

  it("refuses a ragged row with its line, without cascading id problems", async () => {
    const result = await failure(rows(HEADER, GOOD[1]!, "b,gentoo,0,-2", GOOD[3]! + ",9"));
    expect(result.counts).toEqual({ ragged_row: 2 });
    expect(result.problems.map((p) => [p.line, p.message])).toEqual([
      [3, "the row has 4 fields, the header has 5"],
      [4, "the row has 6 fields, the header has 5"],
    ]);
  });
});

describe("validatePredictions: bytes", () => {
  it("refuses invalid UTF-8 with its line", async () => {
    const text = Buffer.concat([
      Buffer.from(rows(HEADER, GOOD[1]!, GOOD[2]!)),
      Buffer.from("c,chinstrap,1,3,"),
      Buffer.from([0xe9]), // Latin-1 é
      Buffer.from("\n"),
    ]);
    const problem = only(await failure(text));
    expect(problem).toMatchObject({ rule: "encoding", line: 4 });
    expect(problem.message).toMatch(/not valid UTF-8/);
    expect(problem.fix).toMatch(/UTF-8/);
  });

  it("refuses UTF-16", async () => {
    const problem = only(await failure(Buffer.from("\uFEFF" + rows(...GOOD), "utf16le")));
    expect(problem).toMatchObject({ rule: "encoding", line: 1 });
  });

  it("reports a CSV syntax error (unclosed quote) with a line", async () => {
    const problem = only(await failure(rows(HEADER, GOOD[1]!, '"b,gentoo,0,1,1', GOOD[3]!)));
    expect(problem.rule).toBe("csv_syntax");
    expect(problem.line).toBeGreaterThanOrEqual(3);
  });

  it("reads UTF-8 split across chunk boundaries and finds bad bytes in later chunks", async () => {
    const lines = ["id,y"];
    const ids: string[] = [];
    for (let i = 0; i < 500; i++) {
      ids.push(`é${i}漢😀`);
      lines.push(`é${i}漢😀,${i}`);
    }
    const path = tempFile(rows(...lines));
    const format = parseSubmissionFormat(
      "id_column: id\ncolumns:\n  - {name: id, type: string}\n  - {name: y, type: float}\n",
      "f.yml",
    );
    for (const chunkBytes of [1, 2, 3, 5, 7, 64]) {
      expect(await validatePredictions(path, format, ids, { chunkBytes })).toEqual({ ok: true, rows: 500 });
    }
    const bad = Buffer.from(rows(...lines));
    bad[bad.length - 3] = 0xff; // in the last line
    const result = await validatePredictions(tempFile(bad), format, ids, { chunkBytes: 7 });
    expect(result).toMatchObject({ ok: false, problems: [{ rule: "encoding", line: 501 }] });
  });

  it("gives the same records and lines through csv-parse's stream API", async () => {
    const path = tempFile("\uFEFF" + 'a,b\r\n1,2\r\n\r\n"x\ny",3\r\n4,5,6\r\n');
    const seen: Record<string, [string[], number][]> = { core: [], stream: [] };
    for (const engine of ["core", "stream"] as const) {
      await readCsvRecords(path, (fields, line) => void seen[engine]!.push([fields, line]), { engine });
    }
    expect(seen.stream).toEqual(seen.core);
    expect(seen.core!.map(([fields]) => fields)).toEqual([
      ["a", "b"],
      ["1", "2"],
      ["x\ny", "3"],
      ["4", "5", "6"],
    ]);
    expect(seen.core![1]![1]).toBe(2);
  });

  it("stops when the handler says so, on both engines", async () => {
    const path = tempFile(rows("a", "1", "2", "3"));
    for (const engine of ["core", "stream"] as const) {
      let count = 0;
      const summary = await readCsvRecords(path, () => ++count < 2, { engine });
      expect(summary).toMatchObject({ records: 2, stopped: true });
    }
  });

  it("throws for an unreadable file (that is output_missing, not a format problem)", async () => {
    await expect(validatePredictions("/nonexistent/submission.csv", FORMAT, IDS)).rejects.toThrow(
      /cannot be read/,
    );
  });
});
