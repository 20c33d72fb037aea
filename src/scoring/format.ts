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
 */
import { z } from "zod";
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

export interface SubmissionFormat {
  /** The file the submission writes into its output folder. */
  file: string;
  idColumn: string;
  columns: FormatColumn[];
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

const formatSchema = z
  .object({
    file: z
      .string()
      .min(1)
      .regex(/^(?!\.\.?$)[^/\\]+$/, "must be a plain file name without / or \\, like submission.csv")
      .default("submission.csv"),
    id_column: z.string().min(1),
    columns: z.array(columnSchema),
  })
  .strict();

/** The rules between keys, each issue at its key path. */
function checkSemantics(format: z.output<typeof formatSchema>): PathIssue[] {
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
  const columns = parsed.columns.map((column) => {
    const out: FormatColumn = { name: column.name, type: column.type };
    if (column.categories) out.categories = column.categories;
    if (column.class !== undefined) out.class = column.class;
    if (column.description !== undefined) out.description = column.description;
    return out;
  });
  return { file: parsed.file, idColumn: parsed.id_column, columns, source };
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
