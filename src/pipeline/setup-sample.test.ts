import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSubmissionFormat } from "../scoring/index.js";
import { writeSamplePredictions } from "./setup-sample.js";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-sample-"));
  await writeFile(
    path.join(dir, "truth.csv"),
    'id,species,mass,usage\n1,adelie,3.5,Public\n2,"gen,too",4,Private\n3,adelie,5,Public\n',
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const format = (yml: string) => parseSubmissionFormat(yml, "format.yml");

describe("writeSamplePredictions", () => {
  it("writes the ground truth's own values and the same values one row off, as CSV with quoting", async () => {
    const sample = await writeSamplePredictions(
      format(
        "id_column: id\ncolumns:\n  - { name: id, type: integer }\n  - { name: species, type: string }\n",
      ),
      path.join(dir, "truth.csv"),
      path.join(dir, "a"),
    );
    if ("skipped" in sample) throw new Error(sample.skipped);
    expect(sample).toMatchObject({ rows: 3, filled: [] });
    expect(await readFile(sample.perfect, "utf8")).toBe('id,species\n1,adelie\n2,"gen,too"\n3,adelie\n');
    expect(await readFile(sample.shifted, "utf8")).toBe('id,species\n1,"gen,too"\n2,adelie\n3,adelie\n');
  });

  it("writes JSON Lines with numbers for numeric columns, a class's probability from the label, and fills what the ground truth lacks", async () => {
    const sample = await writeSamplePredictions(
      format(
        "file: submission.jsonl\nid_column: id\ncolumns:\n  - { name: id, type: integer }\n" +
          "  - { name: mass, type: float }\n  - { name: p_adelie, type: probability, class: adelie }\n" +
          "  - { name: note, type: string }\n",
      ),
      path.join(dir, "truth.csv"),
      path.join(dir, "b"),
    );
    if ("skipped" in sample) throw new Error(sample.skipped);
    expect(sample.perfect).toMatch(/\.perfect\.jsonl$/);
    expect(sample.filled).toEqual(["note"]);
    const lines = (await readFile(sample.perfect, "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines).toEqual([
      { id: 1, mass: 3.5, p_adelie: 1, note: "x" },
      { id: 2, mass: 4, p_adelie: 0, note: "x" },
      { id: 3, mass: 5, p_adelie: 1, note: "x" },
    ]);
  });

  it("writes one JSON array for a .json format, and says why when there are no rows", async () => {
    const json = format(
      "file: results.json\nid_column: id\ncolumns:\n  - { name: id, type: string }\n  - { name: mass, type: float }\n",
    );
    const sample = await writeSamplePredictions(json, path.join(dir, "truth.csv"), path.join(dir, "c"));
    if ("skipped" in sample) throw new Error(sample.skipped);
    expect(JSON.parse(await readFile(sample.shifted, "utf8"))).toEqual([
      { id: "1", mass: 4 },
      { id: "2", mass: 5 },
      { id: "3", mass: 3.5 },
    ]);
    await writeFile(path.join(dir, "empty.csv"), "id,mass\n");
    expect(await writeSamplePredictions(json, path.join(dir, "empty.csv"), path.join(dir, "d"))).toEqual({
      skipped: "the ground truth has no rows",
    });
  });
});
