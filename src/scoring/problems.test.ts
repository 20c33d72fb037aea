import { describe, expect, it } from "vitest";
import { formatProblem, ProblemCollector } from "./problems.js";

describe("ProblemCollector", () => {
  it("keeps the first N of each rule, counts all, and lists shown problems in file order", () => {
    const problems = new ProblemCollector("submission.csv", 2);
    for (const line of [9, 3, 4]) {
      problems.add("float", () => ({ line, column: "x", message: `bad ${line}`, fix: "write a number" }));
    }
    problems.add("missing_id", () => ({
      line: null,
      column: "id",
      message: "id a has no row",
      fix: "add it",
    }));
    problems.addUnshown("missing_id", 4);
    problems.add("empty_cell", () => ({
      line: 5,
      column: "y",
      message: "the cell is empty",
      fix: "fill it",
    }));
    expect(problems.ok).toBe(false);
    const failure = problems.failure();
    expect(failure.counts).toEqual({ float: 3, missing_id: 5, empty_cell: 1 });
    expect(failure.problems.map((p) => p.line)).toEqual([3, 5, 9, null]);
    expect(failure.summary.split("\n").slice(0, 4)).toEqual([
      "submission.csv does not follow the submission format: 9 problems",
      "  1 empty cell",
      "  3 values that are not numbers (first 2 shown)",
      "  5 missing ids (first 1 shown)",
    ]);
  });

  it("does not build problems past the quota", () => {
    const problems = new ProblemCollector("f.csv", 1);
    let built = 0;
    for (let i = 0; i < 100; i++) {
      problems.add("nan", () => (built++, { line: i, column: null, message: "NaN", fix: "fill it" }));
    }
    expect(built).toBe(1);
    expect(problems.counts.nan).toBe(100);
  });

  it("formats a problem on one line", () => {
    expect(
      formatProblem({
        file: "s.csv",
        line: null,
        column: null,
        rule: "empty_file",
        message: "the file is empty",
        fix: "write rows",
      }),
    ).toBe("s.csv: the file is empty [empty_file]. Fix: write rows");
  });
});
