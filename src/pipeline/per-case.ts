/**
 * Grand Challenge's contract, per case: the test data is a folder of cases (`<data_dir>/<case id>/`, each
 * holding its inputs at their relative paths, as Grand Challenge's "socket values"); the participant's
 * image runs once per case, sandboxed under the competition's limits, with the case's inputs and an
 * `inputs.json` describing them at the input folder, its model (if any) read-only at /opt/ml/model, and
 * writes one file per output socket (a JSON value) into the output folder. The values are collected into
 * one predictions table, the case id in the format's id column, so validation, metrics and custom scorers
 * score it like any other.
 */
import { constants, type Stats } from "node:fs";
import { copyFile, lstat, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { stringify } from "csv-stringify/sync";
import type { ImageSubmission, InputSocket, PerCaseContract } from "../config/index.js";
import { ID_PLACEHOLDER, IMAGE_CONTAINER } from "../contract/index.js";
import { CappedCapture, runSandboxed, type ReadOnlyMount, type SandboxLimits } from "../sandbox/index.js";
import { predictionsEncoding, type Problem, type SubmissionFormat } from "../scoring/index.js";
import { formatDuration } from "../units/index.js";
import type { SubmissionRunResult } from "./run-submission.js";

/** Top-level entries one case may have: each is its own read-only mount. */
export const MAX_CASE_ENTRIES = 64;
/** Most of one output file read as a value (a socket holds a number, a label, a short JSON value). */
const MAX_VALUE_BYTES = 64 * 1024;

export interface TestCase {
  id: string;
  dir: string;
  /** The case's top-level entries (files and folders), sorted. */
  entries: string[];
}

/**
 * The cases of a per-case data folder: its sub-folders, in name order (hidden ones skipped). Problems are
 * the organizer's: returned as messages naming the folder and the fix (preflight reports them).
 */
export async function listCases(dataDir: string): Promise<{ cases: TestCase[]; problems: string[] }> {
  const problems: string[] = [];
  const cases: TestCase[] = [];
  const top = await readdir(dataDir, { withFileTypes: true }).catch(() => null);
  if (top === null) return { cases, problems: [`${dataDir} is not a readable folder of cases`] };
  for (const entry of top.sort(byName)) {
    if (entry.name.startsWith(".") || !entry.isDirectory()) continue;
    const dir = path.join(dataDir, entry.name);
    const entries = (await readdir(dir)).filter((name) => !name.startsWith(".")).sort();
    if (entries.length === 0) problems.push(`case folder ${dir} is empty; put the case's inputs in it`);
    else if (entries.length > MAX_CASE_ENTRIES)
      problems.push(
        `case folder ${dir} has ${entries.length} entries, over ${MAX_CASE_ENTRIES}; group the inputs in folders (e.g. images/ct/)`,
      );
    cases.push({ id: entry.name, dir, entries });
  }
  if (cases.length === 0 && problems.length === 0)
    problems.push(
      `${dataDir} holds no case folders; with contract: grand-challenge, put each case's inputs in <data_dir>/<case id>/`,
    );
  return { cases, problems };
}

/** Folder entries in name order (code-unit order, as the cases run). */
const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** One socket value of Grand Challenge's inputs.json. */
interface SocketValue {
  file: string | null;
  image: { name: string } | null;
  value: unknown;
  interface: {
    slug: string;
    kind: string;
    super_kind: "Image" | "File" | "Value";
    relative_path: string;
  };
}

/**
 * The case's inputs.json as Grand Challenge writes it: one socket value per input. A case folder may bring
 * its own (exported from Grand Challenge), used as it is. Else each input is described: where a socket of
 * the phase (competition.yml's `inputs`) lies at its path, by that socket's slug and kind; otherwise by its
 * file or folder name. Its value is what it holds (unless the socket says otherwise): a `*.json` file is a
 * value (its content inline), a folder of files an image (its first file's name), any other file a file.
 */
export async function caseInputsJson(
  testCase: TestCase,
  sockets: InputSocket[] = [],
): Promise<string | null> {
  if (testCase.entries.includes(IMAGE_CONTAINER.inputsJson)) return null;
  const declared = new Map(sockets.map((s) => [s.relativePath, s]));
  const values: SocketValue[] = [];
  const describe = async (relative: string): Promise<void> => {
    const full = path.join(testCase.dir, relative);
    const info = await stat(full);
    const own = declared.get(relative);
    if (info.isDirectory()) {
      const inside = (await readdir(full, { withFileTypes: true })).filter((e) => !e.name.startsWith("."));
      const files = inside.filter((e) => e.isFile()).map((e) => e.name);
      if ((files.length > 0 && files.length === inside.length) || own) {
        const first = files.sort()[0];
        values.push(socket(relative, "Image", { image: first === undefined ? null : { name: first } }, own));
        return;
      }
      for (const e of inside.sort(byName)) await describe(path.posix.join(relative, e.name));
      return;
    }
    const superKind = own?.superKind ?? (relative.toLowerCase().endsWith(".json") ? "Value" : "File");
    if (superKind === "Value") {
      const text = await readFile(full, "utf8");
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        value = text;
      }
      values.push(socket(relative, "Value", { value }, own));
    } else {
      const value =
        superKind === "Image" ? { image: { name: path.posix.basename(relative) } } : { file: relative };
      values.push(socket(relative, superKind, value, own));
    }
  };
  for (const entry of testCase.entries) await describe(entry);
  return `${JSON.stringify(values, null, 2)}\n`;
}

function socket(
  relativePath: string,
  superKind: SocketValue["interface"]["super_kind"],
  value: Partial<Pick<SocketValue, "file" | "image" | "value">>,
  own: InputSocket | undefined,
): SocketValue {
  const slug =
    own?.slug ??
    path.posix
      .basename(relativePath)
      .replace(/\.[^.]*$/, "")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-");
  const kind = own?.superKind ?? superKind;
  return {
    file: null,
    image: null,
    value: null,
    ...value,
    interface: {
      slug,
      kind: own?.kind ?? (kind === "Image" ? "Image" : "Anything"),
      super_kind: kind,
      relative_path: relativePath,
    },
  };
}

/**
 * The phase's input sockets that lie in no case (an organizer's typo: the algorithm would never see the
 * socket), each named with the fix. A socket may be missing from some cases (an optional input).
 */
export async function socketProblems(cases: TestCase[], sockets: InputSocket[]): Promise<string[]> {
  const problems: string[] = [];
  for (const [index, s] of sockets.entries()) {
    let found = false;
    for (const testCase of cases) {
      if (await stat(path.join(testCase.dir, s.relativePath)).catch(() => null)) {
        found = true;
        break;
      }
    }
    if (!found && cases.length > 0)
      problems.push(
        `submission.image.inputs[${index}] (${JSON.stringify(s.slug)}): no case folder holds ${JSON.stringify(s.relativePath)}; give the socket the path its inputs lie at in each case (e.g. images/ct for <case>/images/ct/scan.mha)`,
      );
  }
  return problems;
}

/**
 * The key of `outputs` that names a folder format's file: each case's file is collected as the format's
 * `files.name` with the case id in it (a mask per case, as HECKTOR's segmentation task writes).
 */
export const FOLDER_OUTPUT_KEY = "files";

/** The output file of each non-id column: what competition.yml maps it to, else `<column>.json`. */
export function outputFiles(format: SubmissionFormat, perCase: PerCaseContract): Map<string, string> {
  if (format.files) {
    const file = perCase.outputs[FOLDER_OUTPUT_KEY];
    return new Map(file === undefined ? [] : [[FOLDER_OUTPUT_KEY, file]]);
  }
  return new Map(
    format.columns
      .filter((column) => column.name !== format.idColumn)
      .map((column) => [column.name, perCase.outputs[column.name] ?? `${column.name}.json`]),
  );
}

export interface PerCaseRunRequest {
  runId: string;
  /** The loaded participant image and the trusted holder, by id. */
  image: string;
  holderImage: string;
  workingDir: string;
  user: string;
  settings: ImageSubmission & { perCase: PerCaseContract };
  dataDir: string;
  /** Where the predictions table is written (the format's file). */
  outputDir: string;
  /** Scratch of the run's own: each case's inputs.json and outputs. */
  scratchDir: string;
  /** The extracted model tarball, shown read-only at /opt/ml/model. */
  modelDir?: string;
  format: SubmissionFormat;
  limits: SandboxLimits;
  gpu?: boolean;
  env: Record<string, string>;
}

type RunPart = Omit<SubmissionRunResult, "runId" | "submissionSha256" | "notes">;

/**
 * Runs every case in order and collects the predictions table. Stops at the first case that does not end
 * well (the participant's: a crash, a timeout, a missing output), named by its place in the set ("case 3 of
 * 40"); the case's id goes to the log only, which the phase shows or not. The whole set shares the
 * competition's time limit; each case also has its own (case_time).
 */
export async function runPerCase(request: PerCaseRunRequest): Promise<RunPart> {
  const { cases } = await listCases(request.dataDir);
  const { limits, settings, format } = request;
  const columns = outputFiles(format, settings.perCase);
  const stdout = new CappedCapture(limits.logHeadBytes, limits.logTailBytes);
  const stderr = new CappedCapture(limits.logHeadBytes, limits.logTailBytes);
  const rows: Record<string, unknown>[] = [];
  const collected: { path: string; bytes: number }[] = [];
  let durationMs = 0;
  let last: Awaited<ReturnType<typeof runSandboxed>> | null = null;
  let peak: Awaited<ReturnType<typeof runSandboxed>>["metrics"] = null;
  const finish = (status: RunPart["status"], reason: string): RunPart => ({
    ...last!,
    status,
    reason,
    durationMs,
    metrics: peak,
    stdout: logOf(stdout),
    stderr: logOf(stderr),
  });

  for (const [index, testCase] of cases.entries()) {
    const place = `case ${index + 1} of ${cases.length}`;
    const left = limits.timeLimitMs - durationMs;
    if (left <= 0)
      return finish(
        "timed_out",
        `the whole set's time limit (${formatDuration(limits.timeLimitMs)}) ran out before ${place}`,
      );
    const caseTime = Math.min(settings.perCase.caseTimeMs ?? limits.timeLimitMs, left);
    const caseDir = path.join(request.scratchDir, String(index));
    const outDir = path.join(caseDir, "output");
    await mkdir(caseDir, { recursive: true });
    const mounts: ReadOnlyMount[] = testCase.entries.map((entry) => ({
      source: path.join(testCase.dir, entry),
      target: path.posix.join(settings.inputDir, entry),
    }));
    const inputsJson = await caseInputsJson(testCase, settings.perCase.inputs);
    if (inputsJson !== null) {
      const file = path.join(caseDir, IMAGE_CONTAINER.inputsJson);
      await writeFile(file, inputsJson, { mode: 0o644 });
      mounts.push({ source: file, target: path.posix.join(settings.inputDir, IMAGE_CONTAINER.inputsJson) });
    }
    if (request.modelDir) mounts.push({ source: request.modelDir, target: IMAGE_CONTAINER.model });
    const header = Buffer.from(`=== ${place}: ${JSON.stringify(testCase.id)} ===\n`);
    const result = await runSandboxed({
      runId: `${request.runId}-${index + 1}`,
      image: request.image,
      holderImage: request.holderImage,
      command: [],
      workingDir: request.workingDir,
      user: request.user,
      participantImage: true,
      mounts,
      output: { target: settings.outputDir, hostDir: outDir },
      limits: { ...limits, timeLimitMs: caseTime },
      gpu: request.gpu,
      env: request.env,
    });
    last = result;
    durationMs += result.durationMs;
    if ((result.metrics?.peakMemoryBytes ?? -1) >= (peak?.peakMemoryBytes ?? -1)) peak = result.metrics;
    // Each case's lines under its name; stderr's only where the case wrote any (else it reads as warnings).
    stdout.append(header);
    stdout.append(Buffer.from(result.stdout.text));
    if (result.stderr.text !== "") {
      stderr.append(header);
      stderr.append(Buffer.from(result.stderr.text));
    }
    const missing = (file: string, column: string) =>
      finish(
        "output_missing",
        `${place}: the algorithm exited 0 but wrote no ${path.posix.join(settings.outputDir, file)} (${column === FOLDER_OUTPUT_KEY && format.files ? `the case's ${format.files.name}` : `the value of column ${JSON.stringify(column)}`})`,
      );
    // Nothing at all in the output folder: named by the first file it should have written.
    if (result.status === "output_missing") {
      const [column, file] = [...columns][0]!;
      return missing(file, column);
    }
    if (result.status !== "succeeded") return finish(result.status, `${place}: ${result.reason}`);

    if (format.files) {
      const file = columns.get(FOLDER_OUTPUT_KEY)!;
      const found = await outputFileAt(path.join(outDir, file));
      if (found === null) return missing(file, FOLDER_OUTPUT_KEY);
      if ("count" in found)
        return finish(
          "output_invalid",
          `${place}: ${path.posix.join(settings.outputDir, file)}/ holds ${found.count} files; write the output's one file there (Grand Challenge takes one image per image output)`,
        );
      const { source, info } = found;
      const name = format.files.name.replace(ID_PLACEHOLDER, testCase.id);
      await mkdir(request.outputDir, { recursive: true });
      await copyFile(source, path.join(request.outputDir, name), constants.COPYFILE_EXCL);
      collected.push({ path: name, bytes: info.size });
      await rm(caseDir, { recursive: true, force: true });
      continue;
    }
    const row: Record<string, unknown> = { [format.idColumn]: testCase.id };
    for (const [column, file] of columns) {
      const value = await readValue(path.join(outDir, file));
      if (value === undefined) return missing(file, column);
      row[column] = value;
    }
    rows.push(row);
    await rm(caseDir, { recursive: true, force: true });
  }
  if (last === null) throw new Error(`no cases in ${request.dataDir} (preflight lets none through)`);
  if (!format.files) {
    await mkdir(request.outputDir, { recursive: true });
    const text = collectedTable(format, rows);
    await writeFile(path.join(request.outputDir, format.file), text);
    collected.push({ path: format.file, bytes: Buffer.byteLength(text) });
  }
  // What the run left is what was collected from every case: the table, or one file per case.
  const output = {
    files: collected,
    totalBytes: collected.reduce((sum, file) => sum + file.bytes, 0),
    entries: collected.length,
    skipped: [],
    overCaps: false,
  };
  return { ...finish("succeeded", `all ${cases.length} cases ran`), output };
}

/**
 * A folder format's output in one case: the file at its path, or, where the path is a folder (an image
 * output socket, as Grand Challenge's images/<slug>/ with a file of any name in it), the one file in it;
 * null when there is none; the count where the folder holds more than one. Never through a link.
 */
async function outputFileAt(
  file: string,
): Promise<{ source: string; info: Stats } | { count: number } | null> {
  const info = await lstat(file).catch(() => null);
  if (info?.isFile()) return { source: file, info };
  if (!info?.isDirectory()) return null;
  const inside = (await readdir(file, { withFileTypes: true })).filter((e) => !e.name.startsWith("."));
  if (inside.length === 0) return null;
  const only = inside.length === 1 && inside[0]!.isFile() ? path.join(file, inside[0]!.name) : null;
  const onlyInfo = only === null ? null : await lstat(only);
  if (only === null || !onlyInfo?.isFile()) return { count: inside.length };
  return { source: only, info: onlyInfo };
}

/**
 * A problem the format's check found in the collected table, told as the participant knows it: the case
 * (by its place, as the run's reasons name it) and the output file its value came from, instead of the
 * table's line. Problems of a folder format, or without a line, are left as they are.
 */
export function caseProblem(
  problem: Problem,
  format: SubmissionFormat,
  settings: Pick<ImageSubmission, "outputDir"> & { perCase: PerCaseContract },
  cases: number,
): Problem {
  if (format.files || problem.line === null) return problem;
  const index = problem.line - (predictionsEncoding(format) === "jsonl" ? 1 : 2);
  if (index < 0 || index >= cases) return problem;
  const file =
    problem.column === null ? undefined : outputFiles(format, settings.perCase).get(problem.column);
  const where = file === undefined ? "" : ` ${path.posix.join(settings.outputDir, file)}`;
  return { ...problem, file: `case ${index + 1} of ${cases}:${where}`, line: null };
}

/**
 * One output file's value: the JSON it holds, or its text as written when it is not JSON (validation then
 * says what is wrong with it, in the format's terms); undefined when there is no such file.
 */
async function readValue(file: string): Promise<unknown> {
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) return undefined;
  const text = (await readFile(file)).subarray(0, MAX_VALUE_BYTES).toString("utf8").trim();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * The rows in the format's encoding: JSON values kept as they are in JSON (a boolean in a string or category
 * column aside: its text), written as text in CSV. Case k
 * (from 0) is on line k + 2 (after the CSV header or the JSON array's "["), or k + 1 in JSON Lines.
 */
export function collectedTable(format: SubmissionFormat, rows: Record<string, unknown>[]): string {
  const names = format.columns.map((column) => column.name);
  // A boolean socket (Grand Challenge's Bool: true or false) in a text column is its text, as in CSV.
  const text = new Set(
    format.columns.filter((c) => c.type === "string" || c.type === "category").map((c) => c.name),
  );
  const value = (row: Record<string, unknown>, name: string) => {
    const v = row[name] ?? null;
    return typeof v === "boolean" && text.has(name) ? String(v) : v;
  };
  const ordered = rows.map((row) => Object.fromEntries(names.map((name) => [name, value(row, name)])));
  switch (predictionsEncoding(format)) {
    case "json":
      return `[\n${ordered.map((row) => JSON.stringify(row)).join(",\n")}\n]\n`;
    case "jsonl":
      return ordered.map((row) => JSON.stringify(row)).join("\n") + "\n";
    case "csv":
      return stringify(
        ordered.map((row) => names.map((name) => cell(row[name]))),
        { header: true, columns: names },
      );
  }
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

function logOf(capture: CappedCapture): RunPart["stdout"] {
  return {
    text: capture.text(),
    bytes: capture.totalBytes,
    lines: capture.lineCount,
    truncated: capture.truncated,
  };
}
