import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCompetition, type Competition } from "../config/index.js";
import { checkCompetitionSetup, CompetitionSetupError } from "./preflight.js";

let dir: string;
let competition: Competition;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-preflight-"));
  for (const item of ["data", "submission_format"]) await cp(item, path.join(dir, item), { recursive: true });
  await cp("competition.yml", path.join(dir, "competition.yml"));
  competition = await loadCompetition(path.join(dir, "competition.yml"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

let n = 0;
async function file(text: string): Promise<string> {
  const at = path.join(dir, `f${++n}`);
  await writeFile(at, text);
  return at;
}

async function problemsOf(changed: Competition, paths = {}): Promise<string[]> {
  const error = await checkCompetitionSetup(changed, paths).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(CompetitionSetupError);
  expect((error as Error).message).toMatch(/organizer's mistake; nothing was run or counted/);
  return (error as CompetitionSetupError).problems;
}

const withPaths = (paths: Partial<Competition["paths"]>): Competition => ({
  ...competition,
  paths: { ...competition.paths, ...paths },
});

describe("checkCompetitionSetup", () => {
  it("passes the repository's own competition and returns its submission format", async () => {
    expect((await checkCompetitionSetup(competition)).file).toBe("submission.csv");
  });

  it("names a missing ground truth, data folder and format file, all at once", async () => {
    const problems = await problemsOf(
      withPaths({
        groundTruth: path.join(dir, "no-truth.csv"),
        dataDir: path.join(dir, "no-data"),
        submissionFormat: path.join(dir, "no-format.yml"),
      }),
    );
    expect(problems).toHaveLength(3);
    expect(problems.join("\n")).toMatch(/paths\.data_dir: .*no-data is not a folder/);
    expect(problems.join("\n")).toMatch(/paths\.submission_format: .*no-format\.yml.*does not exist/);
    expect(problems.join("\n")).toMatch(/paths\.ground_truth: .*no-truth\.csv does not exist/);
  });

  it("checks the runner's paths when they are given instead of the local ones", async () => {
    const problems = await problemsOf(competition, { groundTruth: "/srv/nowhere/truth.csv" });
    expect(problems).toEqual([expect.stringMatching(/\/srv\/nowhere\/truth\.csv does not exist/)]);
  });

  it("refuses a ground truth without the id column, or with an id twice", async () => {
    const noId = await file("key,species,usage\na,adelie,Public\n");
    expect(await problemsOf(withPaths({ groundTruth: noId }))).toEqual([
      expect.stringMatching(/has no id column "id"/),
    ]);
    const twice = await file("id,species,usage\na,adelie,Public\na,gentoo,Private\n");
    expect(await problemsOf(withPaths({ groundTruth: twice }))).toEqual([
      expect.stringMatching(/id "a" appears more than once/),
    ]);
  });

  it("refuses a ground truth without the usage column, saying how to do without a split", async () => {
    const noUsage = await file("id,species\na,adelie\n");
    const [problem] = await problemsOf(withPaths({ groundTruth: noUsage }));
    expect(problem).toMatch(/no "usage" column .*usage_column: null/);
    const unsplit = {
      ...withPaths({ groundTruth: noUsage }),
      scoring: { ...competition.scoring, usageColumn: null },
    };
    await expect(checkCompetitionSetup(unsplit)).resolves.toBeTruthy();
  });

  it("refuses a built-in metric that cannot score the format", async () => {
    const twoLabels = await file(`file: submission.csv
id_column: id
columns:
  - { name: id, type: string }
  - { name: species, type: category, categories: [adelie, gentoo] }
  - { name: island, type: category, categories: [biscoe, dream] }
`);
    const [problem] = await problemsOf(withPaths({ submissionFormat: twoLabels }));
    expect(problem).toMatch(
      /scoring\.metric: f1_macro cannot score the submission format .*2 such columns: keep one of them \(species, island\) in the submission format \(paths\.submission_format\)/,
    );
    expect(problem).not.toMatch(/predictionColumn/);
    const numbers = {
      ...competition,
      scoring: { ...competition.scoring, metric: "rmse" as const, direction: "lower" as const },
    };
    expect(await problemsOf(numbers)).toEqual([expect.stringMatching(/rmse cannot score .*numeric column/)]);
  });
});

describe("checkCompetitionSetup with a folder format (one file per id)", () => {
  const folderOf = (paths: Partial<Competition["paths"]>, metric: Competition["scoring"]["metric"]) => ({
    ...withPaths(paths),
    scoring: { ...competition.scoring, metric },
  });
  const scorer = () => ({
    custom: { name: "IoU", command: ["python3", "-c", "print(1)"], limits: competition.limits },
  });

  it("needs a custom scorer: a built-in metric reads no folder, and the organizer is told what to set", async () => {
    const format = await file('id_column: id\nfiles: { name: "{id}.tif" }\n');
    expect(await problemsOf(folderOf({ submissionFormat: format }, "f1_macro"))).toEqual([
      expect.stringMatching(
        /^scoring\.metric: f1_macro scores a table of predictions, but the submission format .* is a folder of files \(files: one \{id\}\.tif per id\), which no built-in metric reads; set scoring\.metric: \{ custom: .* it gets the files at \/scoring\/predictions\/$/,
      ),
    ]);
    const ready = await checkCompetitionSetup(folderOf({ submissionFormat: format }, scorer()));
    expect(ready.files).toEqual({ name: "{id}.tif", type: "tif", maxBytes: null });
  });

  it("refuses ground-truth ids that cannot be file names, each escaped", async () => {
    const format = await file('id_column: id\nfiles: { name: "{id}" }\n');
    const truth = await file('id,usage\nok,Public\nsub/dir,Public\n..,Private\n"a\\b",Public\n');
    const [problem] = await problemsOf(folderOf({ submissionFormat: format, groundTruth: truth }, scorer()));
    expect(problem).toMatch(
      /^paths\.ground_truth: .*'s ids name the files of the folder format .* \(\{id\}\), but 3 cannot: id "sub\/dir" holds a \/, \\ or NUL, which a file name cannot; id \.\. makes the file name \.\.; id "a\\\\b" holds .*; give every row an id that can be a file name$/,
    );
  });
});

describe("checkCompetitionSetup, per case", () => {
  it("passes the per-case example, and takes an input socket no case holds for the organizer's typo", async () => {
    const example = await loadCompetition(path.resolve("examples/per-case/competition.yml"));
    expect((await checkCompetitionSetup(example)).file).toBe("predictions.csv");
    if (example.submission.kind !== "image" || !example.submission.image.perCase)
      throw new Error("not per case");
    const { image } = example.submission;
    const typo = {
      ...example,
      submission: {
        kind: "image" as const,
        image: {
          ...image,
          perCase: {
            ...image.perCase!,
            inputs: [...(image.perCase!.inputs ?? []), { slug: "pet-image", relativePath: "images/pt" }],
          },
        },
      },
    };
    expect(await problemsOf(typo)).toEqual([
      expect.stringMatching(
        /^submission\.image\.inputs\[2\] \("pet-image"\): no case folder holds "images\/pt"; /,
      ),
    ]);
  });
});
