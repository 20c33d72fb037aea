/**
 * The submission format: which file a submission writes, its columns in order, and each column's type.
 * Organizers keep it in `submission_format/format.yml`. The file's name says how it is written:
 * `*.csv` (and any other name) a CSV with the columns as its header; `*.jsonl` (or `*.ndjson`) JSON Lines,
 * one object per line with the columns as keys; `*.json` one JSON array of such objects (Grand Challenge's
 * `results.json`). In JSON, numeric columns take JSON numbers and the others JSON strings.
 *
 * ```yaml
 * file: submission.csv          # optional; the file the submission writes (default submission.csv;
 *                               # submission.jsonl or results.json for JSON Lines or a JSON array)
 * id_column: id                 # must be one of the columns, of type string or integer
 * columns:                      # in the order the CSV header must have
 *   - name: id
 *     type: string
 *   - name: species
 *     type: category            # one of the listed categories, exact spelling
 *     categories: [adelie, chinstrap, gentoo]
 *   - name: p_adelie
 *     type: probability         # a float in [0, 1]
 *     class: adelie             # optional: the class this probability is for (log_loss, roc_auc)
 *   - name: body_mass_g
 *     type: float               # integer, float, probability, category or string
 *     description: grams        # optional, free text for humans
 * ```
 *
 * Or, instead of `file` and `columns`, a folder of files, one per id of the ground truth (DrivenData's
 * floodwater wrote one mask per chip), checked by validate-files.ts and scored only by a custom scorer:
 *
 * ```yaml
 * id_column: chip_id            # the ground truth's column of ids: one file per id
 * files:
 *   name: "{id}.tif"            # {id} once; the rest fixed; no / or \
 *   type: tif                   # tif, png, npy (their first bytes), json (it parses) or any; default
 *                               # from the name's extension, else any
 *   max_size: 1m                # optional: each file's cap
 * ```
 */
import { z } from "zod";
import { DEFAULT_EXPECTED_OUTPUT, ID_PLACEHOLDER } from "../contract/index.js";
import { parseSize, UnitError } from "../units/index.js";
import { loadYamlFile, parseYaml, type PathIssue } from "../yaml/index.js";

export const COLUMN_TYPES = ["string", "integer", "float", "probability", "category"] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

export interface FormatColumn {
  name: string;
  type: ColumnType;
  /** Allowed values of a `category` column, in the organizer's order. */
  categories?: string[];
  /** For a `probability` column: the class label it gives the probability of. */
  class?: string;
  description?: string;
}

/** What each file of a folder format must be: checked by its first bytes (json: it parses), or not at all. */
export const FILE_TYPES = ["tif", "png", "npy", "json", "any"] as const;
export type FileType = (typeof FILE_TYPES)[number];

/** A folder of files, one per id, instead of one table. */
export interface FolderFormat {
  /** The name of each file, `{id}` standing for its id, e.g. "{id}.tif". */
  name: string;
  type: FileType;
  /** Each file's cap in bytes; null: only the output folder's own cap. */
  maxBytes: number | null;
}

export interface SubmissionFormat {
  /** The file the submission writes into its output folder; for a folder format, `files.name`. */
  file: string;
  /** The id column of the table, or of the ground truth (a folder format's ids). */
  idColumn: string;
  /** The table's columns; none for a folder format. */
  columns: FormatColumn[];
  /** Set when the submission writes a folder of files, one per id, instead of a table. */
  files?: FolderFormat;
  /** Where the format came from (a path or a name), for messages. */
  source: string;
}

const label = z
  .union([z.string().min(1), z.number().int()], {
    error: 'must be a non-empty text or whole-number label; quote other values, e.g. "1.5"',
  })
  .transform((value) => String(value));

const columnSchema = z
  .object({
    name: z.string().min(1),
    type: z.enum(COLUMN_TYPES),
    categories: z.array(label).min(1).optional(),
    class: label.optional(),
    description: z.string().optional(),
  })
  .strict();

const PLAIN_NAME = /^(?!\.\.?$)[^/\\\0]+$/;

const filesSchema = z
  .object({
    name: z
      .string()
      .regex(PLAIN_NAME, 'must be a plain file name without / or \\, like "{id}.tif"')
      .refine(
        (name) => name.split(ID_PLACEHOLDER).length === 2,
        `must hold ${ID_PLACEHOLDER} exactly once, where each file's id goes, like "${ID_PLACEHOLDER}.tif"`,
      ),
    type: z.enum(FILE_TYPES).optional(),
    max_size: z
      .union([z.string(), z.number()])
      .transform((value, ctx) => {
        try {
          return parseSize(String(value), "max_size");
        } catch (error) {
          ctx.addIssue({ code: "custom", message: (error as UnitError).message });
          return z.NEVER;
        }
      })
      .optional(),
  })
  .strict();

const formatSchema = z
  .object({
    file: z
      .string()
      .min(1)
      .regex(PLAIN_NAME, "must be a plain file name without / or \\, like submission.csv")
      .optional(),
    id_column: z.string().min(1),
    columns: z.array(columnSchema).optional(),
    files: filesSchema.optional(),
  })
  .strict();

/** The type a file name's extension tells, e.g. "{id}.tif" → tif. */
function typeOfName(name: string): FileType {
  const extension = /\.([^.]*)$/.exec(name)?.[1]?.toLowerCase() ?? "";
  const known: Record<string, FileType> = { tif: "tif", tiff: "tif", png: "png", npy: "npy", json: "json" };
  return known[extension] ?? "any";
}

/** A folder format's keys: no table keys beside it, and a type that agrees with the name's extension. */
function checkFolder(format: z.output<typeof formatSchema>): PathIssue[] {
  const files = format.files!;
  const issues: PathIssue[] = [];
  for (const key of ["file", "columns"] as const) {
    if (format[key] !== undefined) {
      issues.push({
        path: [key],
        message: `describes a table, but files: says the submission writes a folder of files, one per id; remove ${key}: (or files: to keep a table)`,
      });
    }
  }
  const named = typeOfName(files.name);
  if (files.type !== undefined && named !== "any" && files.type !== named) {
    issues.push({
      path: ["files", "type"],
      message: `is ${files.type}, but the name "${files.name}" ends as a ${named} file does; make them agree`,
    });
  }
  return issues;
}

/** The rules between keys, each issue at its key path. */
function checkSemantics(parsed: z.output<typeof formatSchema>): PathIssue[] {
  if (parsed.files) return checkFolder(parsed);
  if (!parsed.columns) {
    return [
      {
        path: ["columns"],
        message: "is required; add columns: … (a table), or files: … (a folder of files, one per id)",
      },
    ];
  }
  const format = { ...parsed, columns: parsed.columns };
  const issues: PathIssue[] = [];
  if (format.columns.length < 2) {
    issues.push({
      path: ["columns"],
      message: "must list at least 2 columns: the id column and at least one more",
    });
  }
  const firstIndex = new Map<string, number>();
  const classOwner = new Map<string, number>();
  const categoryColumns = format.columns.filter((column) => column.type === "category");
  format.columns.forEach((column, index) => {
    const at = ["columns", index] as const;
    const earlier = firstIndex.get(column.name);
    if (earlier !== undefined) {
      issues.push({
        path: [...at, "name"],
        message: `"${column.name}" is already the name of columns[${earlier}]; column names must be unique`,
      });
    } else {
      firstIndex.set(column.name, index);
    }
    if (column.type === "category") {
      if (!column.categories) {
        issues.push({
          path: at,
          message: `column "${column.name}" has type category but no categories; add categories: [a, b, ...]`,
        });
      } else {
        const seen = new Set<string>();
        column.categories.forEach((category, i) => {
          if (seen.has(category)) {
            issues.push({
              path: [...at, "categories", i],
              message: `"${category}" is listed twice; categories must be unique`,
            });
          }
          seen.add(category);
        });
      }
    } else if (column.categories) {
      issues.push({
        path: [...at, "categories"],
        message: `only category columns take categories; "${column.name}" has type ${column.type}; remove categories or set type: category`,
      });
    }
    if (column.class !== undefined) {
      if (column.type !== "probability") {
        issues.push({
          path: [...at, "class"],
          message: `only probability columns take a class; "${column.name}" has type ${column.type}`,
        });
      } else {
        const owner = classOwner.get(column.class);
        if (owner !== undefined) {
          issues.push({
            path: [...at, "class"],
            message: `class "${column.class}" is already given by columns[${owner}]; each class needs one probability column`,
          });
        }
        classOwner.set(column.class, index);
        const only = categoryColumns.length === 1 ? categoryColumns[0] : undefined;
        if (only?.categories && !only.categories.includes(column.class)) {
          issues.push({
            path: [...at, "class"],
            message: `class "${column.class}" is not one of the categories of column "${only.name}" (${only.categories.join(", ")})`,
          });
        }
      }
    }
  });
  const idIndex = firstIndex.get(format.id_column);
  if (idIndex === undefined) {
    issues.push({
      path: ["id_column"],
      message: `"${format.id_column}" is not one of the columns (${format.columns.map((c) => c.name).join(", ")}); name the id column there`,
    });
  } else {
    const type = format.columns[idIndex]!.type;
    if (type !== "string" && type !== "integer") {
      issues.push({
        path: ["columns", idIndex, "type"],
        message: `the id column "${format.id_column}" must have type string or integer, not ${type}`,
      });
    }
  }
  return issues;
}

/**
 * Parses the text of a format file; `sourceName` names it in errors (e.g. "submission_format/format.yml").
 * Throws YamlConfigError, each issue at its line and key path.
 */
export function parseSubmissionFormat(text: string, sourceName: string): SubmissionFormat {
  return toFormat(parseYaml(text, sourceName, formatSchema, { check: checkSemantics }), sourceName);
}

/** Reads and parses a format file (normally `submission_format/format.yml`). Throws YamlConfigError. */
export async function loadSubmissionFormat(path: string): Promise<SubmissionFormat> {
  return toFormat(await loadYamlFile(path, formatSchema, { check: checkSemantics }), path);
}

function toFormat(parsed: z.output<typeof formatSchema>, source: string): SubmissionFormat {
  if (parsed.files) {
    const { name, type, max_size } = parsed.files;
    return {
      file: name,
      idColumn: parsed.id_column,
      columns: [],
      files: { name, type: type ?? typeOfName(name), maxBytes: max_size ?? null },
      source,
    };
  }
  const columns = (parsed.columns ?? []).map((column) => {
    const out: FormatColumn = { name: column.name, type: column.type };
    if (column.categories) out.categories = column.categories;
    if (column.class !== undefined) out.class = column.class;
    if (column.description !== undefined) out.description = column.description;
    return out;
  });
  return { file: parsed.file ?? DEFAULT_EXPECTED_OUTPUT, idColumn: parsed.id_column, columns, source };
}

/** How a predictions file is written, told by its name: JSON Lines, one JSON array, or CSV (any other name). */
export type PredictionsEncoding = "csv" | "json" | "jsonl";

export function predictionsEncoding(format: Pick<SubmissionFormat, "file">): PredictionsEncoding {
  const name = format.file.toLowerCase();
  if (name.endsWith(".jsonl") || name.endsWith(".ndjson")) return "jsonl";
  if (name.endsWith(".json")) return "json";
  return "csv";
}

/** The CSV header a submission must write, e.g. "id,species". */
export function expectedHeader(format: SubmissionFormat): string {
  return format.columns
    .map((column) => (/[",\r\n]/.test(column.name) ? `"${column.name.replace(/"/g, '""')}"` : column.name))
    .join(",");
}
