import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { YamlConfigError, type YamlIssue } from "../yaml/index.js";
import { expectedHeader, loadSubmissionFormat, parseSubmissionFormat } from "./format.js";

const SOURCE = "submission_format/format.yml";

function located(text: string): YamlIssue[] {
  try {
    parseSubmissionFormat(text, SOURCE);
  } catch (error) {
    expect(error).toBeInstanceOf(YamlConfigError);
    const formatError = error as YamlConfigError;
    expect(formatError.file).toBe(SOURCE);
    expect(formatError.message).toContain(SOURCE);
    return formatError.issues;
  }
  throw new Error("expected a YamlConfigError");
}

/** The issues' keys and messages (where they are: `located`). */
const issuesOf = (text: string) => located(text).map(({ key, message }) => ({ key, message }));

describe("parseSubmissionFormat", () => {
  it("loads the example format", async () => {
    const format = await loadSubmissionFormat(new URL("./fixtures/format.yml", import.meta.url).pathname);
    expect(format.file).toBe("submission.csv");
    expect(format.idColumn).toBe("id");
    expect(format.columns.map((c) => c.name)).toEqual([
      "id",
      "species",
      "p_adelie",
      "p_chinstrap",
      "p_gentoo",
    ]);
    expect(format.columns[1]).toMatchObject({
      type: "category",
      categories: ["adelie", "chinstrap", "gentoo"],
    });
    expect(format.columns[2]).toMatchObject({ type: "probability", class: "adelie" });
    expect(expectedHeader(format)).toBe("id,species,p_adelie,p_chinstrap,p_gentoo");
  });

  it("defaults the file name and turns whole-number categories into labels", () => {
    const format = parseSubmissionFormat(
      "id_column: id\ncolumns:\n  - {name: id, type: integer}\n  - {name: y, type: category, categories: [0, 1]}\n",
      SOURCE,
    );
    expect(format.file).toBe("submission.csv");
    expect(format.columns[1]!.categories).toEqual(["0", "1"]);
    expect(format.source).toBe(SOURCE);
  });

  it("quotes header names that need it", () => {
    const format = parseSubmissionFormat(
      'id_column: id\ncolumns:\n  - {name: id, type: string}\n  - {name: "a,b", type: float}\n',
      SOURCE,
    );
    expect(expectedHeader(format)).toBe('id,"a,b"');
  });

  it("reports invalid YAML with its line", () => {
    const [issue] = located("id_column: id\ncolumns: [\n  - a: b\n");
    expect(issue!.line).toEqual(expect.any(Number));
    expect(issue!.column).toEqual(expect.any(Number));
    expect(issue!.rule).toBe("yaml_syntax");
    expect(issue!.message).toMatch(/not valid YAML/);
  });

  it("refuses an empty file and a non-mapping", () => {
    expect(issuesOf("")).toEqual([{ key: "id_column", message: "is required; add id_column: …" }]);
    expect(issuesOf("id_column: id\n")).toEqual([
      {
        key: "columns",
        message: "is required; add columns: … (a table), or files: … (a folder of files, one per id)",
      },
    ]);
    expect(issuesOf("- a\n- b\n")[0]!.message).toMatch(/must be a mapping, got a list/);
  });

  it("names missing keys", () => {
    const issues = issuesOf("columns:\n  - {name: id, type: string}\n  - {name: y, type: float}\n");
    expect(issues).toEqual([{ key: "id_column", message: "is required; add id_column: …" }]);
  });

  it("locates each issue at its line, semantic ones too", () => {
    const issues = located(
      "id_column: id\ncolumns:\n  - name: id\n    type: string\n  - name: y\n    type: float\n    class: a\n",
    );
    expect(issues.map(({ key, line }) => ({ key, line }))).toEqual([{ key: "columns[1].class", line: 7 }]);
    expect(String(new YamlConfigError(SOURCE, issues).message)).toContain(
      `${SOURCE}:7:5: columns[1].class only probability columns take a class`,
    );
  });

  it("names unknown keys with the allowed ones", () => {
    const issues = issuesOf(
      "id_column: id\nmetric: f1\ncolumns:\n  - {name: id, type: string, width: 3}\n  - {name: y, type: float}\n",
    );
    expect(issues.map((i) => i.key).sort()).toEqual(["columns[0].width", "metric"]);
    expect(issues.find((i) => i.key === "metric")!.message).toMatch(
      /known keys here: file, id_column, columns/,
    );
    expect(issues.find((i) => i.key === "columns[0].width")!.message).toMatch(
      /known keys here: name, type, categories/,
    );
  });

  it("names a bad type with the allowed types", () => {
    const issues = issuesOf(
      "id_column: id\ncolumns:\n  - {name: id, type: string}\n  - {name: y, type: double}\n",
    );
    expect(issues).toEqual([
      {
        key: "columns[1].type",
        message:
          'must be one of "string", "integer", "float", "probability", "category", got string "double"',
      },
    ]);
  });

  it("needs at least two columns", () => {
    const issues = issuesOf("id_column: id\ncolumns:\n  - {name: id, type: string}\n");
    expect(issues[0]).toMatchObject({ key: "columns" });
    expect(issues[0]!.message).toMatch(/at least 2 columns/);
  });

  it("refuses a wrongly typed value", () => {
    const issues = issuesOf("id_column: id\ncolumns: {name: id}\n");
    expect(issues[0]).toEqual({ key: "columns", message: "must be a list, got a mapping" });
  });

  it("refuses a file name with a path", () => {
    const issues = issuesOf(
      "file: ../out.csv\nid_column: id\ncolumns:\n  - {name: id, type: string}\n  - {name: y, type: float}\n",
    );
    expect(issues[0]).toMatchObject({ key: "file" });
    expect(issues[0]!.message).toMatch(/plain file name/);
  });

  it("refuses non-label categories", () => {
    const issues = issuesOf(
      "id_column: id\ncolumns:\n  - {name: id, type: string}\n  - {name: y, type: category, categories: [a, 1.5, true]}\n",
    );
    expect(issues.map((i) => i.key)).toEqual(["columns[1].categories[1]", "columns[1].categories[2]"]);
    expect(issues[0]!.message).toMatch(/quote other values/);
  });

  it("checks the rules between keys", () => {
    const issues = issuesOf(
      [
        "id_column: key",
        "columns:",
        "  - {name: id, type: float}",
        "  - {name: y, type: category}",
        "  - {name: y, type: float, categories: [a]}",
        "  - {name: z, type: category, categories: [a, a]}",
        "  - {name: q, type: float, class: a}",
      ].join("\n"),
    );
    const keys = issues.map((i) => i.key);
    expect(keys).toEqual([
      "columns[1]",
      "columns[2].name",
      "columns[2].categories",
      "columns[3].categories[1]",
      "columns[4].class",
      "id_column",
    ]);
    expect(issues[0]!.message).toMatch(/no categories; add categories/);
    expect(issues[1]!.message).toMatch(/already the name of columns\[1\]/);
    expect(issues[5]!.message).toMatch(/"key" is not one of the columns \(id, y, y, z, q\)/);
  });

  it("requires a string or integer id column", () => {
    const issues = issuesOf(
      "id_column: id\ncolumns:\n  - {name: id, type: float}\n  - {name: y, type: float}\n",
    );
    expect(issues).toEqual([
      { key: "columns[0].type", message: 'the id column "id" must have type string or integer, not float' },
    ]);
  });

  it("checks probability classes against the category column", () => {
    const issues = issuesOf(
      [
        "id_column: id",
        "columns:",
        "  - {name: id, type: string}",
        "  - {name: y, type: category, categories: [a, b]}",
        "  - {name: pa, type: probability, class: a}",
        "  - {name: pc, type: probability, class: c}",
        "  - {name: pa2, type: probability, class: a}",
      ].join("\n"),
    );
    expect(issues.map((i) => i.key)).toEqual(["columns[3].class", "columns[4].class"]);
    expect(issues[0]!.message).toMatch(/not one of the categories of column "y"/);
    expect(issues[1]!.message).toMatch(/already given by columns\[2\]/);
  });
});

describe("a folder format (files:)", () => {
  it("reads the name, the type from its extension, and the size cap", () => {
    const format = parseSubmissionFormat(
      'id_column: chip_id\nfiles:\n  name: "{id}.tif"\n  max_size: 1m\n',
      SOURCE,
    );
    expect(format).toEqual({
      file: "{id}.tif",
      idColumn: "chip_id",
      columns: [],
      files: { name: "{id}.tif", type: "tif", maxBytes: 1024 ** 2 },
      source: SOURCE,
    });
  });

  it.each([
    ["pred_{id}.TIFF", "tif"],
    ["{id}.png", "png"],
    ["{id}.npy", "npy"],
    ["{id}.json", "json"],
    ["{id}.bin", "any"],
    ["{id}", "any"],
  ])("%s is of type %s unless it says otherwise, with no cap", (name, type) => {
    const format = parseSubmissionFormat(`id_column: id\nfiles: { name: "${name}" }\n`, SOURCE);
    expect(format.files).toEqual({ name, type, maxBytes: null });
  });

  it("takes an explicit type where the extension tells none", () => {
    const format = parseSubmissionFormat('id_column: id\nfiles: { name: "{id}.mask", type: png }\n', SOURCE);
    expect(format.files!.type).toBe("png");
  });

  it.each([
    ["a name without {id}", '{ name: "mask.tif" }', "files.name", /must hold \{id\} exactly once/],
    ["{id} twice", '{ name: "{id}_{id}.tif" }', "files.name", /exactly once/],
    ["a path", '{ name: "masks/{id}.tif" }', "files.name", /plain file name without \/ or \\/],
    [
      "an unknown type",
      '{ name: "{id}.tif", type: jpeg }',
      "files.type",
      /must be one of "tif", "png", "npy", "json", "any"/,
    ],
    [
      "a type the extension contradicts",
      '{ name: "{id}.tif", type: png }',
      "files.type",
      /is png, but the name "\{id\}\.tif" ends as a tif file does/,
    ],
    [
      "a size that is not one",
      '{ name: "{id}.tif", max_size: lots }',
      "files.max_size",
      /max_size "lots" is not a positive size; write it like 512m/,
    ],
    [
      "an unknown key",
      '{ name: "{id}.tif", pattern: x }',
      "files.pattern",
      /known keys here: name, type, max_size/,
    ],
  ])("refuses %s", (_what, files, key, message) => {
    const issues = issuesOf(`id_column: id\nfiles: ${files}\n`);
    expect(issues).toEqual([{ key, message: expect.stringMatching(message) }]);
  });

  it("refuses a table's keys beside files:", () => {
    const issues = issuesOf(
      'file: submission.csv\nid_column: id\ncolumns: []\nfiles: { name: "{id}.json" }\n',
    );
    expect(issues.map((i) => i.key)).toEqual(["file", "columns"]);
    expect(issues[0]!.message).toMatch(
      /describes a table, but files: says .* remove file: \(or files: to keep a table\)/,
    );
  });
});

describe("loadSubmissionFormat", () => {
  it("names a missing file and what to do", async () => {
    const dir = await mkdtemp(join(tmpdir(), "proctor-format-"));
    const path = join(dir, "format.yml");
    await expect(loadSubmissionFormat(path)).rejects.toThrow(
      /format\.yml: \(top level\) does not exist; create it/,
    );
    await writeFile(path, "id_column: [\n");
    await expect(loadSubmissionFormat(path)).rejects.toThrow(YamlConfigError);
  });
});
