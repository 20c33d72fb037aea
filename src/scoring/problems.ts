/**
 * Problems found in a predictions file (or a folder of files, one per id). Each names the file, the line,
 * the column, the rule broken and the fix. A million-row file can break one rule a million times, so a collector keeps the first few of each
 * rule and counts the rest.
 */

export const PROBLEM_RULES = [
  "encoding",
  "empty_file",
  "csv_syntax",
  "json_syntax",
  "record_too_large",
  "header",
  "not_an_object",
  "missing_key",
  "unexpected_key",
  "no_rows",
  "ragged_row",
  "empty_cell",
  "json_type",
  "nan",
  "infinite",
  "integer",
  "float",
  "probability",
  "category",
  "missing_id",
  "extra_id",
  "duplicate_id",
  "unexpected_file",
  "not_a_file",
  "file_type",
  "file_too_large",
] as const;

export type ProblemRule = (typeof PROBLEM_RULES)[number];

export interface Problem {
  /** The file as the participant knows it (e.g. "submission.csv"). */
  file: string;
  /** 1-based physical line, or null when the problem has no line (e.g. a missing id). */
  line: number | null;
  /** The column (CSV) or key (JSON) the problem is in, when it is in one. */
  column: string | null;
  /** True in a JSON file, where `column` is a key. */
  keyed?: true;
  rule: ProblemRule;
  /** What is wrong, e.g. `"0.7x" is not a number`. */
  message: string;
  /** What to do about it. */
  fix: string;
}

export interface ValidationFailure {
  ok: false;
  status: "output_invalid";
  /** The shown problems: the first few of each rule, in file order (problems without a line last). */
  problems: Problem[];
  /** How many times each rule was broken in all (shown or not). */
  counts: Partial<Record<ProblemRule, number>>;
  /** Human-readable report: one line per rule with its count, then each shown problem. */
  summary: string;
  /** The summary without the shown problems, for a reason shown beside `problems` (not listed twice). */
  overview: string;
}

export interface ValidationSuccess {
  ok: true;
  /** Data rows read (the header excluded). */
  rows: number;
}

export type ValidationResult = ValidationSuccess | ValidationFailure;

export function formatProblem(problem: Problem): string {
  const where = problem.line === null ? problem.file : `${problem.file}:${problem.line}`;
  const column = problem.column === null ? "" : ` ${problem.keyed ? "key" : "column"} "${problem.column}":`;
  return `${where}:${column} ${problem.message} [${problem.rule}]. Fix: ${problem.fix}`;
}

const RULE_NOUNS: Record<ProblemRule, [string, string]> = {
  encoding: ["encoding problem", "encoding problems"],
  empty_file: ["empty file", "empty files"],
  csv_syntax: ["CSV syntax error", "CSV syntax errors"],
  json_syntax: ["JSON syntax error", "JSON syntax errors"],
  record_too_large: ["record that is too large", "records that are too large"],
  not_an_object: ["record that is not an object", "records that are not objects"],
  missing_key: ["missing key", "missing keys"],
  unexpected_key: ["unexpected key", "unexpected keys"],
  json_type: ["value of the wrong JSON type", "values of the wrong JSON type"],
  header: ["header problem", "header problems"],
  no_rows: ["file without rows", "files without rows"],
  ragged_row: ["row with the wrong number of fields", "rows with the wrong number of fields"],
  empty_cell: ["empty cell", "empty cells"],
  nan: ["NaN value", "NaN values"],
  infinite: ["infinite value", "infinite values"],
  integer: ["value that is not an integer", "values that are not integers"],
  float: ["value that is not a number", "values that are not numbers"],
  probability: ["value that is not a probability", "values that are not probabilities"],
  category: ["value that is not one of the categories", "values that are not among the categories"],
  missing_id: ["missing id", "missing ids"],
  extra_id: ["unexpected id", "unexpected ids"],
  duplicate_id: ["duplicate id", "duplicate ids"],
  unexpected_file: ["file the format does not name", "files the format does not name"],
  not_a_file: ["entry that is not a regular file", "entries that are not regular files"],
  file_type: ["file of the wrong type", "files of the wrong type"],
  file_too_large: ["file over the size cap", "files over the size cap"],
};

/** "1 empty cell", "3 empty cells": how many times a rule was broken, in words. */
export function ruleCount(rule: ProblemRule, count: number): string {
  const [singular, plural] = RULE_NOUNS[rule];
  return `${count} ${count === 1 ? singular : plural}`;
}

export class ProblemCollector {
  private readonly shown = new Map<ProblemRule, Problem[]>();
  readonly counts: Partial<Record<ProblemRule, number>> = {};
  total = 0;

  constructor(
    readonly file: string,
    readonly maxShownPerRule = 5,
    /** The file is JSON: problems name keys, not columns. */
    readonly keyed = false,
  ) {}

  /**
   * Records a problem; cheap when the rule already has its quota shown (the thunk is not called). In a
   * folder, the problem names its own file.
   */
  add(rule: ProblemRule, make: () => Omit<Problem, "file" | "rule"> & { file?: string }): void {
    this.total++;
    const count = (this.counts[rule] ?? 0) + 1;
    this.counts[rule] = count;
    if (count > this.maxShownPerRule) return;
    let list = this.shown.get(rule);
    if (!list) this.shown.set(rule, (list = []));
    list.push(
      this.keyed ? { file: this.file, rule, keyed: true, ...make() } : { file: this.file, rule, ...make() },
    );
  }

  /** Counts `extra` more breaks of a rule without describing them (e.g. ids still missing at the end). */
  addUnshown(rule: ProblemRule, extra: number): void {
    if (extra <= 0) return;
    this.total += extra;
    this.counts[rule] = (this.counts[rule] ?? 0) + extra;
  }

  /**
   * Reports each expected id whose row is not marked in `seen` as missing_id: the first few described by
   * `make`, the rest only counted.
   */
  addMissingIds(
    seen: Uint8Array,
    ids: { idsOf(rows: number[]): string[] },
    make: (id: string) => Omit<Problem, "file" | "rule"> & { file?: string },
  ): void {
    let missing = 0;
    const shown: number[] = [];
    for (let row = 0; row < seen.length; row++) {
      if (seen[row] === 1) continue;
      missing++;
      if (missing <= this.maxShownPerRule) shown.push(row);
    }
    for (const id of ids.idsOf(shown)) this.add("missing_id", () => make(id));
    this.addUnshown("missing_id", missing - this.maxShownPerRule);
  }

  has(rule: ProblemRule): boolean {
    return (this.counts[rule] ?? 0) > 0;
  }

  get ok(): boolean {
    return this.total === 0;
  }

  failure(): ValidationFailure {
    const problems: Problem[] = [];
    const lines: string[] = [];
    for (const rule of PROBLEM_RULES) {
      const count = this.counts[rule];
      if (!count) continue;
      const list = this.shown.get(rule) ?? [];
      problems.push(...list);
      const shownNote = count > list.length ? ` (first ${list.length} shown)` : "";
      lines.push(`  ${ruleCount(rule, count)}${shownNote}`);
    }
    // Shown problems in file order; those without a line (missing ids) last.
    problems.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
    const total = this.total;
    const overview = [
      `${this.file} does not follow the submission format: ${total} problem${total === 1 ? "" : "s"}`,
      ...lines,
    ].join("\n");
    const summary = [overview, ...problems.map((problem) => `  - ${formatProblem(problem)}`)].join("\n");
    return { ok: false, status: "output_invalid", problems, counts: { ...this.counts }, summary, overview };
  }
}
