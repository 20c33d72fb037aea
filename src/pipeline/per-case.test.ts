import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadCompetition, type Competition } from "../config/index.js";
import { MemoryLeaderboardStore } from "../leaderboard/index.js";
import { saveAlgorithmImage, type AlgorithmArchive } from "../sandbox/test-support/algorithm-image.js";
import { evaluateSubmission } from "./evaluate.js";
import { CompetitionSetupError } from "./preflight.js";

/**
 * Grand Challenge's contract on the real engine, with an algorithm of our own that follows it as the forge
 * example does: it reads /input/inputs.json and its input, its bias from the model at /opt/ml/model, and
 * writes one JSON value per output socket (/output/rfs.json). Each case's value.txt says what to do.
 */
const CASE_SCRIPT = `#!/bin/sh
while IFS= read -r line; do echo "inputs.json: $line"; done < /input/inputs.json
read -r bias < /opt/ml/model/weights/bias.txt || { echo "no model" >&2; exit 4; }
read -r value < /input/value.txt
if printf x > /input/x 2>/dev/null; then echo "input folder writable" >&2; exit 9; fi
if printf x > /input/value.txt 2>/dev/null; then echo "input file writable" >&2; exit 9; fi
echo "home: $HOME"
case "$value" in
  crash) echo "cannot read the scan" >&2; exit 3 ;;
  loop) while :; do :; done ;;
  none) exit 0 ;;
  text) printf 'not a number' > /output/rfs.json ;;
  masks) mkdir -p /output/images/seg && echo 1 > /output/images/seg/a.json && echo 2 > /output/images/seg/b.json ;;
  mask*) mkdir -p /output/images/seg && printf '%s\\n' "$((\${value#mask} + bias))" > "/output/images/seg/mask-$$.json" ;;
  *) printf '%s\\n' "$((value + bias))" > /output/rfs.json ;;
esac
`;

const base = inject("baseImage");
let work: string;
let algorithm: AlgorithmArchive;
let model: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), "proctor-per-case-"));
  await mkdir(path.join(work, "model", "weights"), { recursive: true });
  await writeFile(path.join(work, "model", "weights", "bias.txt"), "2\n");
  model = path.join(work, "model.tar.gz");
  execFileSync("tar", ["-czf", model, "-C", path.join(work, "model"), "."]);
  algorithm = await saveAlgorithmImage(base, { script: CASE_SCRIPT });
});
afterAll(async () => {
  await algorithm?.cleanup();
  await rm(work, { recursive: true, force: true });
});

/** A per-case competition in its own folder: each case's value.txt, and the ground truth value + bias. */
async function competitionWith(
  values: Record<string, string>,
  options: {
    caseTime?: string;
    format?: string;
    ownInputsJson?: boolean;
    runtime?: string;
    /** A folder format (one file per case) scored by a scorer of our own, instead of a table and mae. */
    folder?: boolean;
    /** The folder format's output in each case (default rfs.json). */
    folderOutput?: string;
  } = {},
): Promise<Competition> {
  const dir = await mkdtemp(path.join(work, "competition-"));
  const rows = ["case_id,rfs,usage"];
  for (const [id, value] of Object.entries(values)) {
    const caseDir = path.join(dir, "cases", id);
    await mkdir(path.join(caseDir, "images", "ct"), { recursive: true });
    await writeFile(path.join(caseDir, "value.txt"), `${value}\n`);
    await writeFile(path.join(caseDir, "clinical-information.json"), '{"age": 61}');
    await writeFile(path.join(caseDir, "images", "ct", "scan.mha"), "voxels");
    if (options.ownInputsJson) await writeFile(path.join(caseDir, "inputs.json"), '[{"exported": true}]\n');
    rows.push(`${id},${Number.isNaN(Number(value)) ? 0 : Number(value) + 2},Public`);
  }
  await writeFile(path.join(dir, "ground_truth.csv"), rows.join("\n") + "\n");
  await writeFile(
    path.join(dir, "format.yml"),
    options.folder
      ? "id_column: case_id\nfiles: { name: '{id}.json', type: json }\n"
      : `file: ${options.format ?? "predictions.csv"}\nid_column: case_id\ncolumns:\n  - { name: case_id, type: string }\n  - { name: rfs, type: float }\n`,
  );
  await mkdir(path.join(dir, "scorer"));
  // The folder's scorer: the share of cases whose file holds the ground truth's value.
  await writeFile(
    path.join(dir, "scorer", "score.py"),
    [
      "import csv, json, os",
      "rows = list(csv.DictReader(open(os.environ['PROCTOR_GROUND_TRUTH'])))",
      "folder = os.environ['PROCTOR_PREDICTIONS']",
      "right = sum(json.load(open(os.path.join(folder, r['case_id'] + '.json'))) == float(r['rfs']) for r in rows)",
      "print(json.dumps({'public': right / len(rows)}))",
      "",
    ].join("\n"),
  );
  const metric = options.folder
    ? "{ custom: { name: exact, direction: higher, script_dir: scorer, command: [python3, /scoring/scorer/score.py] } }, direction: higher"
    : "mae, direction: lower";
  await writeFile(
    path.join(dir, "competition.yml"),
    `name: Per case
runtime: { image: proctor/runtime }
limits: { time: 60s, memory: 256m, cpus: 1, runtime: ${options.runtime ?? "runc"} }
submission:
  kind: image
  image: { contract: grand-challenge, case_time: ${options.caseTime ?? "30s"}, outputs: { ${options.folder ? "files" : "rfs"}: ${options.folderOutput ?? "rfs.json"} } }
paths: { data_dir: cases, ground_truth: ground_truth.csv, submission_format: format.yml }
scoring: { metric: ${metric}, usage_column: usage }
logs: { local: full }
`,
  );
  return loadCompetition(path.join(dir, "competition.yml"));
}

let runs = 0;
const evaluate = (
  competition: Competition,
  options: { modelPath?: string | null; outputDir?: string; algorithmPath?: string } = {},
) =>
  evaluateSubmission({
    competition,
    zipPath: options.algorithmPath ?? algorithm.path,
    ...(options.modelPath !== null && { modelPath: options.modelPath ?? model }),
    image: base,
    participant: "ada",
    phase: "local",
    store: new MemoryLeaderboardStore(),
    outputDir: options.outputDir ?? path.join(work, `out-${++runs}`),
  });

describe("an algorithm image under Grand Challenge's per-case contract", () => {
  it("runs once per case with inputs.json, its inputs and the model, and scores the collected table", async () => {
    const competition = await competitionWith({ "case-a": "10", "case-b": "20", "case-c": "7" });
    const outputDir = path.join(work, "out-csv");
    const evaluation = await evaluate(competition, { outputDir });
    expect(evaluation.status, evaluation.reason).toBe("succeeded");
    expect(evaluation.scores.public).toBe(0);
    expect(await readFile(path.join(outputDir, "predictions.csv"), "utf8")).toBe(
      "case_id,rfs\ncase-a,12\ncase-b,22\ncase-c,9\n",
    );
    const out = evaluation.run.stdout.text;
    expect(out).toContain('=== case 1 of 3: "case-a" ===');
    expect(out).toContain('=== case 3 of 3: "case-c" ===');
    // Described as Grand Challenge describes socket values: the JSON inline, the image by its file's name.
    expect(out).toContain('"super_kind": "Value"');
    expect(out).toContain('"slug": "clinical-information"');
    expect(out).toContain('"age": 61');
    expect(out).toContain('"relative_path": "images/ct"');
    expect(out).toContain('"name": "scan.mha"');
    expect(out).toContain('"relative_path": "value.txt"');
    // Nothing of the input folder is writable: not the case's files, not the folder itself.
    expect(evaluation.run.stderr.text).toContain(
      '=== case 1 of 3: "case-a" ===\n/opt/algorithm/predict.sh: 5: cannot create /input/x: Read-only file system\n' +
        "/opt/algorithm/predict.sh: 6: cannot create /input/value.txt: Read-only file system",
    );
    expect(evaluation.run.output?.files).toEqual([{ path: "predictions.csv", bytes: expect.any(Number) }]);
  });

  it("writes the table in the format's encoding (JSON keeps the values' types) and uses a case's own inputs.json", async () => {
    const competition = await competitionWith(
      { one: "1", two: "2" },
      { format: "results.json", ownInputsJson: true },
    );
    const outputDir = path.join(work, "out-json");
    const evaluation = await evaluate(competition, { outputDir });
    expect(evaluation.status, evaluation.reason).toBe("succeeded");
    expect(JSON.parse(await readFile(path.join(outputDir, "results.json"), "utf8"))).toEqual([
      { case_id: "one", rfs: 3 },
      { case_id: "two", rfs: 4 },
    ]);
    expect(evaluation.run.stdout.text).toContain('inputs.json: [{"exported": true}]');
  });

  it("collects one file per case into a folder format, named by the case id, for the custom scorer", async () => {
    const outputDir = path.join(work, "out-folder");
    const evaluation = await evaluate(await competitionWith({ x1: "1", x2: "5" }, { folder: true }), {
      outputDir,
    });
    expect(evaluation.status, evaluation.reason).toBe("succeeded");
    expect(evaluation.scores.public).toBe(1);
    expect(await readFile(path.join(outputDir, "x2.json"), "utf8")).toBe("7\n");
    expect(evaluation.run.output?.files.map((f) => f.path)).toEqual(["x1.json", "x2.json"]);
    const missing = await evaluate(await competitionWith({ x1: "none" }, { folder: true }));
    expect(missing.status).toBe("output_missing");
    expect(missing.reason).toBe(
      "case 1 of 1: the algorithm exited 0 but wrote no /output/rfs.json (the case's {id}.json)",
    );
  });

  it("collects an image output as Grand Challenge does: the one file, of any name, in the socket's folder", async () => {
    // On the whole base image: writing images/seg/ takes mkdir; as its user nobody, whose home its passwd names.
    const withTools = await saveAlgorithmImage(base, {
      script: CASE_SCRIPT,
      wholeBase: true,
      user: "nobody",
    });
    const outputDir = path.join(work, "out-image-folder");
    const options = { folder: true, folderOutput: "images/seg" };
    const run = (competition: Competition, more: { outputDir?: string } = {}) =>
      evaluate(competition, { ...more, algorithmPath: withTools.path });
    try {
      const evaluation = await run(await competitionWith({ m1: "mask1", m2: "mask5" }, options), {
        outputDir,
      });
      expect(evaluation.status, evaluation.run.stderr.text).toBe("succeeded");
      expect(await readFile(path.join(outputDir, "m2.json"), "utf8")).toBe("7\n");
      expect(evaluation.run.output?.files.map((f) => f.path)).toEqual(["m1.json", "m2.json"]);
      // The image's own HOME, as docker run sets it (pip install --user's ~/.local is found), not /tmp.
      expect(evaluation.run.stdout.text).toContain("home: /nonexistent");
      const two = await run(await competitionWith({ m1: "mask1", m2: "masks" }, options));
      expect(two.status).toBe("output_invalid");
      expect(two.reason).toBe(
        "case 2 of 2: /output/images/seg/ holds 2 files; write the output's one file there (Grand Challenge takes one image per image output)",
      );
      const none = await run(await competitionWith({ m1: "7" }, options));
      expect(none.status).toBe("output_missing");
      expect(none.reason).toBe(
        "case 1 of 1: the algorithm exited 0 but wrote no /output/images/seg (the case's {id}.json)",
      );
    } finally {
      await withTools.cleanup();
    }
  });

  it("mounts each input and the model the same way under gVisor", async () => {
    const evaluation = await evaluate(await competitionWith({ a: "5", b: "6" }, { runtime: "runsc" }));
    expect(evaluation.status, evaluation.reason).toBe("succeeded");
    expect(evaluation.run.runtime).toBe("runsc");
    expect(evaluation.scores.public).toBe(0);
  });

  it("stops at a case that crashes, naming its place (its id only in the log)", async () => {
    const evaluation = await evaluate(await competitionWith({ first: "1", second: "crash", third: "3" }));
    expect(evaluation.status).toBe("failed");
    expect(evaluation.reason).toMatch(/^case 2 of 3: the program exited with code 3/);
    expect(evaluation.reason).not.toContain("second");
    expect(evaluation.run.stderr.text).toContain("cannot read the scan");
    expect(evaluation.run.stdout.text).not.toContain("case 3 of 3");
  });

  it("holds each case to case_time", async () => {
    const evaluation = await evaluate(await competitionWith({ a: "1", b: "loop" }, { caseTime: "2s" }));
    expect(evaluation.status).toBe("timed_out");
    expect(evaluation.reason).toMatch(/^case 2 of 2: /);
  });

  it("calls a case without its output socket's file output_missing, and a value that is no number output_invalid", async () => {
    const missing = await evaluate(await competitionWith({ a: "1", b: "none" }));
    expect(missing.status).toBe("output_missing");
    expect(missing.reason).toBe(
      'case 2 of 2: the algorithm exited 0 but wrote no /output/rfs.json (the value of column "rfs")',
    );
    const invalid = await evaluate(await competitionWith({ a: "text" }));
    expect(invalid.status).toBe("output_invalid");
    // Told by the case and the file the algorithm wrote, not by the line of the table proctor collected.
    expect(invalid.problems).toEqual([
      expect.stringMatching(
        /^case 1 of 1: \/output\/rfs\.json: column "rfs": "not a number" is not a number/,
      ),
    ]);
    const inJson = await evaluate(
      await competitionWith({ a: "1", b: "2", c: "text" }, { format: "results.json" }),
    );
    expect(inJson.status).toBe("output_invalid");
    expect(inJson.problems).toEqual([
      expect.stringMatching(/^case 3 of 3: \/output\/rfs\.json: key "rfs": /),
    ]);
  });

  it("fails a case whose algorithm needs the model when none was uploaded, and refuses a bad model tarball", async () => {
    const competition = await competitionWith({ a: "1" });
    const without = await evaluate(competition, { modelPath: null });
    expect(without.status).toBe("failed");
    expect(without.run.stderr.text).toContain("no model");
    const bad = path.join(work, "bad-model.tar.gz");
    await writeFile(bad, "not a tarball");
    const refused = await evaluate(competition, { modelPath: bad });
    expect(refused.status).toBe("invalid_submission");
    expect(refused.reason).toMatch(/^the model tarball "bad-model\.tar\.gz": it is not a readable tar/);
  });

  it("refuses a data folder without cases and outputs naming no column, as the organizer's mistake", async () => {
    const competition = await competitionWith({ a: "1" });
    await rm(path.join(path.dirname(competition.file), "cases", "a"), { recursive: true });
    const broken = {
      ...competition,
      submission: {
        kind: "image" as const,
        image: {
          ...(competition.submission.kind === "image" ? competition.submission.image : ({} as never)),
          perCase: { maxModelBytes: 1, maxModelUncompressedBytes: 1, outputs: { rsf: "rfs.json" } },
        },
      },
    };
    const error = await evaluate(broken).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CompetitionSetupError);
    expect((error as Error).message).toContain('submission.image.outputs: "rsf" is not a column');
    expect((error as Error).message).toContain("holds no case folders");
  });
});
