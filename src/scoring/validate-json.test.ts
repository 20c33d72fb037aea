import { describe, expect, it } from "vitest";
import { scorerPredictionsPath } from "./custom.js";
import { OutputInvalidError } from "./errors.js";
import { parseSubmissionFormat, predictionsEncoding, type SubmissionFormat } from "./format.js";
import { formatProblem, type ValidationFailure, type ValidationResult } from "./problems.js";
import { scorePredictions } from "./score.js";
import { tempFile } from "./test-support/files.js";
import { validatePredictions } from "./validate.js";

const format = (file: string): SubmissionFormat =>
  parseSubmissionFormat(
    [
      `file: ${file}`,
      "id_column: id",
      "columns:",
      "  - {name: id, type: string}",
      "  - {name: species, type: category, categories: [adelie, chinstrap, gentoo]}",
      "  - {name: p, type: probability}",
      "  - {name: n, type: integer}",
    ].join("\n"),
    "format.yml",
  );
const JSONL = format("submission.jsonl");
const JSON_ARRAY = format("results.json");
const IDS = ["a", "b", "c"];
const GOOD = [
  { id: "a", species: "adelie", p: 0.5, n: 1 },
  { id: "b", species: "gentoo", p: 0, n: -2 },
  { id: "c", species: "chinstrap", p: 1, n: 3 },
];
const lines = (...records: unknown[]): string => records.map((r) => JSON.stringify(r)).join("\n") + "\n";

async function check(f: SubmissionFormat, text: string): Promise<ValidationResult> {
  return validatePredictions(tempFile(text, f.file), f, IDS);
}

async function failure(f: SubmissionFormat, text: string): Promise<ValidationFailure> {
  const result = await check(f, text);
  if (result.ok) throw new Error("expected the file to be refused");
  for (const problem of result.problems) {
    expect(problem.file).toBe(f.file);
    expect(problem.fix.length).toBeGreaterThan(0);
  }
  return result;
}

describe("predictionsEncoding", () => {
  it("follows the file's name; anything else stays CSV", () => {
    expect(predictionsEncoding({ file: "submission.jsonl" })).toBe("jsonl");
    expect(predictionsEncoding({ file: "out.NDJSON" })).toBe("jsonl");
    expect(predictionsEncoding({ file: "results.json" })).toBe("json");
    expect(predictionsEncoding({ file: "submission.csv" })).toBe("csv");
    expect(predictionsEncoding({ file: "predictions.txt" })).toBe("csv");
  });

  it("gives a custom scorer the predictions under the matching name", () => {
    expect(scorerPredictionsPath({ file: "submission.csv" })).toBe("/scoring/predictions.csv");
    expect(scorerPredictionsPath({ file: "submission.jsonl" })).toBe("/scoring/predictions.jsonl");
    expect(scorerPredictionsPath({ file: "results.json" })).toBe("/scoring/predictions.json");
  });
});

describe("JSON Lines predictions", () => {
  it("accepts one object per id, in any order, and counts the records", async () => {
    expect(await check(JSONL, lines(GOOD[2], GOOD[0], GOOD[1]))).toEqual({ ok: true, rows: 3 });
  });

  it("numbers for numeric keys, strings for the others: each wrong type named by line and key", async () => {
    const result = await failure(
      JSONL,
      lines(GOOD[0], { ...GOOD[1], p: "0.5" }, { ...GOOD[2], species: 2, n: null, id: "c" }),
    );
    expect(result.counts).toEqual({ json_type: 1, category: 1, nan: 1 });
    const byRule = new Map(result.problems.map((p) => [p.rule, p]));
    expect(byRule.get("json_type")).toMatchObject({
      line: 2,
      column: "p",
      message: '"0.5" is not a JSON number',
    });
    expect(byRule.get("json_type")!.fix).toContain("without quotes");
    expect(byRule.get("category")).toMatchObject({ line: 3, column: "species" });
    expect(byRule.get("nan")).toMatchObject({ line: 3, column: "n", message: "null is a missing value" });
    expect(formatProblem(byRule.get("json_type")!)).toBe(
      'submission.jsonl:2: key "p": "0.5" is not a JSON number [json_type]. Fix: write the number without quotes, e.g. 0.25 not "0.25"',
    );
  });

  it("missing, unexpected and misspelt keys; a record that is not an object", async () => {
    const { id, species, p } = GOOD[1]!;
    const result = await failure(
      JSONL,
      lines(GOOD[0], { id, species, p, N: 1 }, [GOOD[2]!.id], { ...GOOD[2], extra: true }),
    );
    expect(result.counts).toEqual({
      missing_key: 1,
      unexpected_key: 2,
      not_an_object: 1,
    });
    const problems = result.problems.map((p) => [p.rule, p.line, p.column]);
    expect(problems).toEqual(
      expect.arrayContaining([
        ["unexpected_key", 2, "N"],
        ["missing_key", 2, "n"],
        ["not_an_object", 3, null],
        ["unexpected_key", 4, "extra"],
      ]),
    );
    expect(result.problems.find((p) => p.column === "N")!.message).toContain('did you mean "n"?');
  });

  it("the same id checks as CSV: unknown, duplicate and missing ids", async () => {
    const result = await failure(JSONL, lines(GOOD[0], GOOD[0], { ...GOOD[1], id: "zz" }));
    expect(result.counts).toEqual({ duplicate_id: 1, extra_id: 1, missing_id: 2 });
    expect(result.problems.find((p) => p.rule === "duplicate_id")).toMatchObject({
      line: 2,
      message: 'id "a" was already on line 1',
    });
  });

  it("the same value checks as CSV: probabilities in [0, 1], whole numbers", async () => {
    const result = await failure(JSONL, lines({ ...GOOD[0], p: 1.5 }, { ...GOOD[1], n: 2.5 }, GOOD[2]));
    expect(result.counts).toEqual({ probability: 1, integer: 1 });
  });

  it("a syntax error, an empty file and a file of blank lines", async () => {
    const syntax = await failure(JSONL, `${JSON.stringify(GOOD[0])}\n{"id": "b",\n`);
    expect(syntax.problems).toEqual([expect.objectContaining({ rule: "json_syntax", line: 2 })]);
    expect(syntax.problems[0]!.fix).toContain('{"id":"...","species":"adelie","p":0.5,"n":1}');
    expect((await failure(JSONL, "")).counts).toEqual({ empty_file: 1 });
    expect((await failure(JSONL, "\n\n")).counts).toEqual({ empty_file: 1 });
  });
});

describe("JSON ids and labels", () => {
  const numeric = parseSubmissionFormat(
    "file: submission.jsonl\nid_column: case\ncolumns:\n  - {name: case, type: integer}\n  - {name: label, type: category, categories: [0, 1]}\n",
    "format.yml",
  );

  it("integer ids and whole-number categories are JSON numbers (or, for categories, their text)", async () => {
    const path = tempFile(lines({ case: 1, label: 0 }, { case: 2, label: "1" }), numeric.file);
    expect(await validatePredictions(path, numeric, ["1", "2"])).toEqual({ ok: true, rows: 2 });
  });

  it("an integer id written as text is the wrong JSON type; an id of another type is named", async () => {
    const path = tempFile(lines({ case: "1", label: 0 }, { case: 2.5, label: 1 }), numeric.file);
    const result = await validatePredictions(path, numeric, ["1", "2"]);
    expect(result).toMatchObject({ ok: false, counts: { json_type: 1, integer: 1, missing_id: 2 } });
  });
});

describe("a JSON array of predictions (results.json)", () => {
  it("accepts an array of objects, pretty-printed or not", async () => {
    expect(await check(JSON_ARRAY, JSON.stringify(GOOD, null, 2))).toEqual({ ok: true, rows: 3 });
    expect(await check(JSON_ARRAY, JSON.stringify(GOOD))).toEqual({ ok: true, rows: 3 });
  });

  it("names the line each bad record starts on", async () => {
    const text = `[\n${JSON.stringify(GOOD[0])},\n${JSON.stringify({ ...GOOD[1], species: "Gentoo" }, null, 2)},\n${JSON.stringify(GOOD[2])}\n]`;
    const result = await failure(JSON_ARRAY, text);
    expect(result.problems).toEqual([
      expect.objectContaining({ rule: "category", line: 3, column: "species", keyed: true }),
    ]);
    expect(result.problems[0]!.message).toContain('did you mean "gentoo"?');
  });

  it("an object instead of an array, an empty array, a truncated file", async () => {
    const object = await failure(JSON_ARRAY, JSON.stringify({ predictions: GOOD }));
    expect(object.problems).toEqual([expect.objectContaining({ rule: "json_syntax", line: 1 })]);
    expect(object.problems[0]!.fix).toContain('[{"id":"...","species":"adelie","p":0.5,"n":1}, ...]');
    const empty = await failure(JSON_ARRAY, "[]");
    expect(empty.problems).toEqual([
      expect.objectContaining({ rule: "no_rows", message: "the array is empty; 3 ids are expected" }),
    ]);
    const truncated = await failure(JSON_ARRAY, JSON.stringify(GOOD).slice(0, -10));
    expect(truncated.counts).toEqual({ json_syntax: 1 });
  });

  it("a record over the size cap", async () => {
    const big = [GOOD[0], { ...GOOD[1], note: "x".repeat(2000) }, GOOD[2]];
    const result = await validatePredictions(tempFile(JSON.stringify(big), "results.json"), JSON_ARRAY, IDS, {
      maxRecordBytes: 1000,
    });
    expect(result).toMatchObject({ ok: false, counts: { record_too_large: 1 } });
  });
});

describe("scoring JSON predictions", () => {
  const truth = tempFile("id,species\na,adelie\nb,gentoo\nc,gentoo\n", "truth.csv");

  it("scores JSON Lines and a JSON array exactly as the same CSV", async () => {
    const csvFormat = format("submission.csv");
    const csv = tempFile("id,species,p,n\na,adelie,0.5,1\nb,gentoo,0,-2\nc,chinstrap,1,3\n");
    const expected = await scorePredictions({
      groundTruthPath: truth,
      predictionsPath: csv,
      format: csvFormat,
      metric: "accuracy",
    });
    expect(expected.overall).toBeCloseTo(2 / 3);
    for (const [f, text] of [
      [JSONL, lines(...GOOD)],
      [JSON_ARRAY, JSON.stringify(GOOD)],
    ] as const) {
      const result = await scorePredictions({
        groundTruthPath: truth,
        predictionsPath: tempFile(text, f.file),
        format: f,
        metric: "accuracy",
      });
      expect(result.overall).toBe(expected.overall);
      expect(result.rows).toBe(3);
    }
  });

  it("refuses invalid JSON predictions as output_invalid", async () => {
    const error = await scorePredictions({
      groundTruthPath: truth,
      predictionsPath: tempFile(lines(GOOD[0]), JSONL.file),
      format: JSONL,
      metric: "accuracy",
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutputInvalidError);
    expect((error as OutputInvalidError).failure.counts).toEqual({ missing_id: 2 });
  });
});
