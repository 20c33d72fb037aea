import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScoringError } from "./errors.js";
import { parseSubmissionFormat, type SubmissionFormat } from "./format.js";
import { formatProblem, type ValidationFailure } from "./problems.js";
import { idFileNameProblem, shownName, validateOutputFolder } from "./validate-files.js";

const TIFF = Buffer.from("49492a0008000000", "hex");
const PNG = Buffer.from("89504e470d0a1a0a0000", "hex");
const NPY = Buffer.concat([Buffer.from("\x93NUMPY", "latin1"), Buffer.from([1, 0])]);
const IDS = ["chip_a", "chip_b", "chip_c"];

const folderFormat = (files: string): SubmissionFormat =>
  parseSubmissionFormat(`id_column: chip_id\nfiles: ${files}\n`, "format.yml");
const TIF_FORMAT = folderFormat('{ name: "{id}.tif", max_size: 64 }');

let root: string;
let n = 0;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "proctor-folder-"));
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** A folder holding `files` (a Buffer name for names that are not UTF-8). */
async function folder(files: [string | Buffer, Buffer | string][]): Promise<string> {
  const dir = path.join(root, `out${++n}`);
  await mkdir(dir);
  for (const [name, content] of files) {
    await writeFile(
      typeof name === "string" ? path.join(dir, name) : Buffer.concat([Buffer.from(`${dir}/`), name]),
      content,
    );
  }
  return dir;
}

async function failure(dir: string, format = TIF_FORMAT, ids: string[] = IDS): Promise<ValidationFailure> {
  const result = await validateOutputFolder(dir, format, ids);
  if (result.ok) throw new Error("expected problems");
  return result;
}

const allTiffs = (): [string, Buffer][] => IDS.map((id) => [`${id}.tif`, TIFF]);

describe("validateOutputFolder", () => {
  it("accepts one file of the right type per id", async () => {
    expect(await validateOutputFolder(await folder(allTiffs()), TIF_FORMAT, IDS)).toEqual({
      ok: true,
      rows: 3,
    });
    const npy = folderFormat('{ name: "pred-{id}.npy" }');
    const dir = await folder(IDS.map((id) => [`pred-${id}.npy`, NPY]));
    expect(await validateOutputFolder(dir, npy, IDS)).toEqual({ ok: true, rows: 3 });
  });

  it("names an unknown id, and a missing one by the file it should be", async () => {
    const result = await failure(await folder([...allTiffs().slice(0, 2), ["chip_z.tif", TIFF]]));
    expect(result.counts).toEqual({ extra_id: 1, missing_id: 1 });
    expect(result.problems.map(formatProblem)).toEqual([
      "chip_c.tif: id chip_c has no file [missing_id]. Fix: write one {id}.tif per id of the test data",
      "chip_z.tif: chip_z is not one of the expected ids [extra_id]. Fix: write only one {id}.tif per id of the test data",
    ]);
    expect(result.overview).toBe(
      "the output folder does not follow the submission format: 2 problems\n  1 missing id\n  1 unexpected id",
    );
  });

  it("checks each file's first bytes against its type, and its size against the cap", async () => {
    const result = await failure(
      await folder([
        ["chip_a.tif", PNG],
        ["chip_b.tif", Buffer.alloc(65, 0x49)],
        ["chip_c.tif", ""],
      ]),
    );
    expect(result.counts).toEqual({ file_type: 1, file_too_large: 1, empty_file: 1 });
    const shown = result.problems.map(formatProblem).join("\n");
    expect(shown).toContain(
      "chip_a.tif: the file is not a TIFF image: it starts with the bytes 89 50 4e 47 0d 0a 1a 0a [file_type]. Fix: write it as a TIFF",
    );
    expect(shown).toContain("chip_b.tif: the file has 65 B, over the cap of 64 B per file [file_too_large]");
    expect(shown).toContain("chip_c.tif: the file is empty [empty_file]");
  });

  it("refuses folders, links and special entries, never following a link", async () => {
    const dir = await folder(allTiffs().slice(0, 1));
    await mkdir(path.join(dir, "chip_b.tif"));
    await writeFile(path.join(dir, "chip_b.tif", "inner.tif"), TIFF);
    await symlink("/etc/passwd", path.join(dir, "chip_c.tif"));
    const result = await failure(dir);
    expect(result.counts).toEqual({ not_a_file: 2, missing_id: 2 });
    expect(result.problems.map(formatProblem)).toEqual([
      "chip_b.tif: id chip_b has no file [missing_id]. Fix: write one {id}.tif per id of the test data",
      "chip_c.tif: id chip_c has no file [missing_id]. Fix: write one {id}.tif per id of the test data",
      "chip_b.tif: is a folder, not a regular file [not_a_file]. Fix: write one {id}.tif per id directly in the output folder, as regular files: no folders or links",
      "chip_c.tif: is a symbolic link, not a regular file [not_a_file]. Fix: write one {id}.tif per id directly in the output folder, as regular files: no folders or links",
    ]);
  });

  it("names hidden files and files of other names", async () => {
    const result = await failure(
      await folder([...allTiffs(), [".DS_Store", "x"], ["log.txt", "x"], [".tif", TIFF]]),
    );
    expect(result.counts).toEqual({ unexpected_file: 3 });
    const shown = result.problems.map(formatProblem);
    expect(shown[0]).toBe(
      ".DS_Store: the name is not {id}.tif (a hidden file: tools leave these, e.g. .ipynb_checkpoints) [unexpected_file]. Fix: write only one {id}.tif per id of the test data; remove hidden files",
    );
    expect(shown).toContainEqual(
      expect.stringMatching(/^\.tif: the name is not \{id\}\.tif \(a hidden file/),
    );
    expect(shown).toContainEqual(
      expect.stringMatching(/^log\.txt: the name is not \{id\}\.tif \[unexpected_file\]/),
    );
  });

  it("escapes names with odd characters wherever it shows them", async () => {
    const result = await failure(
      await folder([
        ...allTiffs(),
        ["chip\n\u001b[31mred.tif", TIFF],
        ["\u202egnp.tif", TIFF],
        [Buffer.from([0x63, 0xff, 0x2e, 0x74, 0x69, 0x66]), TIFF],
      ]),
    );
    expect(result.counts).toEqual({ extra_id: 2, unexpected_file: 1 });
    const shown = result.problems.map(formatProblem).join("\n");
    expect(shown).toContain(
      '"chip\\n\\u001b[31mred.tif": "chip\\n\\u001b[31mred" is not one of the expected ids',
    );
    expect(shown).toContain('"\\u202egnp.tif": "\\u202egnp" is not one of the expected ids');
    expect(shown).toContain('"c\\ufffd.tif": the name is not valid UTF-8');
    // Nothing the names held reaches the report raw: no control, format or replacement characters.
    // eslint-disable-next-line no-control-regex
    expect(shown).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e\ufffd]/);
  });

  it("parses each JSON file, never echoing what it holds", async () => {
    const format = folderFormat('{ name: "{id}.json" }');
    const result = await failure(
      await folder([
        ["chip_a.json", '{"area": 0.5}'],
        ["chip_b.json", "secret-label-7, not json"],
        ["chip_c.json", '{"area": '],
      ]),
      format,
    );
    expect(result.counts).toEqual({ file_type: 2 });
    const shown = result.problems.map(formatProblem).join("\n");
    expect(shown).toContain("chip_b.json: the file is not valid JSON");
    expect(shown).toContain("chip_c.json: the file is not valid JSON: it ends before the value does");
    expect(shown).not.toContain("secret");
  });

  it("counts every problem and shows the first few of each rule", async () => {
    const extra = Array.from({ length: 8 }, (_, i): [string, Buffer] => [`other_${i}.tif`, TIFF]);
    const result = await validateOutputFolder(await folder(extra), TIF_FORMAT, IDS, { maxShownPerRule: 2 });
    if (result.ok) throw new Error("expected problems");
    expect(result.counts).toEqual({ extra_id: 8, missing_id: 3 });
    expect(result.problems).toHaveLength(4);
    expect(result.overview).toContain("8 unexpected ids (first 2 shown)");
  });

  it("takes any bytes for type any, but no empty file", async () => {
    const format = folderFormat('{ name: "{id}.bin" }');
    const dir = await folder([
      ["chip_a.bin", "x"],
      ["chip_b.bin", PNG],
      ["chip_c.bin", ""],
    ]);
    expect((await failure(dir, format)).counts).toEqual({ empty_file: 1 });
  });

  it("throws for a table format and for a folder that is not there", async () => {
    const table = parseSubmissionFormat(
      "id_column: id\ncolumns:\n  - {name: id, type: string}\n  - {name: y, type: float}\n",
      "f.yml",
    );
    await expect(validateOutputFolder(root, table, IDS)).rejects.toThrow(ScoringError);
    await expect(validateOutputFolder(path.join(root, "nowhere"), TIF_FORMAT, IDS)).rejects.toThrow(/ENOENT/);
  });
});

describe("idFileNameProblem and shownName", () => {
  it.each([
    ["chip_a", null],
    ["", "is empty"],
    ["a/b", "holds a /, \\ or NUL, which a file name cannot"],
    ["a\\b", "holds a /, \\ or NUL, which a file name cannot"],
  ])("id %j: %s", (id, problem) => {
    expect(idFileNameProblem({ name: "{id}.tif" }, id)).toBe(problem);
  });

  it("refuses an id that makes . or ..", () => {
    expect(idFileNameProblem({ name: "{id}" }, "..")).toBe("makes the file name ..");
    expect(idFileNameProblem({ name: "{id}." }, ".")).toBe("makes the file name ..");
  });

  it("shows plain names as they are and quotes the rest, escaped", () => {
    expect(shownName("chip_a.tif")).toBe("chip_a.tif");
    expect(shownName("a b.tif")).toBe('"a b.tif"');
    expect(shownName('a"\u0007.tif')).toBe('"a\\"\\u0007.tif"');
    expect(shownName("x".repeat(200))).toBe(`"${"x".repeat(100)}\\u2026"`);
  });
});
