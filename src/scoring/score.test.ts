import { describe, expect, it } from "vitest";
import { metricFixtures, type MetricCase } from "./test-support/metric-cases.js";
import { OutputInvalidError, ScoringError } from "./errors.js";
import { loadSubmissionFormat, parseSubmissionFormat, type SubmissionFormat } from "./format.js";
import type { MetricName } from "./metrics.js";
import { scorePredictions, type ScoreOptions } from "./score.js";
import { tempFile } from "./test-support/files.js";

const fixture = (name: string): MetricCase => metricFixtures.cases.find((c) => c.name === name)!;

function closeTo(actual: number | null, expected: number | undefined): void {
  expect(actual).not.toBeNull();
  expect(expected).toBeDefined();
  expect(Math.abs(actual! - expected!) / Math.max(Math.abs(expected!), 1e-300)).toBeLessThanOrEqual(1e-9);
}

const csv = (lines: string[]): string => lines.join("\n") + "\n";

/** Ground truth in case order with extra Ignored rows; predictions reversed, Ignored ones garbage-free. */
function filesFor(c: MetricCase, predictionLine: (i: number) => string, header: string, ignored = 0) {
  const n = c.y_true.length;
  const truth = [c.usage ? "id,target,Usage" : "id,target"];
  for (let i = 0; i < n; i++) truth.push(`r${i},${c.y_true[i]}${c.usage ? `,${c.usage[i]}` : ""}`);
  const predictions = [header];
  for (let i = n - 1; i >= 0; i--) predictions.push(predictionLine(i));
  for (let j = 0; j < ignored; j++) {
    truth.push(`ignored${j},${c.y_true[j]},Ignored`);
    predictions.push(predictionLine(j).replace(/^r\d+/, `ignored${j}`));
  }
  return { groundTruthPath: tempFile(csv(truth), "truth.csv"), predictionsPath: tempFile(csv(predictions)) };
}

async function expectParts(
  base: Omit<ScoreOptions, "metric">,
  c: MetricCase,
  metrics: MetricName[],
): Promise<void> {
  for (const metric of metrics) {
    const result = await scorePredictions({ ...base, metric });
    closeTo(result.overall, c.expected[metric]);
    closeTo(result.public, c.expected_public![metric]);
    closeTo(result.private, c.expected_private![metric]);
  }
}

describe("scorePredictions against scikit-learn values", () => {
  it("binary: labels and a positive-class probability column, public/private split, Ignored rows", async () => {
    const c = fixture("binary-ties-clipping");
    const format = parseSubmissionFormat(
      "id_column: id\ncolumns:\n  - {name: id, type: string}\n  - {name: target, type: category, categories: [0, 1]}\n  - {name: p, type: probability}\n",
      "format.yml",
    );
    const files = filesFor(c, (i) => `r${i},${c.y_pred[i]},${(c.proba as number[])[i]}`, "id,target,p", 7);
    const base = { ...files, format };
    await expectParts(base, c, [
      "accuracy",
      "balanced_accuracy",
      "f1_macro",
      "f1_micro",
      "log_loss",
      "roc_auc",
    ]);
    const result = await scorePredictions({ ...base, metric: "roc_auc" });
    expect(result).toMatchObject({
      metric: "roc_auc",
      direction: "higher",
      rows: c.y_true.length + 7,
      counts: { ignored: 7 },
    });
    expect(result.counts.public + result.counts.private).toBe(c.y_true.length);
  });

  it("multi-class: the example format with per-class probability columns", async () => {
    const c = fixture("multiclass-3-tenths");
    const format = await loadSubmissionFormat(new URL("./fixtures/format.yml", import.meta.url).pathname);
    const files = filesFor(
      c,
      (i) => `r${i},${c.y_pred[i]},${(c.proba as number[][])[i]!.join(",")}`,
      "id,species,p_adelie,p_chinstrap,p_gentoo",
    );
    const base = { ...files, format, targetColumn: "target" };
    await expectParts(base, c, [
      "accuracy",
      "balanced_accuracy",
      "f1_macro",
      "f1_micro",
      "log_loss",
      "roc_auc",
    ]);
  });

  it("regression with usage", async () => {
    const c = fixture("regression");
    const format = parseSubmissionFormat(
      "id_column: id\ncolumns:\n  - {name: id, type: string}\n  - {name: target, type: float}\n",
      "format.yml",
    );
    const files = filesFor(c, (i) => `r${i},${c.y_pred[i]}`, "id,target");
    await expectParts({ ...files, format }, c, ["rmse", "mae", "r2", "mape"]);
  });

  it("labels predicted that the truth never has count like sklearn (absent class)", async () => {
    const c = fixture("multiclass-absent-class");
    const format = parseSubmissionFormat(
      "id_column: id\ncolumns:\n  - {name: id, type: string}\n  - {name: target, type: category, categories: [a, b, c, d]}\n",
      "format.yml",
    );
    const files = filesFor(c, (i) => `r${i},${c.y_pred[i]}`, "id,target");
    for (const metric of ["f1_macro", "balanced_accuracy"] as const) {
      const result = await scorePredictions({ ...files, format, metric });
      closeTo(result.overall, c.expected[metric]);
      expect(result.public).toBe(result.overall);
      expect(result.private).toBeNull();
    }
  });
});

const LABEL_FORMAT: SubmissionFormat = parseSubmissionFormat(
  "id_column: id\ncolumns:\n  - {name: id, type: string}\n  - {name: y, type: category, categories: [a, b]}\n",
  "format.yml",
);

function labelFiles(truthLines: string[], predictionLines: string[]) {
  return {
    groundTruthPath: tempFile(csv(truthLines), "truth.csv"),
    predictionsPath: tempFile(csv(predictionLines)),
    format: LABEL_FORMAT,
  };
}

describe("scorePredictions: usage split", () => {
  it("without a usage column, public is overall and private is null", async () => {
    const files = labelFiles(["id,y", "1,a", "2,b", "3,b", "4,a"], ["id,y", "1,a", "2,b", "3,a", "4,a"]);
    const result = await scorePredictions({ ...files, metric: "accuracy" });
    expect(result).toMatchObject({ public: 0.75, private: null, overall: 0.75, rows: 4 });
    expect(result.counts).toEqual({ public: 4, private: 0, ignored: 0 });
    expect(result.warnings).toEqual([]);
  });

  it("reads Public/Private/Ignored case-insensitively, excluding Ignored rows", async () => {
    const files = labelFiles(
      ["id,y,USAGE", "1,a,public", "2,b,PUBLIC", "3,b,Private", "4,a,private", "5,a,ignored", "6,b,Ignored"],
      ["id,y", "1,a", "2,a", "3,b", "4,b", "5,b", "6,a"],
    );
    const result = await scorePredictions({ ...files, metric: "accuracy" });
    expect(result).toMatchObject({ public: 0.5, private: 0.5, overall: 0.5 });
    expect(result.counts).toEqual({ public: 2, private: 2, ignored: 2 });
  });

  it("has a null part when no row is in it", async () => {
    const files = labelFiles(["id,y,usage", "1,a,Private", "2,b,Private"], ["id,y", "1,a", "2,a"]);
    const result = await scorePredictions({ ...files, metric: "accuracy" });
    expect(result).toMatchObject({ public: null, private: 0.5, overall: 0.5 });
  });

  it("can ignore the usage column", async () => {
    const files = labelFiles(["id,y,usage", "1,a,Private", "2,b,Public"], ["id,y", "1,a", "2,a"]);
    const result = await scorePredictions({ ...files, metric: "accuracy", usageColumn: null });
    expect(result).toMatchObject({ public: 0.5, private: null, overall: 0.5 });
  });

  it("refuses an unknown usage value with the ground truth's line", async () => {
    const files = labelFiles(["id,y,usage", "1,a,Public", "2,b,Test"], ["id,y", "1,a", "2,a"]);
    const error = await scorePredictions({ ...files, metric: "accuracy" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScoringError);
    expect((error as ScoringError).status).toBe("scoring_failed");
    expect((error as Error).message).toMatch(
      /truth\.csv:3: usage is "Test"; write Public, Private or Ignored/,
    );
  });

  it("refuses a ground truth where every row is Ignored", async () => {
    const files = labelFiles(["id,y,usage", "1,a,Ignored"], ["id,y", "1,a"]);
    await expect(scorePredictions({ ...files, metric: "accuracy" })).rejects.toThrow(/every row is Ignored/);
  });
});

describe("scorePredictions: failures", () => {
  it("throws OutputInvalidError (output_invalid) with the problems for a file that breaks the format", async () => {
    const files = labelFiles(["id,y", "1,a", "2,b"], ["id,y", "1,c", "3,a"]);
    const error = await scorePredictions({ ...files, metric: "accuracy" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutputInvalidError);
    const failure = (error as OutputInvalidError).failure;
    expect((error as OutputInvalidError).status).toBe("output_invalid");
    expect(failure.counts).toEqual({ category: 1, extra_id: 1, missing_id: 1 });
    expect((error as Error).message).toBe(failure.summary);
  });

  it("AUC with one class in a part is a ScoringError naming the part", async () => {
    const format = parseSubmissionFormat(
      "id_column: id\ncolumns:\n  - {name: id, type: string}\n  - {name: p, type: probability, class: b}\n",
      "format.yml",
    );
    const files = {
      groundTruthPath: tempFile(
        csv(["id,y,usage", "1,a,Public", "2,b,Public", "3,b,Private", "4,b,Private"]),
      ),
      predictionsPath: tempFile(csv(["id,p", "1,0.1", "2,0.9", "3,0.5", "4,0.4"])),
      format,
    };
    const error = await scorePredictions({ ...files, metric: "roc_auc" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScoringError);
    expect((error as Error).message).toMatch(
      /^private rows: roc_auc: only one class present in the ground truth/,
    );
    // log_loss is defined with one class in a part.
    const result = await scorePredictions({ ...files, metric: "log_loss" });
    expect(result.public).toBeCloseTo((-Math.log(0.9) - Math.log(0.9)) / 2, 12);
  });

  it("binary positive class: sklearn's greater label by default, numeric order for numbers", async () => {
    const format = parseSubmissionFormat(
      "id_column: id\ncolumns:\n  - {name: id, type: string}\n  - {name: p, type: probability}\n",
      "format.yml",
    );
    const groundTruthPath = tempFile(csv(["id,y", "1,2", "2,10", "3,10"]));
    const predictionsPath = tempFile(csv(["id,p", "1,0.2", "2,0.9", "3,0.6"]));
    const base = { groundTruthPath, predictionsPath, format, metric: "log_loss" as const };
    const byDefault = await scorePredictions(base);
    closeTo(byDefault.overall, -(Math.log(0.8) + Math.log(0.9) + Math.log(0.6)) / 3);
    const flipped = await scorePredictions({ ...base, positiveClass: "2" });
    closeTo(flipped.overall, -(Math.log(0.2) + Math.log(0.1) + Math.log(0.4)) / 3);
  });

  it("a ground truth with two columns that could hold the labels names the files to fix", async () => {
    const format = parseSubmissionFormat(
      "id_column: id\ncolumns:\n  - {name: id, type: string}\n  - {name: p, type: probability}\n",
      "format.yml",
    );
    const groundTruthPath = tempFile(csv(["id,y,z", "1,2,a", "2,10,b"]));
    const predictionsPath = tempFile(csv(["id,p", "1,0.2", "2,0.9"]));
    await expect(
      scorePredictions({ groundTruthPath, predictionsPath, format, metric: "log_loss" }),
    ).rejects.toThrow(
      /holds the labels \(y, z\): give the submission format \(paths\.submission_format\) one category column named like it, or keep only .* in the ground truth \(paths\.ground_truth\)$/,
    );
  });

  it("a ground-truth class without a probability column is a ScoringError", async () => {
    const format = await loadSubmissionFormat(new URL("./fixtures/format.yml", import.meta.url).pathname);
    const files = {
      groundTruthPath: tempFile(csv(["id,species", "1,adelie", "2,emperor"])),
      predictionsPath: tempFile(
        csv(["id,species,p_adelie,p_chinstrap,p_gentoo", "1,adelie,1,0,0", "2,adelie,1,0,0"]),
      ),
      format,
    };
    await expect(scorePredictions({ ...files, metric: "log_loss" })).rejects.toThrow(
      /ground truth has class "emperor" but no probability column is for it/,
    );
    // Label metrics score it as always wrong, and say so.
    const result = await scorePredictions({ ...files, metric: "accuracy" });
    expect(result.overall).toBe(0.5);
    expect(result.warnings).toEqual([
      expect.stringMatching(/has classes that are not categories of column "species" .*: emperor$/),
    ]);
  });

  it("one probability column for a multi-class ground truth is a ScoringError", async () => {
    const format = parseSubmissionFormat(
      "id_column: id\ncolumns:\n  - {name: id, type: string}\n  - {name: p, type: probability}\n",
      "format.yml",
    );
    const files = {
      groundTruthPath: tempFile(csv(["id,y", "1,a", "2,b", "3,c"])),
      predictionsPath: tempFile(csv(["id,p", "1,0.2", "2,0.9", "3,0.6"])),
      format,
    };
    await expect(scorePredictions({ ...files, metric: "roc_auc" })).rejects.toThrow(/has 3 classes/);
  });

  it("ground-truth problems are ScoringErrors naming the file and line", async () => {
    const cases: [string[], RegExp][] = [
      [["id,label", "1,a"], /has no target column "y"/],
      [["key,y", "1,a"], /has no id column "id"/],
      [["id,y", "1,a", "1,b"], /truth\.csv:3: id "1" appears more than once/],
      [["id,y", "1,a", "2"], /truth\.csv:3: the row has 1 fields/],
      [["id,y", ",a"], /truth\.csv:2: the id is empty/],
      [[], /is empty/],
    ];
    for (const [truth, message] of cases) {
      const files = {
        groundTruthPath: tempFile(truth.length ? csv(truth) : "", "truth.csv"),
        predictionsPath: tempFile(csv(["id,y", "1,a"])),
        format: LABEL_FORMAT,
      };
      await expect(scorePredictions({ ...files, metric: "accuracy" })).rejects.toThrow(message);
    }
  });

  it("a non-numeric regression target is a ScoringError", async () => {
    const format = parseSubmissionFormat(
      "id_column: id\ncolumns:\n  - {name: id, type: string}\n  - {name: y, type: float}\n",
      "format.yml",
    );
    const files = {
      groundTruthPath: tempFile(csv(["id,y", "1,1.5", "2,abc"]), "truth.csv"),
      predictionsPath: tempFile(csv(["id,y", "1,1", "2,2"])),
      format,
    };
    await expect(scorePredictions({ ...files, metric: "rmse" })).rejects.toThrow(
      /truth\.csv:3: the target "y" is "abc", not a finite number/,
    );
  });

  it("options that do not fit the format are ScoringErrors", async () => {
    const files = labelFiles(["id,y", "1,a"], ["id,y", "1,a"]);
    await expect(scorePredictions({ ...files, metric: "rmse" })).rejects.toThrow(
      /rmse needs a numeric column .* the format has 0 such columns: add one to the submission format \(paths\.submission_format\)/,
    );
    await expect(scorePredictions({ ...files, metric: "log_loss" })).rejects.toThrow(
      /has none; add columns of type probability/,
    );
    await expect(scorePredictions({ ...files, metric: "accuracy", predictionColumn: "z" })).rejects.toThrow(
      /column "z" is not a value column/,
    );
    await expect(scorePredictions({ ...files, metric: "nope" as MetricName })).rejects.toThrow(
      /unknown metric "nope"/,
    );
  });
});
