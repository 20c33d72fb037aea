/**
 * Reading the hidden ground truth: the expected ids (in file order), one target column (labels as
 * dictionary codes, or numbers) and the Kaggle-style usage column (Public / Private / Ignored).
 * Streamed; memory holds the ids and typed arrays. The ground truth is the organizer's file, so anything
 * wrong in it is a ScoringError (scoring_failed) naming the file, line and rule.
 */
import { CsvReadError, readCsvRecords, type CsvReadOptions } from "./csv.js";
import { ScoringError } from "./errors.js";
import { IdIndex, type IdType } from "./id-index.js";

export const USAGE_PUBLIC = 0;
export const USAGE_PRIVATE = 1;
export const USAGE_IGNORED = 2;

export type Target =
  | { column: string; kind: "label"; codes: Int32Array; classes: string[] }
  | { column: string; kind: "number"; values: Float64Array };

export interface GroundTruth {
  path: string;
  /** Header of the file. */
  columns: string[];
  ids: IdIndex;
  /** Null when only the ids were asked for. */
  target: Target | null;
  /** Per row: USAGE_PUBLIC, USAGE_PRIVATE or USAGE_IGNORED; null when the file has no usage column. */
  usage: Uint8Array | null;
  /** The usage column's name as written in the file (matched case-insensitively), or null. */
  usageColumn: string | null;
}

export interface ReadGroundTruthOptions extends CsvReadOptions {
  idColumn: string;
  /** How ids compare: integer ids by value ("007" = "7"). Default string. */
  idType?: IdType;
  /** The target column to read, or null/absent for ids (and usage) only. */
  targetColumn?: string | null;
  /** "label" (default): dictionary-encoded classes; "number": finite floats. */
  targetKind?: "label" | "number";
  /** Name of the usage column, matched case-insensitively; null to ignore it. Default "usage". */
  usageColumn?: string | null;
}

type NumericArray = Int32Array | Float64Array | Uint8Array;

/** An append-only typed array that doubles its capacity as it fills: one column of a million-row file. */
class Growable<T extends NumericArray> {
  private data: T;
  private length = 0;
  constructor(private readonly make: (size: number) => T) {
    this.data = make(1024);
  }
  push(value: number): void {
    if (this.length === this.data.length) {
      const next = this.make(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = value;
  }
  finish(): T {
    return this.data.slice(0, this.length) as T;
  }
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Reads a ground-truth CSV: its ids, optionally one target column (then `target` is never null), and the
 * usage split if present.
 */
export function readGroundTruth(
  path: string,
  options: ReadGroundTruthOptions & { targetColumn: string },
): Promise<GroundTruth & { target: Target }>;
export function readGroundTruth(path: string, options: ReadGroundTruthOptions): Promise<GroundTruth>;
export async function readGroundTruth(path: string, options: ReadGroundTruthOptions): Promise<GroundTruth> {
  const idType = options.idType ?? "string";
  const ids = new IdIndex(idType);
  const targetColumn = options.targetColumn ?? null;
  const targetKind = options.targetKind ?? "label";
  const usageName = options.usageColumn === undefined ? "usage" : options.usageColumn;
  const fail = (line: number | null, message: string): never => {
    throw new ScoringError(`ground truth ${path}${line === null ? "" : `:${line}`}: ${message}`);
  };

  let columns: string[] | null = null;
  let idAt = -1;
  let targetAt = -1;
  let usageAt = -1;
  let width = 0;
  const codes = new Growable((n) => new Int32Array(n));
  const values = new Growable((n) => new Float64Array(n));
  const usage = new Growable((n) => new Uint8Array(n));
  const classIndex = new Map<string, number>();
  const classes: string[] = [];

  const onRecord = (fields: string[], line: number): void => {
    if (columns === null) {
      columns = fields;
      width = fields.length;
      idAt = fields.indexOf(options.idColumn);
      if (idAt < 0) fail(line, `has no id column "${options.idColumn}" (header: ${fields.join(",")})`);
      if (targetColumn !== null) {
        targetAt = fields.indexOf(targetColumn);
        if (targetAt < 0) fail(line, `has no target column "${targetColumn}" (header: ${fields.join(",")})`);
      }
      if (usageName !== null) {
        const lower = usageName.toLowerCase();
        usageAt = fields.findIndex((name) => name.toLowerCase() === lower);
      }
      return;
    }
    if (fields.length !== width) fail(line, `the row has ${fields.length} fields, the header has ${width}`);
    const id = fields[idAt]!;
    if (id === "") fail(line, "the id is empty");
    if (ids.add(id) < 0) fail(line, `id ${JSON.stringify(id)} appears more than once; ids must be unique`);
    if (targetAt >= 0) {
      const cell = fields[targetAt]!;
      if (targetKind === "label") {
        if (cell === "") fail(line, `the target "${targetColumn}" is empty`);
        let code = classIndex.get(cell);
        if (code === undefined) {
          code = classes.length;
          classIndex.set(cell, code);
          classes.push(cell);
        }
        codes.push(code);
      } else {
        const value = DECIMAL.test(cell) ? Number(cell) : NaN;
        if (!Number.isFinite(value)) {
          fail(line, `the target "${targetColumn}" is ${JSON.stringify(cell)}, not a finite number`);
        }
        values.push(value);
      }
    }
    if (usageAt >= 0) {
      const cell = fields[usageAt]!;
      // Exact spellings first: no lower-casing (an allocation) per row in the usual case.
      const lower = cell === "Public" || cell === "Private" || cell === "Ignored" ? cell : cell.toLowerCase();
      if (lower === "Public" || lower === "public") usage.push(USAGE_PUBLIC);
      else if (lower === "Private" || lower === "private") usage.push(USAGE_PRIVATE);
      else if (lower === "Ignored" || lower === "ignored") usage.push(USAGE_IGNORED);
      else fail(line, `usage is ${JSON.stringify(cell)}; write Public, Private or Ignored`);
    }
  };

  try {
    await readCsvRecords(path, onRecord, options);
  } catch (error) {
    if (error instanceof CsvReadError) fail(error.line, error.message);
    throw error;
  }
  if (columns === null) fail(null, "is empty; it needs a header and one row per test id");
  const header = columns as unknown as string[];
  let target: Target | null = null;
  if (targetColumn !== null) {
    target =
      targetKind === "label"
        ? { column: targetColumn, kind: "label", codes: codes.finish(), classes }
        : { column: targetColumn, kind: "number", values: values.finish() };
  }
  return {
    path,
    columns: header,
    ids,
    target,
    usage: usageAt >= 0 ? usage.finish() : null,
    usageColumn: usageAt >= 0 ? header[usageAt]! : null,
  };
}
