/**
 * Streaming reading of JSON predictions, one record at a time with its line number; memory is bounded by
 * the read chunk and the largest record (maxRecordBytes), never the file.
 *
 * - JSON Lines (`submission.jsonl`): one JSON value per line; blank lines are skipped; LF or CRLF.
 * - A JSON document (`results.json`): one array of records, `[{...}, {...}]`, as pandas'
 *   `to_json(orient="records")` and `json.dump(list_of_dicts)` write it. A small splitter finds where each
 *   top-level element starts and ends (tracking strings, escapes and nesting) and checks the punctuation
 *   between them; each element is then parsed alone with JSON.parse. So a 2 GB results.json streams in
 *   constant memory, every problem gets the line its record starts on, and no dependency is needed (a
 *   full streaming tokenizer would parse every value twice, and gives offsets rather than lines).
 *
 * Bytes must be UTF-8 (checked per record; a BOM at the start is skipped).
 */
import { createReadStream } from "node:fs";
import { isUtf8 } from "node:buffer";

export type JsonReadErrorKind = "encoding" | "syntax" | "too_large" | "io";

export class JsonReadError extends Error {
  override name = "JsonReadError";
  constructor(
    readonly kind: JsonReadErrorKind,
    message: string,
    /** 1-based line of the problem, when known. */
    readonly line: number | null,
  ) {
    super(message);
  }
}

/** Called with each record and the 1-based line it starts on; return false to stop reading. */
export type JsonRecordHandler = (value: unknown, line: number) => boolean | void;

export interface JsonReadOptions {
  /** Read-chunk size; 1 MiB by default. */
  chunkBytes?: number;
  /** Largest record (a line of JSON Lines, an element of the array); 1 MiB by default. */
  maxRecordBytes?: number;
}

export interface JsonReadSummary {
  records: number;
  stopped: boolean;
  bytes: number;
  /** False when the file holds nothing but white space. */
  nonEmpty: boolean;
}

const DEFAULT_MAX_RECORD = 1 << 20;

async function* chunksOf(path: string, chunkBytes: number): AsyncGenerator<Buffer> {
  const input = createReadStream(path, { highWaterMark: chunkBytes });
  try {
    for await (const chunk of input) yield chunk as Buffer;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new JsonReadError("io", `cannot be read (${code ?? String(error)})`, null);
  } finally {
    input.destroy();
  }
}

function isBom(buf: Buffer, at: number): boolean {
  return buf[at] === 0xef && buf[at + 1] === 0xbb && buf[at + 2] === 0xbf;
}

function parseRecord(bytes: Buffer, line: number): unknown {
  if (!isUtf8(bytes)) {
    throw new JsonReadError(
      "encoding",
      "the record is not valid UTF-8 (was the file written as Latin-1/cp1252 or UTF-16?)",
      line,
    );
  }
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw new JsonReadError("syntax", (error as Error).message, line);
  }
}

function tooLarge(line: number, max: number, what: string): JsonReadError {
  return new JsonReadError("too_large", `${what} is longer than ${max} bytes`, line);
}

/** Reads a JSON Lines file record by record. */
export async function readJsonLines(
  path: string,
  onRecord: JsonRecordHandler,
  options: JsonReadOptions = {},
): Promise<JsonReadSummary> {
  const max = options.maxRecordBytes ?? DEFAULT_MAX_RECORD;
  let line = 1;
  let records = 0;
  let bytes = 0;
  let nonEmpty = false;
  let parts: Buffer[] = [];
  let partBytes = 0;
  let first = true;
  const finishLine = (tail: Buffer): boolean => {
    let text = parts.length === 0 ? tail : Buffer.concat([...parts, tail]);
    parts = [];
    partBytes = 0;
    if (first) {
      first = false;
      if (isBom(text, 0)) text = text.subarray(3);
    }
    const at = line++;
    if (text.length > 0 && text[text.length - 1] === 13) text = text.subarray(0, -1);
    if (/^[ \t]*$/.test(text.toString("latin1"))) return true;
    nonEmpty = true;
    records++;
    return onRecord(parseRecord(text, at), at) !== false;
  };
  for await (const chunk of chunksOf(path, options.chunkBytes ?? 1 << 20)) {
    bytes += chunk.length;
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      if (partBytes + nl - start > max) throw tooLarge(line, max, "the line");
      if (!finishLine(chunk.subarray(start, nl))) return { records, stopped: true, bytes, nonEmpty };
      start = nl + 1;
    }
    if (start < chunk.length) {
      partBytes += chunk.length - start;
      if (partBytes > max) throw tooLarge(line, max, "the line");
      parts.push(Buffer.from(chunk.subarray(start)));
    }
  }
  if (partBytes > 0 && !finishLine(Buffer.alloc(0))) return { records, stopped: true, bytes, nonEmpty };
  return { records, stopped: false, bytes, nonEmpty };
}

const BOM = [0xef, 0xbb, 0xbf];
const WS = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0d]) WS[c] = 1;

/** Reads a JSON document holding one array, element by element. */
export async function readJsonArray(
  path: string,
  onRecord: JsonRecordHandler,
  options: JsonReadOptions = {},
): Promise<JsonReadSummary> {
  const max = options.maxRecordBytes ?? DEFAULT_MAX_RECORD;
  type State = "start" | "open" | "value" | "after" | "end";
  let state: State = "start";
  let line = 1;
  let records = 0;
  let bytes = 0;
  let nonEmpty = false;
  // The element being collected.
  let parts: Buffer[] = [];
  let partBytes = 0;
  let startLine = 0;
  let depth = 0;
  let inString = false;
  let escaped = false;
  /** A bare scalar (number, true, null...) ends at white space, "," or "]". */
  let scalar = false;
  let bomAt = 0;
  const syntax = (message: string): JsonReadError => new JsonReadError("syntax", message, line);
  const describe = (byte: number): string =>
    byte >= 0x20 && byte < 0x7f ? JSON.stringify(String.fromCharCode(byte)) : `byte 0x${byte.toString(16)}`;

  for await (const chunk of chunksOf(path, options.chunkBytes ?? 1 << 20)) {
    let i = 0;
    bytes += chunk.length;
    let valueFrom = state === "value" ? i : -1;
    const take = (end: number): void => {
      if (valueFrom < 0 || end <= valueFrom) return;
      partBytes += end - valueFrom;
      if (partBytes > max) throw tooLarge(startLine, max, "the record");
      parts.push(Buffer.from(chunk.subarray(valueFrom, end)));
    };
    const emit = (end: number): boolean => {
      take(end);
      const value = parseRecord(parts.length === 1 ? parts[0]! : Buffer.concat(parts), startLine);
      parts = [];
      partBytes = 0;
      valueFrom = -1;
      state = "after";
      records++;
      return onRecord(value, startLine) !== false;
    };
    for (; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (state === "value") {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 0x5c) escaped = true;
          else if (c === 0x22) {
            inString = false;
            if (depth === 0 && !emit(i + 1)) return { records, stopped: true, bytes, nonEmpty };
          }
          continue;
        }
        if (scalar) {
          if (WS[c] === 1 || c === 0x2c || c === 0x5d) {
            scalar = false;
            if (!emit(i)) return { records, stopped: true, bytes, nonEmpty };
            i--; // the delimiter is read again in state "after"
          }
          continue;
        }
        if (c === 0x0a) line++;
        if (c === 0x22) inString = true;
        else if (c === 0x7b || c === 0x5b) depth++;
        else if (c === 0x7d || c === 0x5d) {
          depth--;
          if (depth === 0 && !emit(i + 1)) return { records, stopped: true, bytes, nonEmpty };
        }
        continue;
      }
      if (c === 0x0a) line++;
      if (WS[c] === 1) continue;
      // A byte-order mark, possibly split across chunks.
      if (state === "start" && bomAt < 3 && c === BOM[bomAt]) {
        bomAt++;
        continue;
      }
      nonEmpty = true;
      switch (state as State) {
        case "start":
          if (c !== 0x5b) {
            throw syntax(
              `the file must hold one JSON array of records ([{...}, {...}]); it starts with ${describe(c)}`,
            );
          }
          state = "open";
          break;
        case "open":
          if (c === 0x5d && records === 0) {
            state = "end";
            break;
          }
          if (c === 0x2c || c === 0x5d) throw syntax(`expected a record, got ${describe(c)}`);
          state = "value";
          startLine = line;
          valueFrom = i;
          depth = c === 0x7b || c === 0x5b ? 1 : 0;
          inString = c === 0x22;
          scalar = !inString && depth === 0;
          break;
        case "after":
          if (c === 0x2c) state = "open";
          else if (c === 0x5d) state = "end";
          else throw syntax(`expected "," or "]" after the record, got ${describe(c)}`);
          break;
        case "end":
          throw syntax(`unexpected ${describe(c)} after the closing "]"`);
      }
    }
    if (state === "value") take(chunk.length);
  }
  if (state === "value" && scalar) {
    scalar = false;
    state = "after";
  }
  if (nonEmpty && (state as State) !== "end") {
    throw syntax(state === "start" ? "the file holds no JSON array" : 'the file ends before the closing "]"');
  }
  return { records, stopped: false, bytes, nonEmpty };
}
