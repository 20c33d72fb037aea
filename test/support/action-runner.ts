import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";

export interface ActionRun {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  /**
   * The step's log as anyone who can read the run sees it: the runner's header (every `with:` and `env:`
   * value, secrets masked), then what the action printed, workflow commands applied (`::add-mask::` masks
   * from there on) and masked values replaced with `***`.
   */
  log: string;
}

export interface ActionRunOptions {
  event?: object;
  eventName?: string;
  /** The runner's own environment (GITHUB_API_URL, …): not printed. */
  env?: NodeJS.ProcessEnv;
  /** The step's `env:`: printed in the header, like `with:`. */
  stepEnv?: Record<string, string>;
  /**
   * Names of the inputs whose values come from `${{ secrets.… }}`: the runner masks those values
   * everywhere in the log from the start.
   */
  secretInputs?: string[];
}

/** What the runner makes of `${{ github.token }}`: the job's token, masked in the log from the start. */
export const JOB_TOKEN = "ghs_the-job-token-of-the-emulated-runner";

/**
 * The inputs as the runner passes them: the step's `with:` over action.yml's defaults (the runner
 * evaluates a default's `${{ github.token }}` to the job's token).
 */
export async function withDefaults(given: Record<string, string>): Promise<Record<string, string>> {
  const action = parse(await readFile("action.yml", "utf8")) as {
    inputs: Record<string, { default?: string }>;
  };
  const inputs: Record<string, string> = {};
  for (const [name, input] of Object.entries(action.inputs)) {
    if (input.default !== undefined) inputs[name] = input.default.replace("${{ github.token }}", JOB_TOKEN);
  }
  return { ...inputs, ...given };
}

/**
 * Runs the bundled action as a GitHub runner does: `node dist/index.js` with INPUT_* variables, the event
 * in GITHUB_EVENT_PATH, outputs to GITHUB_OUTPUT and the job summary to GITHUB_STEP_SUMMARY; and writes
 * the step's log as the runner does (actions/runner: the step header lists every `with:` input and `env:`
 * value before the step runs; secrets and `::add-mask::` values print as `***`).
 */
export async function runAction(
  given: Record<string, string>,
  options: ActionRunOptions = {},
): Promise<ActionRun> {
  const inputs = await withDefaults(given);
  const dir = await mkdtemp(path.join(os.tmpdir(), "proctor-action-"));
  try {
    const files = {
      event: path.join(dir, "event.json"),
      output: path.join(dir, "output"),
      summary: path.join(dir, "summary.md"),
    };
    await writeFile(files.event, JSON.stringify(options.event ?? {}));
    await writeFile(files.output, "");
    await writeFile(files.summary, "");
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DOCKER_HOST: process.env.DOCKER_HOST,
      GITHUB_ACTIONS: "true",
      GITHUB_REPOSITORY: "org/competition",
      GITHUB_SHA: "0123456789abcdef0123456789abcdef01234567",
      GITHUB_EVENT_NAME: options.eventName ?? "workflow_dispatch",
      GITHUB_EVENT_PATH: files.event,
      GITHUB_OUTPUT: files.output,
      GITHUB_STEP_SUMMARY: files.summary,
      GITHUB_WORKSPACE: process.cwd(),
      GITHUB_RUN_ID: "42",
      RUNNER_TEMP: dir,
      ...options.env,
      ...options.stepEnv,
    };
    for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
    const ran = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ["dist/index.js"], { env });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
    const secrets = [JOB_TOKEN, ...(options.secretInputs ?? []).map((name) => inputs[name] ?? "")].filter(
      Boolean,
    );
    return {
      ...ran,
      outputs: parseOutputs(await readFile(files.output, "utf8")),
      summary: await readFile(files.summary, "utf8"),
      log: runnerLog(inputs, options.stepEnv ?? {}, `${ran.stdout}${ran.stderr}`, secrets),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The step's public log: header with inputs and env, then the output with masks applied line by line. */
function runnerLog(
  inputs: Record<string, string>,
  stepEnv: Record<string, string>,
  output: string,
  secrets: string[],
): string {
  const lines = ["##[group]Run ./", "with:"];
  for (const [name, value] of Object.entries(inputs)) lines.push(`  ${name}: ${value}`);
  return maskedLog(lines, stepEnv, output, secrets);
}

/**
 * A step's log as the runner writes it: the header lines, the step's `env:`, then its output, with
 * secrets masked from the start and `::add-mask::` values from where they are printed on.
 */
export function maskedLog(
  header: string[],
  stepEnv: Record<string, string>,
  output: string,
  secrets: string[],
): string {
  const masks = new Set(secrets.filter(Boolean));
  const mask = (line: string) => {
    let masked = line;
    // Longest first, as the runner's masker does, so a secret containing another is masked whole.
    for (const value of [...masks].sort((a, b) => b.length - a.length))
      masked = masked.split(value).join("***");
    return masked;
  };
  const lines = [...header];
  const envEntries = Object.entries(stepEnv);
  if (envEntries.length > 0) {
    lines.push("env:");
    for (const [name, value] of envEntries) lines.push(`  ${name}: ${value}`);
  }
  lines.push("##[endgroup]");
  const log = lines.map(mask);
  for (const line of output.split("\n")) {
    const addMask = /^::add-mask::(.*)$/.exec(line);
    if (addMask) {
      // The runner consumes the command (it is not printed) and masks the value from here on.
      if (addMask[1]) masks.add(addMask[1]);
      continue;
    }
    log.push(mask(line));
  }
  return log.join("\n");
}

/** GITHUB_OUTPUT's formats: name=value on one line, or name<<DELIMITER, the value's lines, DELIMITER. */
export function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = /^([^<=]+)=(.*)$/.exec(lines[i]!);
    if (line) {
      outputs[line[1]!] = line[2]!;
      continue;
    }
    const match = /^([^<]+)<<(.+)$/.exec(lines[i]!);
    if (!match) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== match[2]; i++) value.push(lines[i]!);
    outputs[match[1]!] = value.join("\n");
  }
  return outputs;
}
