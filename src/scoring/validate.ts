/**
 * Validation of a predictions CSV against the submission format and the expected ids, in one streaming
 * pass: memory holds the expected ids (and a byte per id), never the file.
 *
 * Rules: the header has exactly the format's columns in order; every row has as many fields as the
 * header; the ids are exactly the expected ones, each once; every cell is non-empty and of its column's
 * type (no NaN or infinity); the bytes are UTF-8 (a BOM is fine), lines end in LF or CRLF.
 */
import { basename } from "node:path";
import { CsvReadError, readCsvRecords, type CsvReadOptions } from "./csv.js";
import { JsonReadError, readJsonArray, readJsonLines, type JsonReadOptions } from "./json.js";
import { ScoringError } from "./errors.js";
import { expectedHeader, predictionsEncoding, type FormatColumn, type SubmissionFormat } from "./format.js";
import { IdIndex, type IdType } from "./id-index.js";
import { ProblemCollector, type ValidationResult } from "./problems.js";

export { IdIndex, canonicalId, type IdType } from "./id-index.js";

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NAN_WORDS = /^[+-]?(?:nan|na|n\/a|null|none)$/i;
const INF_WORDS = /^[+-]?(?:inf|infinity)$/i;

/** Where a scan writes a parsed column: `into[row * stride + offset]` (category: index in categories). */
export interface Capture {
  column: string;
  into: Int32Array | Float64Array;
  stride?: number;
  offset?: number;
}

export interface ScanOptions extends CsvReadOptions, JsonReadOptions {
  /** How the file is named in problems; default its base name. */
  displayName?: string;
  /** Problems shown per rule (the rest are counted); default 5. */
  maxShownPerRule?: number;
}

export interface ScanResult {
  problems: ProblemCollector;
  rows: number;
}

const TYPE_CODE = { string: 0, integer: 1, float: 2, probability: 3, category: 4 } as const;

function listForFix(values: string[], max = 12): string {
  const shown = values.slice(0, max).join(", ");
  return values.length > max ? `${shown}, ... (${values.length} in all)` : shown;
}

function typeFix(column: FormatColumn): string {
  switch (column.type) {
    case "string":
      return `write a non-empty value in column "${column.name}"`;
    case "integer":
      return `write a whole number like 3 or -12 in column "${column.name}"`;
    case "float":
      return `write a finite decimal number like 0.25 or 1e-3 in column "${column.name}"`;
    case "probability":
      return `write a probability between 0 and 1, like 0.25, in column "${column.name}"`;
    case "category":
      return `write exactly one of: ${listForFix(column.categories ?? [])}`;
  }
}

/** How the format's ids compare: by value when the id column is an integer ("007" = "7"), else as text. */
export function formatIdType(format: Pick<SubmissionFormat, "columns" | "idColumn">): IdType {
  return format.columns.find((column) => column.name === format.idColumn)?.type === "integer"
    ? "integer"
    : "string";
}

/**
 * The shared streaming pass: checks everything validatePredictions checks and, for scoring, writes the
 * parsed values of some columns into typed arrays indexed by the expected id's row.
 */
export async function scanPredictions(
  predictionsPath: string,
  format: SubmissionFormat,
  ids: IdIndex,
  captures: Capture[] = [],
  options: ScanOptions = {},
): Promise<ScanResult> {
  const file = options.displayName ?? basename(predictionsPath);
  const encoding = predictionsEncoding(format);
  const problems = new ProblemCollector(file, options.maxShownPerRule ?? 5, encoding !== "csv");
  const columns = format.columns;
  const width = columns.length;
  const idIndex = columns.findIndex((column) => column.name === format.idColumn);
  const idType = formatIdType(format);
  if (idType !== ids.type) {
    throw new ScoringError(
      `the expected ids were read as ${ids.type} ids but the format's id column "${format.idColumn}" has type ${idType}`,
    );
  }
  const types = Int8Array.from(columns, (column) => TYPE_CODE[column.type]);
  const categoryCodes = columns.map((column) =>
    column.categories ? new Map(column.categories.map((category, code) => [category, code])) : null,
  );
  // Per column: where to write parsed values (at most one capture per column and offset set).
  const captureOf: (Capture & { stride: number; offset: number })[][] = columns.map(() => []);
  for (const capture of captures) {
    const at = columns.findIndex((column) => column.name === capture.column);
    if (at < 0 || at === idIndex) {
      throw new ScoringError(
        `cannot read column "${capture.column}": it is not a value column of the format`,
      );
    }
    captureOf[at]!.push({ ...capture, stride: capture.stride ?? 1, offset: capture.offset ?? 0 });
  }

  const seen = new Uint8Array(ids.size);
  const firstLine = new Int32Array(ids.size);
  let rows = 0;
  let headerDone = false;
  const header = expectedHeader(format);

  const checkHeader = (fields: string[], line: number): boolean => {
    const expected = columns.map((column) => column.name);
    if (fields.length === width && fields.every((name, i) => name === expected[i])) return true;
    const fix = `make the first line exactly: ${header}`;
    const expectedSet = new Set(expected);
    const got = new Set(fields);
    const overlap = fields.filter((name) => expectedSet.has(name)).length;
    if (overlap === 0) {
      problems.add("header", () => ({
        line,
        column: null,
        message: `the first line (${JSON.stringify(fields.join(",")).slice(0, 120)}) is not the header: it has none of the columns ${listForFix(expected)}`,
        fix: `add the header line before the data: ${header}`,
      }));
      return false;
    }
    const counted = new Map<string, number>();
    for (const name of fields) counted.set(name, (counted.get(name) ?? 0) + 1);
    for (const [name, count] of counted) {
      if (count > 1) {
        problems.add("header", () => ({
          line,
          column: name,
          message: `column "${name}" appears ${count} times in the header`,
          fix,
        }));
      }
    }
    for (const name of expected) {
      if (!got.has(name)) {
        const near = fields.find((field) => field.trim().toLowerCase() === name.toLowerCase());
        problems.add("header", () => ({
          line,
          column: name,
          message:
            `column "${name}" is missing` +
            (near !== undefined
              ? ` (the header has ${JSON.stringify(near)}; spelling, case and spaces matter)`
              : ""),
          fix,
        }));
      }
    }
    for (const name of got) {
      if (!expectedSet.has(name)) {
        problems.add("header", () => ({
          line,
          column: name,
          message: `unexpected column "${name}"; the format has no such column`,
          fix,
        }));
      }
    }
    if (!problems.has("header")) {
      problems.add("header", () => ({
        line,
        column: null,
        message: `the columns are in the wrong order: got ${fields.join(",")}`,
        fix,
      }));
    }
    return false;
  };

  const badCell = (line: number, c: number, cell: string): void => {
    const column = columns[c]!;
    const type = types[c]!;
    if (cell === "") {
      problems.add("empty_cell", () => ({
        line,
        column: column.name,
        message: "the cell is empty",
        fix: `${typeFix(column)}; every row needs a value in every column`,
      }));
      return;
    }
    const shown = JSON.stringify(cell.length > 60 ? `${cell.slice(0, 60)}…` : cell);
    if (type === TYPE_CODE.category) {
      const lower = cell.trim().toLowerCase();
      const near = column.categories?.find((category) => category.toLowerCase() === lower);
      problems.add("category", () => ({
        line,
        column: column.name,
        message:
          `${shown} is not one of the categories` + (near !== undefined ? ` (did you mean "${near}"?)` : ""),
        fix: typeFix(column),
      }));
      return;
    }
    if (NAN_WORDS.test(cell)) {
      problems.add("nan", () => ({
        line,
        column: column.name,
        message: `${shown} is a missing value (NaN)`,
        fix: `${typeFix(column)}; fill missing predictions before writing the file`,
      }));
      return;
    }
    if (INF_WORDS.test(cell) || (DECIMAL.test(cell) && !Number.isFinite(Number(cell)))) {
      problems.add("infinite", () => ({
        line,
        column: column.name,
        message: `${shown} is infinite`,
        fix: typeFix(column),
      }));
      return;
    }
    if (type === TYPE_CODE.integer) {
      problems.add("integer", () => ({
        line,
        column: column.name,
        message: `${shown} is not an integer`,
        fix: typeFix(column),
      }));
      return;
    }
    if (type === TYPE_CODE.probability && DECIMAL.test(cell)) {
      problems.add("probability", () => ({
        line,
        column: column.name,
        message: `${shown} is outside [0, 1]`,
        fix: `${typeFix(column)}; clip predictions to [0, 1]`,
      }));
      return;
    }
    problems.add("float", () => ({
      line,
      column: column.name,
      message: `${shown} is not a number`,
      fix: typeFix(column),
    }));
  };

  /**
   * Checks one data row (a CSV row, or a JSON record's values in column order). A field that is undefined
   * in a JSON record was already reported (missing key, wrong JSON type) and is skipped.
   */
  const checkRow = (fields: (string | undefined)[], line: number, checkWidth: boolean): void => {
    rows++;
    let row = -1;
    const idCell = fields[idIndex];
    if (idCell === undefined || idCell === "") {
      if (idCell === "") badCell(line, idIndex, idCell);
    } else {
      const found = ids.row(idCell);
      if (found === undefined) {
        if (idType === "integer" && !INTEGER.test(idCell)) badCell(line, idIndex, idCell);
        else {
          problems.add("extra_id", () => ({
            line,
            column: format.idColumn,
            message: `id ${JSON.stringify(idCell)} is not one of the expected ids`,
            fix: "write one row per id of the test data, and no others",
          }));
        }
      } else if (seen[found] === 1) {
        problems.add("duplicate_id", () => ({
          line,
          column: format.idColumn,
          message: `id ${JSON.stringify(idCell)} was already on line ${firstLine[found]}`,
          fix: "write each id exactly once",
        }));
      } else {
        seen[found] = 1;
        firstLine[found] = line;
        row = found;
      }
    }
    if (checkWidth && fields.length !== width) {
      problems.add("ragged_row", () => ({
        line,
        column: null,
        message: `the row has ${fields.length} field${fields.length === 1 ? "" : "s"}, the header has ${width}`,
        fix: `write exactly ${width} comma-separated fields per row (${header}); quote values that contain commas`,
      }));
      return;
    }
    for (let c = 0; c < width; c++) {
      if (c === idIndex) continue;
      const cell = fields[c];
      if (cell === undefined) continue;
      const type = types[c]!;
      let value: number;
      switch (type) {
        case TYPE_CODE.category: {
          const code = categoryCodes[c]!.get(cell);
          if (code === undefined) {
            badCell(line, c, cell);
            continue;
          }
          value = code;
          break;
        }
        case TYPE_CODE.string:
          if (cell === "") {
            badCell(line, c, cell);
            continue;
          }
          continue;
        case TYPE_CODE.integer:
          if (!INTEGER.test(cell)) {
            badCell(line, c, cell);
            continue;
          }
          value = Number(cell);
          break;
        default: {
          value = DECIMAL.test(cell) ? Number(cell) : NaN;
          if (!Number.isFinite(value) || (type === TYPE_CODE.probability && !(value >= 0 && value <= 1))) {
            badCell(line, c, cell);
            continue;
          }
        }
      }
      if (row >= 0) {
        const targets = captureOf[c]!;
        for (let k = 0; k < targets.length; k++) {
          const target = targets[k]!;
          target.into[row * target.stride + target.offset] = value;
        }
      }
    }
  };

  const onRecord = (fields: string[], line: number): boolean => {
    if (!headerDone) {
      headerDone = true;
      return checkHeader(fields, line);
    }
    checkRow(fields, line, true);
    return true;
  };

  /** The checks after the last row: rows at all, then every expected id present. */
  const finish = (noRows: string, noRowsFix: string): ScanResult => {
    if (rows === 0 && ids.size > 0) {
      problems.add("no_rows", () => ({
        line: null,
        column: null,
        message: `${noRows}; ${ids.size} ids are expected`,
        fix: noRowsFix,
      }));
      return { problems, rows };
    }
    problems.addMissingIds(seen, ids, (id) => ({
      line: null,
      column: format.idColumn,
      message: `id ${JSON.stringify(id)} has no ${encoding === "csv" ? "row" : "record"}`,
      fix: `write one ${encoding === "csv" ? "row" : "record"} per id of the test data`,
    }));
    return { problems, rows };
  };

  if (encoding !== "csv") {
    const toCells = jsonRecordCells(format, problems);
    const onJson = (value: unknown, line: number): boolean => {
      const cells = toCells(value, line);
      if (cells !== undefined) checkRow(cells, line, false);
      else rows++;
      return true;
    };
    const example = jsonExample(format, encoding);
    try {
      const read = encoding === "jsonl" ? readJsonLines : readJsonArray;
      const summary = await read(predictionsPath, onJson, options);
      if (!summary.nonEmpty) {
        problems.add("empty_file", () => ({
          line: null,
          column: null,
          message: "the file is empty",
          fix: `write one record per id, like ${example}`,
        }));
        return { problems, rows };
      }
    } catch (error) {
      if (!(error instanceof JsonReadError) || error.kind === "io") throw error;
      problems.add(JSON_ERROR_RULES[error.kind], () => ({
        line: error.line,
        column: null,
        message: error.kind === "syntax" ? `the JSON cannot be parsed: ${error.message}` : error.message,
        fix:
          error.kind === "encoding"
            ? "save the file as UTF-8 (json.dump(..., ensure_ascii=True) or open(..., 'w', encoding='utf-8'))"
            : error.kind === "too_large"
              ? "write one small record per id; no record may carry large data"
              : `write ${encoding === "jsonl" ? "one JSON object per line" : "one JSON array of objects"}, like ${example}`,
      }));
      return { problems, rows };
    }
    return finish(
      encoding === "jsonl" ? "the file has no records" : "the array is empty",
      `write one record per id of the test data, like ${example}`,
    );
  }

  try {
    const summary = await readCsvRecords(predictionsPath, onRecord, options);
    if (summary.records === 0) {
      problems.add("empty_file", () => ({
        line: null,
        column: null,
        message: "the file is empty",
        fix: `write the header line (${header}) and one row per id`,
      }));
      return { problems, rows };
    }
  } catch (error) {
    if (!(error instanceof CsvReadError) || error.kind === "io") throw error;
    if (error.kind === "encoding") {
      problems.add("encoding", () => ({
        line: error.line,
        column: null,
        message: error.message,
        fix: "save the file as UTF-8 (e.g. pandas to_csv(..., encoding='utf-8'))",
      }));
    } else {
      problems.add("csv_syntax", () => ({
        line: error.line,
        column: null,
        message: `the CSV cannot be parsed: ${error.message}`,
        fix: "write standard CSV: separate fields with commas, and quote a field that contains a comma or a quote, doubling quotes inside it",
      }));
    }
    return { problems, rows };
  }
  if (problems.has("header")) return { problems, rows };
  return finish(
    "the file has a header but no rows",
    "write one row per id of the test data under the header",
  );
}

const JSON_ERROR_RULES = {
  encoding: "encoding",
  syntax: "json_syntax",
  too_large: "record_too_large",
} as const;

/**
 * Turns a JSON record into cells in column order, reporting what cannot be a cell: a record that is not
 * an object, a missing or unknown key, a value of the wrong JSON type (a number written as text, null).
 * Returns undefined when the record is not an object.
 */
function jsonRecordCells(
  format: SubmissionFormat,
  problems: ProblemCollector,
): (value: unknown, line: number) => (string | undefined)[] | undefined {
  const columns = format.columns;
  const known = new Set(columns.map((column) => column.name));
  const keys = columns.map((column) => column.name).join(", ");
  const numeric = (type: FormatColumn["type"]): boolean =>
    type === "integer" || type === "float" || type === "probability";
  return (value, line) => {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      problems.add("not_an_object", () => ({
        line,
        column: null,
        message: `the record is ${describeJson(value)}, not an object`,
        fix: `write each record as an object with the keys ${keys}`,
      }));
      return undefined;
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (known.has(key)) continue;
      const near = columns.find((column) => column.name.toLowerCase() === key.trim().toLowerCase());
      problems.add("unexpected_key", () => ({
        line,
        column: key,
        message:
          `unexpected key ${JSON.stringify(key)}` +
          (near
            ? ` (did you mean "${near.name}"? spelling, case and spaces matter)`
            : "; the format has no such key"),
        fix: `write exactly the keys ${keys}`,
      }));
    }
    return columns.map((column) => {
      const cell = record[column.name];
      if (cell === undefined) {
        problems.add("missing_key", () => ({
          line,
          column: column.name,
          message: `key "${column.name}" is missing`,
          fix: `write exactly the keys ${keys}`,
        }));
        return undefined;
      }
      if (cell === null) {
        problems.add("nan", () => ({
          line,
          column: column.name,
          message: "null is a missing value",
          fix: "fill missing predictions before writing the file",
        }));
        return undefined;
      }
      if (typeof cell === "number" && (numeric(column.type) || column.type === "category"))
        return String(cell);
      if (typeof cell === "string" && !numeric(column.type)) return cell;
      const wanted = numeric(column.type) ? "a JSON number" : "a JSON string";
      problems.add("json_type", () => ({
        line,
        column: column.name,
        message: `${describeJson(cell)} is not ${wanted}`,
        fix:
          typeof cell === "string"
            ? `write the number without quotes, e.g. 0.25 not "0.25"`
            : `write ${wanted} for key "${column.name}"${numeric(column.type) ? "" : ", in double quotes"}`,
      }));
      return undefined;
    });
  };
}

function describeJson(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/** A one-record example of the format, for fixes. */
function jsonExample(format: SubmissionFormat, encoding: "json" | "jsonl"): string {
  const sample: Record<string, unknown> = {};
  for (const column of format.columns) {
    sample[column.name] =
      column.type === "category"
        ? (column.categories?.[0] ?? "a")
        : column.type === "string"
          ? "..."
          : column.type === "integer"
            ? 1
            : 0.5;
  }
  const record = JSON.stringify(sample);
  return encoding === "jsonl" ? record : `[${record}, ...]`;
}

/**
 * Checks a predictions file against the format and the expected ids. Never throws for a participant's
 * mistake (those become problems); throws for an unreadable file (e.g. missing: that is output_missing).
 */
export async function validatePredictions(
  predictionsPath: string,
  format: SubmissionFormat,
  expectedIds: Iterable<string> | IdIndex,
  options: ScanOptions = {},
): Promise<ValidationResult> {
  const ids = expectedIds instanceof IdIndex ? expectedIds : IdIndex.from(expectedIds, formatIdType(format));
  const { problems, rows } = await scanPredictions(predictionsPath, format, ids, [], options);
  return problems.ok ? { ok: true, rows } : problems.failure();
}
