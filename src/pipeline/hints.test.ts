import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseEnvironment } from "../runtime/index.js";
import { hintEnvironments, runHints } from "./hints.js";
import type { SubmissionRunResult } from "./run-submission.js";

const production = parseEnvironment(
  "name: p\ndependencies:\n  - python=3.11.11\n  - pytorch=2.6.0\n  - scikit-learn=1.6.1\n",
  "environment-cpu.yml",
);
const offline = parseEnvironment("name: o\ndependencies:\n  - python\n  - scikit-learn\n", "offline.yml");

function run(stderr: string, files: string[] = []): SubmissionRunResult {
  const log = (text: string) => ({ text, bytes: text.length, lines: 1, truncated: false });
  return {
    runId: "r",
    status: "failed",
    reason: "",
    exitCode: 1,
    durationMs: 1,
    image: null,
    limits: {} as SubmissionRunResult["limits"],
    stdout: log(""),
    stderr: log(stderr),
    output: { files: files.map((path) => ({ path, bytes: 1 })), skipped: [] } as never,
    runtime: "runc",
    metrics: null,
    submissionSha256: null,
  };
}

describe("runHints", () => {
  it("says where the zip's own files are when the program looked for them at DrivenData's unzip folder", () => {
    const context = { expectedOutput: "submission.csv" };
    // Code written for DrivenData's runtimes, which unzipped the submission into /code_execution itself.
    const torch = run(
      "  File \"/usr/lib/python3/dist-packages/torch/serialization.py\", line 251, in __init__\n    super().__init__(open(name, mode))\nFileNotFoundError: [Errno 2] No such file or directory: '/code_execution/assets/flood_model.pt'",
    );
    expect(runHints(torch, context)).toEqual([
      "/code_execution/assets/flood_model.pt is not there: DrivenData's runtimes unzipped the submission into /code_execution itself, here your zip's files are in /code_execution/src and in the working folder main.py runs in; load it relative to main.py (Path(__file__).parent / \"assets/flood_model.pt\") or from /code_execution/src/assets/flood_model.pt",
    ]);
    const pandas = run(
      `FileNotFoundError: [Errno 2] No such file or directory: "/code_execution/model's.csv"`,
    );
    expect(runHints(pandas, context)).toEqual([
      expect.stringMatching(
        /^\/code_execution\/model's\.csv is not there: .* \/code_execution\/src\/model's\.csv$/,
      ),
    ]);
    // A missing file of the contract's folders is another matter (the data, the output), and an image has
    // its own layout.
    for (const folder of ["data/features.csv", "submission/x.csv", "src/main.py", "models/m/w.bin"])
      expect(
        runHints(
          run(`FileNotFoundError: [Errno 2] No such file or directory: '/code_execution/${folder}'`),
          context,
        ),
      ).toEqual([]);
    expect(runHints(torch, { ...context, imageOutputDir: "/output" })).toEqual([]);
    // The older /codeexecution is the working folder, the zip's files in it: a file missing there is missing.
    const older = run("FileNotFoundError: [Errno 2] No such file or directory: '/codeexecution/assets/m.pt'");
    expect(runHints(older, context)).toEqual([]);
    // Terminal escapes in the program's output are not repeated.
    const escape = run(
      "FileNotFoundError: [Errno 2] No such file or directory: '/code_execution/\u001b[2Jx'",
    );
    expect(runHints(escape, context)).toEqual([]);
  });

  it("says the network is off when the program tried to reach it", () => {
    const hints = runHints(
      run("urllib.error.URLError: <urlopen error [Errno -3] Temporary failure in name resolution>"),
      { expectedOutput: "submission.csv" },
    );
    expect(hints).toEqual([expect.stringMatching(/network is off .*ship the model weights .* in your zip/)]);
  });

  it("names the file written instead of the expected one", () => {
    const hints = runHints(run("", ["predictions.csv"]), { expectedOutput: "submission.csv" });
    expect(hints).toEqual([
      "found predictions.csv in /code_execution/submission; the competition expects submission.csv there",
    ]);
    expect(runHints(run("", ["submission.csv", "extra.csv"]), { expectedOutput: "submission.csv" })).toEqual(
      [],
    );
  });

  it("names no file for a folder format ({id}.tif): its files have many names", () => {
    expect(runHints(run("", ["chip1.tif", "chip2.tif"]), { expectedOutput: "{id}.tif" })).toEqual([]);
  });

  it("names the command the shell could not find, as bash, sh and env print it", () => {
    const context = { expectedOutput: "submission.csv" };
    const bash = run("2026-01-01T00:00:00Z main.sh: line 3: pixi: command not found");
    expect(runHints(bash, context)).toEqual([
      expect.stringMatching(
        /^pixi is not a command in the runtime .*call python main\.py, or ship pixi in your zip/,
      ),
    ]);
    expect(runHints(run("main.sh: 2: conda: not found"), context)).toEqual([
      expect.stringMatching(/^conda is not a command in the runtime/),
    ]);
    expect(runHints(run("/usr/bin/env: 'uv': No such file or directory"), context)).toEqual([
      expect.stringMatching(/^uv is not a command in the runtime/),
    ]);
    expect(runHints(bash, { ...context, imageOutputDir: "/output" })).toEqual([
      "pixi is not a command in your image: install it there, or put it on PATH, and build again",
    ]);
  });

  it("explains exit code 127 when the log does not say which command was missing", () => {
    const silent = { ...run(""), exitCode: 127 };
    expect(runHints(silent, { expectedOutput: "submission.csv" })).toEqual([
      `exit code 127 is the shell's "command not found": check the commands your main.sh runs (the runtime has python, python3 and bash)`,
    ]);
    const printed = ["a: b: not found in the table", "error: weights.bin: not found"];
    for (const line of printed) expect(runHints(run(line), { expectedOutput: "submission.csv" })).toEqual([]);
  });

  it("tells a module of the production image missing from the offline flavour from one missing everywhere", () => {
    const torch = run("ModuleNotFoundError: No module named 'torch'");
    expect(runHints(torch, { expectedOutput: "s.csv", production, offline })).toEqual([
      expect.stringMatching(
        /torch is in the production image \(pytorch=2\.6\.0 in environment-cpu\.yml\) but not in the offline flavour/,
      ),
    ]);
    expect(runHints(torch, { expectedOutput: "s.csv", production })).toEqual([
      expect.stringMatching(/torch is in the runtime/),
    ]);
    const other = run("ModuleNotFoundError: No module named 'catboost.core'");
    expect(runHints(other, { expectedOutput: "s.csv", production, offline })).toEqual([
      expect.stringMatching(/catboost is not in the runtime: ship it in your zip .* or open a pull request/),
    ]);
  });

  it("speaks of the participant's image, and its output folder, for image submissions", () => {
    const context = { expectedOutput: "results.json", production, imageOutputDir: "/output" };
    const missing = run("ModuleNotFoundError: No module named 'torch.nn'\nurlopen error [Errno -3]");
    expect(runHints(missing, context)).toEqual([
      expect.stringMatching(/every other file your code downloads in your image/),
      "torch is not in your image: install it there and build again",
    ]);
  });
});

describe("hintEnvironments", () => {
  const environment = (name: string) => `name: ${name}\ndependencies:\n  - python=3.11.11\n`;

  it("reads the runtime's files from the repository's root when competition.yml is in a subfolder", async () => {
    const outer = await mkdtemp(path.join(os.tmpdir(), "proctor-hint-env-"));
    try {
      // Above the repository's root: never read.
      await writeFile(path.join(outer, "environment-gpu.yml"), environment("outside"));
      const repo = path.join(outer, "repo");
      await mkdir(path.join(repo, ".git"), { recursive: true });
      await mkdir(path.join(repo, "runtime"));
      await mkdir(path.join(repo, "competitions", "one"), { recursive: true });
      await writeFile(path.join(repo, "environment-cpu.yml"), environment("root"));
      await writeFile(path.join(repo, "runtime", "environment-offline.yml"), environment("offline"));
      const competition = path.join(repo, "competitions", "one", "competition.yml");

      const found = await hintEnvironments(competition, "cpu", true);
      expect(found.production?.name).toBe("root");
      expect(found.production?.file).toBe(
        path.relative(process.cwd(), path.join(repo, "environment-cpu.yml")),
      );
      expect(found.offline?.name).toBe("offline");
      // The offline flavour's list only where the offline flavour stands in.
      expect((await hintEnvironments(competition, "cpu", false)).offline).toBeUndefined();
      // Not past the repository's root.
      expect(await hintEnvironments(competition, "gpu", false)).toEqual({});

      // A file beside competition.yml comes first.
      await writeFile(path.join(repo, "competitions", "one", "environment-cpu.yml"), environment("beside"));
      expect((await hintEnvironments(competition, "cpu", false)).production?.name).toBe("beside");
    } finally {
      await rm(outer, { recursive: true, force: true });
    }
  });

  it("leaves out a file that does not parse, and the hint then names the files where they were found", async () => {
    const repo = await mkdtemp(path.join(os.tmpdir(), "proctor-hint-env-"));
    try {
      await mkdir(path.join(repo, ".git"));
      await mkdir(path.join(repo, "sub"));
      await writeFile(path.join(repo, "environment-cpu.yml"), "dependencies: [");
      const competition = path.join(repo, "sub", "competition.yml");
      expect(await hintEnvironments(competition, "cpu", false)).toEqual({});

      await writeFile(path.join(repo, "environment-cpu.yml"), environment("root"));
      const context = { expectedOutput: "s.csv", ...(await hintEnvironments(competition, "cpu", false)) };
      const root = path.relative(process.cwd(), repo);
      expect(runHints(run("ModuleNotFoundError: No module named 'catboost'"), context)).toEqual([
        `catboost is not in the runtime: ship it in your zip if it is pure Python, or open a pull request adding it to ${path.join(root, "environment-cpu.yml")} and ${path.join(root, "environment-gpu.yml")}`,
      ]);
    } finally {
      await rm(repo, { recursive: true, force: true });
    }
  });
});
