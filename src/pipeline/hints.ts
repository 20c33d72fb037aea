import { stat } from "node:fs/promises";
import path from "node:path";
import { packageLabel, providerOf, readEnvironment, type Environment } from "../runtime/index.js";
import { CONTAINER, namesFilePerId } from "../contract/index.js";
import type { SubmissionRunResult } from "./run-submission.js";

export interface HintContext {
  /** The file the competition expects in the submission folder, e.g. submission.csv. */
  expectedOutput: string;
  /** The production environment (environment-cpu.yml or -gpu.yml), to tell what a run could import there. */
  production?: Environment;
  /** Set when the offline flavour stood in for the production image: its environment. */
  offline?: Environment;
  /** Set for a participant's own image: where it writes its outputs (the runtime's packages don't apply). */
  imageOutputDir?: string;
}

/** Messages that say a network is needed: DNS, refused or unreachable connections, from Python's stacks. */
const NETWORK =
  /Temporary failure in name resolution|Name or service not known|Network is unreachable|getaddrinfo failed|Failed to establish a new connection|urlopen error|Max retries exceeded with url|nodename nor servname/;
const NO_MODULE = /ModuleNotFoundError: No module named '([\w.]+)'/;
/** A command the shell could not find: bash's and sh's "X: command not found"/"X: not found", env's shebang. */
const NO_COMMAND = [
  /(?:line \d+|: \d+|bash|sh): ([\w.+-]{1,64}): (?:command )?not found$/m,
  /env: '?([\w.+-]{1,64})'?: No such file or directory$/m,
];
/**
 * A file the program looked for directly under /code_execution that is none of the contract's folders:
 * DrivenData's runtimes unzipped the submission into that folder itself, so code written for them may load
 * its own files as /code_execution/assets/model.pt. (Their older /codeexecution is the working folder here,
 * the zip's files in it.) Python's message, as open, pathlib, torch.load, joblib and pandas raise it: the
 * path quoted.
 */
const ROOT_FILE = /No such file or directory: (['"])(\/code_execution)\/((?:(?!\1)[^\n])+)\1/;
const CONTRACT_FOLDERS = new Set(["src", "data", "submission", "models"]);
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** The exit status of a shell whose command was not found. */
const COMMAND_NOT_FOUND = 127;

/**
 * What a participant most likely has to do, read from a run's status, output and logs: one sentence each,
 * for the mistakes that send people to the forum.
 */
export function runHints(run: SubmissionRunResult, context: HintContext): string[] {
  const hints: string[] = [];
  const logs = `${run.stdout.text}\n${run.stderr.text}`;
  const image = context.imageOutputDir !== undefined;
  if (NETWORK.test(logs)) {
    hints.push(
      `the network is off during a run: ship the model weights and every other file your code downloads in your ${image ? "image" : "zip"}, and load them from there`,
    );
  }
  const files = run.output?.files ?? [];
  const expected = context.expectedOutput;
  // A folder format ("{id}.tif") takes files of many names: the format check names the wrong ones.
  if (!namesFilePerId(expected) && !files.some((f) => f.path === expected) && files.length > 0) {
    const found = files
      .slice(0, 3)
      .map((f) => f.path)
      .join(", ");
    hints.push(
      `found ${found}${files.length > 3 ? ", ..." : ""} in ${context.imageOutputDir ?? CONTAINER.submission}; the competition expects ${expected} there`,
    );
  }
  const command = commandNotFound(logs);
  if (command) hints.push(commandHint(command, image));
  else if (run.exitCode === COMMAND_NOT_FOUND) {
    hints.push(
      `exit code ${COMMAND_NOT_FOUND} is the shell's "command not found": check the commands your main.sh runs${image ? " are installed in your image" : ` (the runtime has python, python3 and bash)`}`,
    );
  }
  const module = NO_MODULE.exec(logs)?.[1];
  if (module && image)
    hints.push(`${module.split(".")[0]} is not in your image: install it there and build again`);
  else if (module) hints.push(moduleHint(module, context));
  const rootFile = image ? undefined : submissionFileAtRoot(logs);
  if (rootFile) hints.push(rootFile);
  return hints;
}

function submissionFileAtRoot(logs: string): string | undefined {
  const match = ROOT_FILE.exec(logs);
  if (!match) return undefined;
  const [, , root, rest] = match as unknown as [string, string, string, string];
  // Program output: a path with control characters (terminal escapes) or a long one is not repeated.
  if (CONTRACT_FOLDERS.has(rest.split("/")[0]!) || rest.length > 200 || CONTROL.test(rest)) return undefined;
  return `${root}/${rest} is not there: DrivenData's runtimes unzipped the submission into ${root} itself, here your zip's files are in ${CONTAINER.src} and in the working folder main.py runs in; load it relative to main.py (Path(__file__).parent / "${rest}") or from ${CONTAINER.src}/${rest}`;
}

function moduleHint(module: string, context: HintContext): string {
  const top = module.split(".")[0]!;
  const inProduction = context.production && providerOf(context.production, top);
  if (inProduction && context.offline && !providerOf(context.offline, top)) {
    return `${top} is in the production image (${packageLabel(inProduction)} in ${context.production!.file}) but not in the offline flavour this run used; pull or build the production image (make pull, make build) to test code that imports it`;
  }
  if (inProduction) {
    return `${top} is in the runtime (${packageLabel(inProduction)}); check that the name is spelled as the package installs it`;
  }
  const where = context.production ? path.dirname(context.production.file) : ".";
  const files = ["environment-cpu.yml", "environment-gpu.yml"].map((f) => path.join(where, f)).join(" and ");
  return `${top} is not in the runtime: ship it in your zip if it is pure Python, or open a pull request adding it to ${files}`;
}

/**
 * The environment files the hints compare: the production one of the flavour and, where the offline
 * flavour stands in, runtime/environment-offline.yml. They belong to the repository that builds the
 * runtime, so each is looked for beside competition.yml, then in each folder above it up to the
 * repository's root (the first with a .git): a repository may keep its competitions in subfolders. Files
 * missing or unreadable are left out (the hints then say less); paths are relative to the working folder.
 */
export async function hintEnvironments(
  competitionFile: string,
  flavour: "cpu" | "gpu",
  offlineStandsIn: boolean,
): Promise<Pick<HintContext, "production" | "offline">> {
  const read = async (relative: string) => {
    const file = await runtimeFile(competitionFile, relative);
    if (file === undefined) return undefined;
    return readEnvironment(path.relative(process.cwd(), file)).catch(
      (): Environment | undefined => undefined,
    );
  };
  const production = await read(`environment-${flavour}.yml`);
  const offline = offlineStandsIn ? await read(path.join("runtime", "environment-offline.yml")) : undefined;
  return { ...(production && { production }), ...(offline && { offline }) };
}

async function runtimeFile(competitionFile: string, relative: string): Promise<string | undefined> {
  const isFile = async (p: string) => (await stat(p).catch(() => null))?.isFile() ?? false;
  for (let dir = path.dirname(path.resolve(competitionFile)); ; dir = path.dirname(dir)) {
    if (await isFile(path.join(dir, relative))) return path.join(dir, relative);
    const root = path.dirname(dir) === dir || (await stat(path.join(dir, ".git")).catch(() => null)) !== null;
    if (root) return undefined;
  }
}

function commandNotFound(logs: string): string | undefined {
  for (const pattern of NO_COMMAND) {
    const command = pattern.exec(logs)?.[1];
    if (command) return command;
  }
  return undefined;
}

function commandHint(command: string, image: boolean): string {
  if (image)
    return `${command} is not a command in your image: install it there, or put it on PATH, and build again`;
  return `${command} is not a command in the runtime (DrivenData's runtimes wrap python in conda, pixi or uv; here python and python3 are on PATH): call python main.py, or ship ${command} in your zip and run it by its path`;
}
