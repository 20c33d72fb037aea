/**
 * The one YAML path for every organizer file (competition.yml, the submission format, the environment
 * files): parsed with `yaml`, validated by a zod schema and then by the file's own semantic checks, each
 * issue located at its line by its key path, with errors that name the file, line, key, rule and fix.
 */
import { readFile } from "node:fs/promises";
import { isMap, isSeq, LineCounter, parseDocument, type Document } from "yaml";
import { z } from "zod";

/** One thing wrong in a YAML file: where (file, line, key), the rule, and the fix, in `message`. */
export interface YamlIssue {
  file: string;
  line: number | null;
  column: number | null;
  key: string;
  message: string;
  /** A stable name of the rule broken, where one is named (`yaml_syntax`, `unreadable`, a file's own). */
  rule?: string;
}

/** One thing wrong at a key path of the parsed value (`["columns", 1, "type"]`); parseYaml locates it. */
export interface PathIssue {
  path: readonly (string | number)[];
  message: string;
  rule?: string;
}

export interface YamlOptions<T> {
  /**
   * How plain scalars are read: "core" (YAML 1.2 numbers, booleans and null; the default) or "failsafe"
   * (every scalar a string, as conda reads `python=3.11` or `- 1.0`).
   */
  scalars?: "core" | "failsafe";
  /** The file's own rules between keys, checked once the schema holds; each issue at its key path. */
  check?: (value: T) => PathIssue[];
}

export class YamlConfigError extends Error {
  override name = "YamlConfigError";
  constructor(
    readonly file: string,
    readonly issues: YamlIssue[],
  ) {
    super(`${file} is invalid:\n${issues.map(formatIssue).join("\n")}`);
  }
}

export function formatIssue(issue: YamlIssue): string {
  const where = issue.line === null ? issue.file : `${issue.file}:${issue.line}:${issue.column}`;
  return `  ${where}: ${issue.key || "(top level)"} ${issue.message}`;
}

/** Reads a YAML file and validates it; errors carry the line of each offending key. */
export async function loadYamlFile<S extends z.ZodType>(
  file: string,
  schema: S,
  options: YamlOptions<z.output<S>> = {},
): Promise<z.output<S>> {
  const text = await readOrganizerFile(file, {
    file,
    key: "",
    fix: { missing: "create it or pass the right path" },
  });
  return parseYaml(text, file, schema, options);
}

/**
 * Reads an organizer's file, or a file one of its keys names (`at.names`, e.g. "names keys/x.pem"); one
 * that cannot be read is a YamlConfigError at `at.key` of `at.file`, with the fix for a missing or an
 * unreadable file.
 */
export async function readOrganizerFile(
  path: string,
  at: { file: string; key: string; names?: string; fix: { missing: string; unreadable?: string } },
): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem =
      code === "ENOENT"
        ? `does not exist; ${at.fix.missing}`
        : `cannot be read (${code})${at.fix.unreadable ? `; ${at.fix.unreadable}` : ""}`;
    throw new YamlConfigError(at.file, [
      {
        file: at.file,
        line: null,
        column: null,
        key: at.key,
        rule: "unreadable",
        message: at.names ? `${at.names}, which ${problem}` : problem,
      },
    ]);
  }
}

/** Parses YAML text (`file` names it in errors), validates it with `schema`, then with `options.check`. */
export function parseYaml<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  options: YamlOptions<z.output<S>> = {},
): z.output<S> {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    uniqueKeys: true,
    prettyErrors: false,
    ...(options.scalars === "failsafe" && { schema: "failsafe" }),
  });
  if (doc.errors.length > 0) {
    throw new YamlConfigError(
      file,
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return {
          file,
          line: pos.line,
          column: pos.col,
          key: "",
          rule: "yaml_syntax",
          message: `is not valid YAML: ${e.message.split("\n")[0]}`,
        };
      }),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new YamlConfigError(
      file,
      result.error.issues
        .flatMap((issue) => describeIssue(issue, raw, schema))
        .map((i) => locate(i, doc, lines, file)),
    );
  }
  const issues = options.check?.(result.data) ?? [];
  if (issues.length > 0)
    throw new YamlConfigError(
      file,
      issues.map((i) => locate(i, doc, lines, file)),
    );
  return result.data;
}

function locate(issue: PathIssue, doc: Document, lines: LineCounter, file: string): YamlIssue {
  // Walk up to the nearest node that exists (a missing key is reported at its parent).
  for (let depth = issue.path.length; depth >= 0; depth--) {
    const node = doc.getIn(issue.path.slice(0, depth), true) as
      { range?: [number, number, number] } | undefined;
    const parent = depth > 0 ? doc.getIn(issue.path.slice(0, depth - 1), true) : doc.contents;
    let offset = node && typeof node === "object" && node.range ? node.range[0] : undefined;
    // Point at the key itself where the value belongs to a mapping.
    if (depth > 0 && isMap(parent)) {
      const pair = parent.items.find((p) => (p.key as { value?: unknown })?.value === issue.path[depth - 1]);
      const keyRange = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
      if (keyRange) offset = keyRange[0];
    } else if (depth > 0 && isSeq(parent) && offset === undefined) {
      continue;
    }
    if (offset !== undefined) {
      const pos = lines.linePos(offset);
      return { file, line: pos.line, column: pos.col, key: keyPath(issue.path), ...described(issue) };
    }
  }
  return { file, line: null, column: null, key: keyPath(issue.path), ...described(issue) };
}

function described(issue: PathIssue): Pick<YamlIssue, "message" | "rule"> {
  return { message: issue.message, ...(issue.rule !== undefined && { rule: issue.rule }) };
}

export function keyPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path)
    out += typeof part === "number" ? `[${part}]` : out ? `.${String(part)}` : String(part);
  return out;
}

export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const part of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null (an empty value)";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `${typeof value} ${JSON.stringify(value)}`;
}

const EXPECTED: Record<string, string> = {
  string: "text",
  number: "a number",
  array: "a list",
  object: "a mapping",
  boolean: "true or false",
};

/** Zod's issue, in words that say the rule and the fix, against the raw YAML value. */
function describeIssue(issue: z.core.$ZodIssue, raw: unknown, schema: z.ZodType): PathIssue[] {
  const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
  const got = valueAt(raw, issue.path);
  switch (issue.code) {
    case "invalid_type":
      if (got === undefined) return [{ path, message: `is required; add ${String(path.at(-1) ?? "it")}: …` }];
      return [
        { path, message: `must be ${EXPECTED[issue.expected] ?? issue.expected}, got ${describeValue(got)}` },
      ];
    case "invalid_value":
      return [
        {
          path,
          message: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}, got ${describeValue(got)}`,
        },
      ];
    case "unrecognized_keys":
      return issue.keys.map((key) => {
        const known = knownKeys(schema, path);
        return {
          path: [...path, key],
          message: `is not a known key${suggestion(key, known)}; remove it or fix its spelling${known.length > 0 ? ` (known keys here: ${known.join(", ")})` : ""}`,
        };
      });
    case "too_small":
      return [
        {
          path,
          message:
            issue.origin === "array"
              ? `must list at least ${String(issue.minimum)} item(s)`
              : `must be at least ${String(issue.minimum)}${issue.origin === "string" ? " characters" : ""}`,
        },
      ];
    case "too_big":
      return [{ path, message: `must be at most ${String(issue.maximum)}` }];
    default:
      return [{ path, message: `${issue.message}${got === undefined ? "" : `, got ${describeValue(got)}`}` }];
  }
}

/** The keys a mapping at `path` of `schema` may have ([] where the schema is not a mapping there). */
export function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let nodes: z.core.$ZodType[] = [schema];
  for (const part of [...path, null]) {
    const next: z.core.$ZodType[] = [];
    for (const node of nodes.flatMap(unwrap)) {
      const def = node._zod.def;
      if (part === null) {
        if (def.type === "object") return Object.keys((def as z.core.$ZodObjectDef).shape);
      } else if (def.type === "object" && typeof part === "string") {
        const child = (def as z.core.$ZodObjectDef).shape[part];
        if (child) next.push(child);
      } else if (def.type === "array" && typeof part === "number") {
        next.push((def as z.core.$ZodArrayDef).element);
      }
    }
    nodes = next;
  }
  return [];
}

/** The schema under its wrappers (defaults, optional, pipes), and each option of a union. */
function unwrap(node: z.core.$ZodType): z.core.$ZodType[] {
  const def = node._zod.def as z.core.$ZodTypeDef & {
    innerType?: z.core.$ZodType;
    in?: z.core.$ZodType;
    options?: z.core.$ZodType[];
  };
  if (def.type === "union") return (def.options ?? []).flatMap(unwrap);
  if (def.type === "pipe" && def.in) return unwrap(def.in);
  if (def.innerType) return unwrap(def.innerType);
  return [node];
}

/** ' (did you mean "x"?)' for the candidate closest to `word` when it is close enough, else "". */
export function suggestion(word: string, candidates: readonly string[]): string {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  const close =
    best !== null && bestDistance <= Math.max(1, Math.floor(Math.max(word.length, best.length) / 3));
  return close ? ` (did you mean "${best}"?)` : "";
}

/** Levenshtein distance, with a transposition counting as one edit. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
export { durationField, sizeField } from "./units.js";
