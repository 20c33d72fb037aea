/**
 * A workflow step run as a GitHub runner runs it, for the steps whose scripts handle untrusted data or hold
 * a token: `${{ }}` evaluated with GitHub's own expression engine (@actions/expressions) over the contexts a
 * test gives (github, secrets, matrix, steps, runner), the step's `if:` with the status functions, `run:`
 * with `bash --noprofile --norc -eo pipefail`, GITHUB_OUTPUT / GITHUB_STEP_SUMMARY / RUNNER_TEMP, and the
 * public log (header, every env: value, secrets and the job token masked). `uses:` steps other than the
 * repository's action are GitHub's: tests stand in for them (an artifact is a folder).
 */
import { Evaluator, Lexer, Parser, data } from "@actions/expressions";
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { maskedLog, parseOutputs } from "../support/action-runner.js";

export interface StepResult {
  outcome: "success" | "failure";
  outputs: Record<string, string>;
}

export interface JobContext {
  github: Record<string, unknown> & { token: string };
  secrets?: Record<string, string>;
  matrix?: Record<string, unknown>;
  /** Earlier steps by id. */
  steps?: Record<string, StepResult>;
  runner: { temp: string };
  /** Whether an earlier step of the job failed (success() is false, failure() true). */
  failed?: boolean;
}

/** A function the evaluator may call (the package does not export its type). */
type FunctionDefinition =
  NonNullable<ConstructorParameters<typeof Evaluator>[2]> extends Map<string, infer F> ? F : never;

const STATUS_FUNCTIONS = ["success", "failure", "always", "cancelled"] as const;

/** Evaluates one expression (without `${{ }}`) as the runner does. */
export function evaluate(expression: string, context: JobContext): data.ExpressionData {
  const contexts = {
    github: context.github,
    secrets: { GITHUB_TOKEN: context.github.token, ...context.secrets },
    matrix: context.matrix ?? {},
    steps: context.steps ?? {},
    runner: context.runner,
    env: {},
  };
  const status: Record<(typeof STATUS_FUNCTIONS)[number], boolean> = {
    success: !context.failed,
    failure: context.failed === true,
    always: true,
    cancelled: false,
  };
  const functions = new Map<string, FunctionDefinition>(
    STATUS_FUNCTIONS.map((name) => [
      name,
      { name, minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(status[name]) },
    ]),
  );
  const tokens = new Lexer(expression).lex().tokens;
  const parsed = new Parser(tokens, Object.keys(contexts), [...functions.values()]).parse();
  const dictionary = JSON.parse(JSON.stringify(contexts), data.reviver) as data.Dictionary;
  return new Evaluator(parsed, dictionary, functions).evaluate();
}

/** A value as the runner turns it into text (`${{ }}` in env:, with:, run:). */
function asText(value: data.ExpressionData): string {
  switch (value.kind) {
    case data.Kind.String:
      return (value as data.StringData).value;
    case data.Kind.Boolean:
      return (value as data.BooleanData).value ? "true" : "false";
    case data.Kind.Number:
      return String((value as data.NumberData).value);
    case data.Kind.Null:
      return "";
    default:
      return JSON.stringify(value);
  }
}

/** A template with `${{ … }}` parts replaced by their values. */
export function interpolate(template: string, context: JobContext): string {
  return template.replace(/\$\{\{(.*?)\}\}/gs, (_all, expression: string) =>
    asText(evaluate(expression.trim(), context)),
  );
}

/** Whether a step with this `if:` runs: no `if:` means success(); a condition without a status function gets `success() &&`. */
export function shouldRun(condition: unknown, context: JobContext): boolean {
  if (condition === undefined) return !context.failed;
  const text = String(condition)
    .replace(/^\s*\$\{\{(.*)\}\}\s*$/s, "$1")
    .trim();
  const withStatus = /\b(success|failure|always|cancelled)\(\)/.test(text) ? text : `success() && (${text})`;
  const value = evaluate(withStatus, context);
  return value.kind === data.Kind.Boolean
    ? (value as data.BooleanData).value
    : asText(value) !== "" && asText(value) !== "0";
}

export interface RunStepOptions {
  context: JobContext;
  /** The workspace (the step's working directory). */
  cwd: string;
  /** The runner's own environment (GITHUB_REPOSITORY, GITHUB_API_URL, …): not printed. */
  env?: NodeJS.ProcessEnv;
}

export interface RanStep extends StepResult {
  status: number | null;
  stdout: string;
  stderr: string;
  summary: string;
  /** The public log: the header with every env: value, then the output; secrets and the token masked. */
  log: string;
  /** The step's env:, evaluated. */
  env: Record<string, string>;
}

/** Runs a `run:` step as the runner does. */
export async function runStep(step: Record<string, unknown>, options: RunStepOptions): Promise<RanStep> {
  const { context } = options;
  const script = interpolate(String(step.run), context);
  const stepEnv = Object.fromEntries(
    Object.entries((step.env as Record<string, string> | undefined) ?? {}).map(([name, value]) => [
      name,
      interpolate(String(value), context),
    ]),
  );
  const files = {
    output: path.join(context.runner.temp, `output-${process.hrtime.bigint()}`),
    summary: path.join(context.runner.temp, `summary-${process.hrtime.bigint()}`),
  };
  await writeFile(files.output, "");
  await writeFile(files.summary, "");
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: context.runner.temp,
    CI: "true",
    GITHUB_ACTIONS: "true",
    GITHUB_WORKSPACE: options.cwd,
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
    RUNNER_TEMP: context.runner.temp,
    ...options.env,
    ...stepEnv,
  };
  const ran = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script], {
      cwd: options.cwd,
      env,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
  const secrets = [context.github.token, ...Object.values(context.secrets ?? {})];
  const header = [
    `##[group]Run ${script.split("\n")[0]}`,
    ...script.split("\n").map((l) => `\u001b[36;1m${l}\u001b[0m`),
  ];
  const outputs = parseOutputs(await readFile(files.output, "utf8"));
  return {
    ...ran,
    outcome: ran.status === 0 ? "success" : "failure",
    outputs,
    summary: await readFile(files.summary, "utf8"),
    log: maskedLog(header, stepEnv, `${ran.stdout}${ran.stderr}`, secrets),
    env: stepEnv,
  };
}
