import { describe, expect, it } from "vitest";
import { parseEnvironment } from "../runtime/index.js";
import { runHints } from "./hints.js";
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
    submissionSha256: null,
  };
}

describe("runHints", () => {
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
});
