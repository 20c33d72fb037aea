import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InputSocket } from "../config/index.js";
import { parseSubmissionFormat } from "../scoring/index.js";
import { caseInputsJson, caseProblem, collectedTable, listCases, socketProblems } from "./per-case.js";

/**
 * The inputs.json each case is shown, without an engine: an algorithm from Grand Challenge looks its
 * inputs up by the platform's socket slugs (the forge's example picks its handler by the sorted slugs), so
 * a phase whose slugs are not its paths' names (ct-image at images/ct) must be described by its own.
 */
let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "proctor-case-inputs-"));
  for (const id of ["p1", "p2"]) {
    await mkdir(path.join(root, id, "images", "ct"), { recursive: true });
    await writeFile(path.join(root, id, "images", "ct", `${id}-scan.mha`), "voxels");
    await writeFile(path.join(root, id, "ehr.json"), '{"age": 70, "smoker": false}');
    await writeFile(path.join(root, id, "notes.txt"), "free text");
  }
  // An optional input: only the second patient has a dose map.
  await mkdir(path.join(root, "p2", "images", "rt-dose"), { recursive: true });
  await writeFile(path.join(root, "p2", "images", "rt-dose", "dose.mha"), "grays");
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const PHASE: InputSocket[] = [
  { slug: "ct-image", relativePath: "images/ct", kind: "Image" },
  { slug: "electronic-health-record", relativePath: "ehr.json" },
  { slug: "rt-dose-map", relativePath: "images/rt-dose", kind: "Heat Map" },
  { slug: "clinician-notes", relativePath: "notes.txt", kind: "TXT", superKind: "File" },
];

async function inputsOf(id: string, sockets?: InputSocket[]) {
  const { cases } = await listCases(root);
  const testCase = cases.find((c) => c.id === id)!;
  return JSON.parse((await caseInputsJson(testCase, sockets))!) as {
    file: unknown;
    image: unknown;
    value: unknown;
    interface: { slug: string; kind: string; super_kind: string; relative_path: string };
  }[];
}

describe("a case's inputs.json", () => {
  it("names each input by its folder or file name when the phase declares no sockets", async () => {
    const slugs = (await inputsOf("p1")).map((s) => s.interface.slug).sort();
    expect(slugs).toEqual(["ct", "ehr", "notes"]);
  });

  it("names each input by the phase's socket at its path, with its kind, as Grand Challenge does", async () => {
    const sockets = await inputsOf("p1", PHASE);
    // The forge's example algorithm keys its handler on exactly this tuple.
    expect(sockets.map((s) => s.interface.slug).sort()).toEqual([
      "clinician-notes",
      "ct-image",
      "electronic-health-record",
    ]);
    const bySlug = Object.fromEntries(sockets.map((s) => [s.interface.slug, s]));
    expect(bySlug["ct-image"]).toEqual({
      file: null,
      image: { name: "p1-scan.mha" },
      value: null,
      interface: { slug: "ct-image", kind: "Image", super_kind: "Image", relative_path: "images/ct" },
    });
    expect(bySlug["electronic-health-record"]).toMatchObject({
      value: { age: 70, smoker: false },
      interface: { kind: "Anything", super_kind: "Value", relative_path: "ehr.json" },
    });
    expect(bySlug["clinician-notes"]).toMatchObject({
      file: "notes.txt",
      value: null,
      interface: { kind: "TXT", super_kind: "File" },
    });
  });

  it("lists an optional socket only in the cases that have it", async () => {
    const second = await inputsOf("p2", PHASE);
    expect(second.find((s) => s.interface.slug === "rt-dose-map")).toMatchObject({
      image: { name: "dose.mha" },
      interface: { kind: "Heat Map", super_kind: "Image", relative_path: "images/rt-dose" },
    });
    expect((await inputsOf("p1", PHASE)).some((s) => s.interface.slug === "rt-dose-map")).toBe(false);
  });

  it("takes a socket that lies in no case for the organizer's typo, and an optional one for none", async () => {
    const { cases } = await listCases(root);
    expect(await socketProblems(cases, PHASE)).toEqual([]);
    const typo = [...PHASE, { slug: "pet-image", relativePath: "images/pt" }];
    const problems = await socketProblems(cases, typo);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^submission\.image\.inputs\[4\] \("pet-image"\): no case folder holds "images\/pt"; /,
    );
  });
});

describe("the table collected from the cases' output files", () => {
  const format = (file: string) =>
    parseSubmissionFormat(
      `file: ${file}\nid_column: case_id\ncolumns:\n  - { name: case_id, type: string }\n` +
        `  - { name: hpv, type: category, categories: ["true", "false"] }\n  - { name: rfs, type: float }\n`,
      "format.yml",
    );
  const rows = [
    { case_id: "a", hpv: true, rfs: 12.5 },
    { case_id: "b", hpv: false, rfs: 3 },
  ];

  it("takes a boolean socket (HECKTOR's hpv-status.json: true) as its text in a category column, in every encoding", () => {
    expect(JSON.parse(collectedTable(format("results.json"), rows))).toEqual([
      { case_id: "a", hpv: "true", rfs: 12.5 },
      { case_id: "b", hpv: "false", rfs: 3 },
    ]);
    expect(collectedTable(format("predictions.csv"), rows)).toBe("case_id,hpv,rfs\na,true,12.5\nb,false,3\n");
    expect(collectedTable(format("predictions.jsonl"), rows).split("\n")[1]).toBe(
      '{"case_id":"b","hpv":"false","rfs":3}',
    );
  });

  it("puts case k on the line a problem is mapped back from, and tells the problem by case and output file", () => {
    const settings = {
      outputDir: "/output",
      perCase: { maxModelBytes: 1, maxModelUncompressedBytes: 1, outputs: { rfs: "rfs.json" } },
    };
    for (const [file, line] of [
      ["results.json", 3],
      ["predictions.csv", 3],
      ["predictions.jsonl", 2],
    ] as const) {
      const f = format(file);
      // The second case's record is on that line.
      expect(collectedTable(f, rows).split("\n")[line - 1]).toMatch(/(^|")b(,|")/);
      const told = caseProblem(
        { file, line, column: "rfs", rule: "float", message: "x is not a number", fix: "write a number" },
        f,
        settings,
        2,
      );
      expect(told).toMatchObject({ file: "case 2 of 2: /output/rfs.json", line: null, column: "rfs" });
    }
    // A column without a file of its own (hpv: hpv.json by default) is named by that default.
    const hpv = caseProblem(
      { file: "predictions.csv", line: 2, column: "hpv", rule: "category", message: "m", fix: "f" },
      format("predictions.csv"),
      settings,
      2,
    );
    expect(hpv.file).toBe("case 1 of 2: /output/hpv.json");
  });
});
