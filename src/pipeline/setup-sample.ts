/**
 * Predictions made from the ground truth, for `proctor check`: its own values (what a perfect submission
 * writes) and the same values one row off (what a poor one writes), in the submission format's file
 * encoding. Scoring both tries the metric or the organizer's scorer end to end, and the perfect one must
 * score at least as well: otherwise the direction or the scorer is wrong.
 */
import { writeFile } from "node:fs/promises";
import { predictionsEncoding, readCsvRecords, type SubmissionFormat } from "../scoring/index.js";

export interface SamplePredictions {
  /** The ground truth's own values. */
  perfect: string;
  /** Every value column shifted one row down (the last row takes the first's): wrong almost everywhere. */
  shifted: string;
  rows: number;
  /**
   * Format columns the ground truth has no values for, filled with a value of their type instead: the
   * "perfect" sample is then not perfect, and only has to score at all.
   */
  filled: string[];
}

/**
 * Writes the two samples at `<base>.perfect` and `<base>.shifted` (plus the format's extension); returns
 * why no sample can be made instead (a folder format, no rows).
 */
export async function writeSamplePredictions(
  format: SubmissionFormat,
  groundTruthPath: string,
  base: string,
): Promise<SamplePredictions | { skipped: string }> {
  if (format.columns.length === 0)
    return { skipped: `the submission format ${format.source} has no columns to fill` };
  const header: string[] = [];
  const rows: string[][] = [];
  await readCsvRecords(groundTruthPath, (fields) => {
    if (header.length === 0) header.push(...fields);
    else rows.push(fields);
  });
  const columnOf = (name: string) => {
    const exact = header.indexOf(name);
    return exact >= 0 ? exact : header.findIndex((h) => h.toLowerCase() === name.toLowerCase());
  };
  // Each format column's value in a ground-truth row.
  const fills: ((row: string[]) => string)[] = [];
  const filled: string[] = [];
  for (const column of format.columns) {
    const at = columnOf(column.name);
    const labelAt =
      at < 0 && column.type === "probability" && column.class !== undefined ? labelColumn(column.class) : -1;
    if (at >= 0) fills.push((row) => row[at] ?? "");
    else if (labelAt >= 0) fills.push((row) => (row[labelAt] === column.class ? "1" : "0"));
    else {
      filled.push(column.name);
      const value = EXAMPLE[column.type] ?? column.categories?.[0] ?? "x";
      fills.push(() => value);
    }
  }
  if (rows.length === 0) return { skipped: "the ground truth has no rows" };

  const idIndex = format.columns.findIndex((column) => column.name === format.idColumn);
  const perfect = rows.map((row) => fills.map((fill) => fill(row)));
  const shifted = perfect.map((values, i) =>
    values.map((value, c) => (c === idIndex ? value : perfect[(i + 1) % perfect.length]![c]!)),
  );
  const extension = predictionsEncoding(format);
  const paths = { perfect: `${base}.perfect.${extension}`, shifted: `${base}.shifted.${extension}` };
  await writeFile(paths.perfect, encode(format, perfect));
  await writeFile(paths.shifted, encode(format, shifted));
  return { ...paths, rows: rows.length, filled };

  /** The ground-truth column (neither the id nor the usage) whose values include `label`. */
  function labelColumn(label: string): number {
    return header.findIndex(
      (name, i) =>
        name.toLowerCase() !== format.idColumn.toLowerCase() &&
        name.toLowerCase() !== "usage" &&
        rows.some((row) => row[i] === label),
    );
  }
}

const NUMERIC = new Set(["integer", "float", "probability"]);
/** A value each column type takes (a category column takes its first category). */
const EXAMPLE: Partial<Record<string, string>> = {
  integer: "0",
  float: "0",
  probability: "0.5",
  string: "x",
};

/** The rows in the format's encoding: CSV with the header, JSON Lines, or one JSON array. */
function encode(format: SubmissionFormat, rows: string[][]): string {
  const encoding = predictionsEncoding(format);
  const names = format.columns.map((column) => column.name);
  if (encoding === "csv") return [names, ...rows].map((row) => row.map(csvField).join(",")).join("\n") + "\n";
  const objects = rows.map((row) =>
    Object.fromEntries(
      format.columns.map((column, c) => {
        const value = row[c]!;
        const number = Number(value);
        return [
          column.name,
          NUMERIC.has(column.type) && value.trim() !== "" && Number.isFinite(number) ? number : value,
        ];
      }),
    ),
  );
  return encoding === "jsonl"
    ? objects.map((object) => JSON.stringify(object)).join("\n") + "\n"
    : JSON.stringify(objects);
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
