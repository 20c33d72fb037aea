import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

export interface ActionRun {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

/**
 * Runs the bundled action as a GitHub runner does: `node dist/index.js` with INPUT_* variables, the event
 * in GITHUB_EVENT_PATH, outputs to GITHUB_OUTPUT and the job summary to GITHUB_STEP_SUMMARY.
 */
export async function runAction(
  inputs: Record<string, string>,
  options: { event?: object; eventName?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ActionRun> {
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
    return {
      ...ran,
      outputs: parseOutputs(await readFile(files.output, "utf8")),
      summary: await readFile(files.summary, "utf8"),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** GITHUB_OUTPUT's format: name<<DELIMITER, the value's lines, DELIMITER. */
function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<]+)<<(.+)$/.exec(lines[i]!);
    if (!match) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== match[2]; i++) value.push(lines[i]!);
    outputs[match[1]!] = value.join("\n");
  }
  return outputs;
}
