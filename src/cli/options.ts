import { Option } from "commander";
import {
  capsProblem,
  checkRuntime,
  DEFAULT_LIMITS,
  DERIVED_CAPS_RULE,
  derivedCaps,
  RuntimeUnavailableError,
  type SandboxLimits,
} from "../sandbox/index.js";
import { formatBytes, formatDuration, parseDuration, parseSize, UnitError } from "../units/index.js";
import { unitArg, UsageError } from "./usage-error.js";

const positiveNumber = (what: string) =>
  unitArg((value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new UnitError(`${what} "${value}" must be a positive number`);
    return n;
  });

/** The resource-limit flags shared by every command that runs a submission. */
export function limitOptions(): Option[] {
  const d = DEFAULT_LIMITS;
  return [
    new Option("--time-limit <duration>", "wall-clock limit, e.g. 90s, 30m")
      .default(d.timeLimitMs, formatDuration(d.timeLimitMs))
      .argParser(unitArg((v) => parseDuration(v, "--time-limit"))),
    new Option("--memory <size>", "memory limit (memory+swap), e.g. 512m, 8g")
      .default(d.memoryBytes, formatBytes(d.memoryBytes))
      .argParser(unitArg((v) => parseSize(v, "--memory"))),
    new Option("--cpus <n>", "CPUs the program may use").default(d.cpus).argParser(positiveNumber("--cpus")),
    new Option("--pids <n>", "most processes and threads at once")
      .default(d.pids)
      .argParser(positiveNumber("--pids")),
    new Option("--shm <size>", `size of /dev/shm (${DERIVED_CAPS_RULE})`).argParser(
      unitArg((v) => parseSize(v, "--shm")),
    ),
    new Option("--tmp <size>", "size of the /tmp scratch space (derived from --memory, see --shm)").argParser(
      unitArg((v) => parseSize(v, "--tmp")),
    ),
    new Option(
      "--output-size <size>",
      "cap on the output folder (derived from --memory, see --shm)",
    ).argParser(unitArg((v) => parseSize(v, "--output-size"))),
    new Option("--output-files <n>", "cap on files in the output folder")
      .default(d.outputFiles)
      .argParser(positiveNumber("--output-files")),
    runtimeOption().default(d.runtime),
  ];
}

/** `--runtime`: the engine's OCI runtime for the program (test-submission and interact default to competition.yml's). */
export function runtimeOption(): Option {
  return new Option(
    "--runtime <name>",
    "OCI runtime: runc, or runsc for gVisor's stronger sandbox (must be registered with the engine)",
  );
}

export interface LimitFlags {
  timeLimit: number;
  memory: number;
  cpus: number;
  pids: number;
  shm?: number;
  tmp?: number;
  outputSize?: number;
  outputFiles: number;
  runtime: string;
}

/** The limits the flags ask for; the memory-backed caps not given are derived from --memory. */
export function limitsFrom(flags: LimitFlags): SandboxLimits {
  const derived = derivedCaps(flags.memory);
  const limits: SandboxLimits = {
    ...DEFAULT_LIMITS,
    timeLimitMs: flags.timeLimit,
    memoryBytes: flags.memory,
    cpus: flags.cpus,
    pids: Math.floor(flags.pids),
    shmBytes: flags.shm ?? derived.shmBytes,
    tmpBytes: flags.tmp ?? derived.tmpBytes,
    outputBytes: flags.outputSize ?? derived.outputBytes,
    outputFiles: Math.floor(flags.outputFiles),
    runtime: flags.runtime,
  };
  const problem = capsProblem(limits, {
    memory: "--memory",
    output: "--output-size",
    tmp: "--tmp",
    shm: "--shm",
  });
  if (problem) throw new UsageError(problem);
  return limits;
}

/** Refuses, as a usage error, a runtime the engine does not have; `source` says where the name came from. */
export async function ensureRuntime(runtime: string, source: string): Promise<void> {
  if (runtime === "runc") return;
  try {
    await checkRuntime(runtime);
  } catch (error) {
    if (error instanceof RuntimeUnavailableError) throw new UsageError(`${source}: ${error.message}`);
    throw error;
  }
}

/** The runtime a competition command uses: --runtime, else competition.yml's limits.runtime; checked. */
export async function chosenRuntime(
  flag: string | undefined,
  configured: string,
  configPath: string,
): Promise<string> {
  const runtime = flag ?? configured;
  await ensureRuntime(runtime, flag ? `--runtime ${runtime}` : `limits.runtime ${runtime} in ${configPath}`);
  return runtime;
}
