/**
 * Tests of a runtime image, run inside it through the sandbox (no network, every limit): the import test
 * (runtime/tests/test_imports.py) and the GPU test (runtime/tests/test_gpu.py), copied into every flavour
 * at /opt/proctor/tests.
 */
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CONTAINER, RUNTIME_TESTS_DIR } from "../contract/index.js";
import {
  DEFAULT_LIMITS,
  newRunId,
  runSandboxed,
  type SandboxLimits,
  type SandboxResult,
} from "../sandbox/index.js";
import { readEnvironment } from "./environment.js";
import type { PackageSource } from "./package-spec.js";

export const IMPORT_TEST_SCRIPT = `${RUNTIME_TESTS_DIR}/test_imports.py`;
export const GPU_TEST_SCRIPT = `${RUNTIME_TESTS_DIR}/test_gpu.py`;

/** The line test_imports.py prints its JSON report on. */
export const IMPORT_RESULTS_PREFIX = "PROCTOR_IMPORT_RESULTS ";

const INPUT_DIR = "/opt/proctor/input";
const OUTPUT_DIR = CONTAINER.submission;
const RESULTS_FILE = "imports.json";

export interface ImportResult {
  package: string;
  source: PackageSource;
  /** The module imported; null when the package has none (skipped). */
  module: string | null;
  ok: boolean;
  skipped: boolean;
  /** Why it was skipped. */
  reason?: string;
  /** The module's __version__, where it has one. */
  version?: string | null;
  /** The last line of the failure (e.g. `ModuleNotFoundError: No module named 'lightgbm'`). */
  error?: string;
  /** The tail of the failed import's stderr. */
  detail?: string;
  seconds?: number;
}

export interface ImportTestReport {
  /** Every import worked (and the test itself ran). */
  ok: boolean;
  image: string;
  envFile: string;
  /** The image's Python version, as the test reported it. */
  python: string | null;
  results: ImportResult[];
  /** The packages whose import failed. */
  failed: ImportResult[];
  /** Set when the test could not run or report (engine fault, time limit, crash): then `results` is empty. */
  problem: string | null;
  /** The sandboxed run of the test: status, exit code, captured logs. */
  run: SandboxResult;
}

export interface TestImportsOptions {
  limits?: Partial<SandboxLimits>;
  /** Run with the GPU (for images whose imports need one). */
  gpu?: boolean;
}

/** Limits for the import test: generous memory and time (importing torch takes a while), a small output. */
export const IMPORT_TEST_LIMITS: SandboxLimits = {
  ...DEFAULT_LIMITS,
  timeLimitMs: 20 * 60_000,
  memoryBytes: 4 * 1024 ** 3,
  tmpBytes: 256 * 1024 ** 2,
  outputBytes: 16 * 1024 ** 2,
  outputFiles: 10,
};

/**
 * Imports every package `envFile` lists inside `image`, each in a fresh interpreter, through the sandbox
 * (network none, read-only root, the file mounted read-only). The file is checked here first, so a broken
 * file is a YamlConfigError (thrown) rather than a failed run. Failures of the imports are results;
 * failures of the run itself (missing image, engine fault, time limit) are `problem`.
 */
export async function testImports(
  image: string,
  envFile: string,
  options: TestImportsOptions = {},
): Promise<ImportTestReport> {
  await readEnvironment(envFile);
  const dir = await mkdtemp(path.join(os.tmpdir(), "proctor-imports-"));
  try {
    // A copy the sandbox user (not us) can read, whatever the original's permissions.
    const input = path.join(dir, "input");
    const output = path.join(dir, "output");
    await mkdir(input);
    await chmod(dir, 0o755);
    await chmod(input, 0o755);
    await copyFile(envFile, path.join(input, "environment.yml"));
    await chmod(path.join(input, "environment.yml"), 0o644);

    const run = await runSandboxed({
      runId: `imports-${newRunId()}`,
      image,
      command: [
        "python3",
        IMPORT_TEST_SCRIPT,
        `${INPUT_DIR}/environment.yml`,
        "--json-out",
        `${OUTPUT_DIR}/${RESULTS_FILE}`,
      ],
      workingDir: "/tmp",
      mounts: [{ source: input, target: INPUT_DIR }],
      output: { target: OUTPUT_DIR, hostDir: output, expectedFile: RESULTS_FILE },
      limits: { ...IMPORT_TEST_LIMITS, ...options.limits },
      gpu: options.gpu ?? false,
    });
    const parsed =
      (await readResultsFile(path.join(output, RESULTS_FILE))) ?? resultsFromLog(run.stdout.text);
    return reportOf(image, envFile, run, parsed);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface RawReport {
  python?: unknown;
  results?: unknown;
  error?: unknown;
}

async function readResultsFile(file: string): Promise<RawReport | null> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as RawReport;
  } catch {
    return null;
  }
}

/** The JSON report from the test's stdout, when the results file is missing. */
export function resultsFromLog(stdout: string): RawReport | null {
  const line = stdout
    .split("\n")
    .reverse()
    .find((l) => l.startsWith(IMPORT_RESULTS_PREFIX));
  if (!line) return null;
  try {
    return JSON.parse(line.slice(IMPORT_RESULTS_PREFIX.length)) as RawReport;
  } catch {
    return null;
  }
}

function reportOf(
  image: string,
  envFile: string,
  run: SandboxResult,
  raw: RawReport | null,
): ImportTestReport {
  const base = { image, envFile, run, python: null, results: [], failed: [] };
  if (run.status === "infrastructure_error" || run.status === "timed_out" || run.status === "oom_killed") {
    return { ...base, ok: false, problem: `the import test could not finish: ${run.reason}` };
  }
  if (!raw || !Array.isArray(raw.results)) {
    return {
      ...base,
      ok: false,
      problem: `the import test reported no results (${run.reason})${tail(run.stderr.text)}`,
    };
  }
  if (typeof raw.error === "string" && raw.error !== "") {
    return {
      ...base,
      ok: false,
      problem: `the import test could not read the environment file: ${raw.error}`,
    };
  }
  const results = raw.results.map(toResult);
  const failed = results.filter((r) => !r.ok);
  return {
    ...base,
    python: typeof raw.python === "string" ? raw.python : null,
    results,
    failed,
    ok: failed.length === 0 && run.exitCode === 0,
    problem:
      failed.length === 0 && run.exitCode !== 0
        ? `every import worked but the test exited ${run.exitCode}${tail(run.stderr.text)}`
        : null,
  };
}

function toResult(raw: unknown): ImportResult {
  const r = (raw ?? {}) as Record<string, unknown>;
  const result: ImportResult = {
    package: String(r.package ?? "?"),
    source: r.source === "pip" ? "pip" : "conda",
    module: typeof r.module === "string" ? r.module : null,
    ok: r.ok === true,
    skipped: r.skipped === true,
  };
  if (typeof r.reason === "string") result.reason = r.reason;
  if (typeof r.version === "string" || r.version === null) result.version = r.version as string | null;
  if (typeof r.error === "string") result.error = r.error;
  if (typeof r.detail === "string") result.detail = r.detail;
  if (typeof r.seconds === "number") result.seconds = r.seconds;
  return result;
}

function tail(text: string): string {
  const lines = text.trimEnd().split("\n").slice(-5).join("\n");
  return lines ? `:\n${lines}` : "";
}

export interface GpuTestReport {
  /** The test passed, or skipped where it was allowed to. */
  ok: boolean;
  /** No GPU was visible in the container and none was required: nothing was tested. */
  skipped: boolean;
  /** What the test printed (its verdict is the last line), or why it could not run. */
  output: string;
  run: SandboxResult;
}

/**
 * Runs test_gpu.py inside `image` through the sandbox. With `gpu`, the container gets the host's GPUs and
 * the test fails without one (`--require-gpu`: a GPU runner without the NVIDIA runtime must not pass);
 * without, it finds no GPU and skips (hosted runners have none).
 */
export async function testGpu(
  image: string,
  options: { gpu: boolean; limits?: Partial<SandboxLimits> },
): Promise<GpuTestReport> {
  const run = await runSandboxed({
    runId: `gpu-test-${newRunId()}`,
    image,
    command: ["python3", GPU_TEST_SCRIPT, ...(options.gpu ? ["--require-gpu"] : [])],
    workingDir: "/tmp",
    mounts: [],
    limits: { ...IMPORT_TEST_LIMITS, ...options.limits },
    gpu: options.gpu,
  });
  const printed = run.stdout.text.trimEnd();
  const ok = run.status === "succeeded" && run.exitCode === 0;
  return {
    ok,
    skipped: ok && /^SKIP:/m.test(printed),
    output: ok ? printed : `${printed || run.reason}${tail(run.stderr.text)}`,
    run,
  };
}

/** A one-line summary per failed package, for logs and PR comments. */
export function describeImportFailures(report: ImportTestReport): string[] {
  if (report.problem) return [report.problem];
  return report.failed.map((r) => `${r.package} (import ${r.module}): ${r.error ?? "failed"}`);
}
