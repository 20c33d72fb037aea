/** YAML files validated by a zod schema, with errors that name the file, line, key, rule and fix. */
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
export async function loadYamlFile<S extends z.ZodType>(file: string, schema: S): Promise<z.output<S>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new YamlConfigError(file, [
      {
        file,
        line: null,
        column: null,
        key: "",
        message:
          code === "ENOENT" ? "does not exist; create it or pass the right path" : `cannot be read (${code})`,
      },
    ]);
  }
  return parseYaml(text, file, schema);
}

export function parseYaml<S extends z.ZodType>(text: string, file: string, schema: S): z.output<S> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
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
          message: `is not valid YAML: ${e.message.split("\n")[0]}`,
        };
      }),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  throw new YamlConfigError(
    file,
    result.error.issues.flatMap((issue) => describeIssue(issue, raw)).map((i) => locate(i, doc, lines, file)),
  );
}

interface PathIssue {
  path: (string | number)[];
  message: string;
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
      return { file, line: pos.line, column: pos.col, key: keyPath(issue.path), message: issue.message };
    }
  }
  return { file, line: null, column: null, key: keyPath(issue.path), message: issue.message };
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
function describeIssue(issue: z.core.$ZodIssue, raw: unknown): PathIssue[] {
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
      return issue.keys.map((key) => ({
        path: [...path, key],
        message: "is not a known key; remove it or fix its spelling",
      }));
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
