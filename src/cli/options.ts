import { InvalidArgumentError, Option } from "commander";
import { DEFAULT_LIMITS, type SandboxLimits } from "../sandbox/index.js";
import { formatBytes, formatDuration, parseDuration, parseSize, UnitError } from "../units/index.js";

/** Commander option parsers that turn unit errors into commander's usage errors. */
function parsed<T>(parse: (value: string) => T) {
  return (value: string): T => {
    try {
      return parse(value);
    } catch (error) {
      if (error instanceof UnitError) throw new InvalidArgumentError(error.message);
      throw error;
    }
  };
}

const positiveNumber = (what: string) =>
  parsed((value) => {
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
      .argParser(parsed((v) => parseDuration(v, "--time-limit"))),
    new Option("--memory <size>", "memory limit (memory+swap), e.g. 512m, 8g")
      .default(d.memoryBytes, formatBytes(d.memoryBytes))
      .argParser(parsed((v) => parseSize(v, "--memory"))),
    new Option("--cpus <n>", "CPUs the program may use").default(d.cpus).argParser(positiveNumber("--cpus")),
    new Option("--pids <n>", "most processes and threads at once")
      .default(d.pids)
      .argParser(positiveNumber("--pids")),
    new Option("--shm <size>", "size of /dev/shm")
      .default(d.shmBytes, formatBytes(d.shmBytes))
      .argParser(parsed((v) => parseSize(v, "--shm"))),
    new Option("--tmp <size>", "size of the /tmp scratch space")
      .default(d.tmpBytes, formatBytes(d.tmpBytes))
      .argParser(parsed((v) => parseSize(v, "--tmp"))),
    new Option("--output-size <size>", "cap on the output folder")
      .default(d.outputBytes, formatBytes(d.outputBytes))
      .argParser(parsed((v) => parseSize(v, "--output-size"))),
    new Option("--output-files <n>", "cap on files in the output folder")
      .default(d.outputFiles)
      .argParser(positiveNumber("--output-files")),
  ];
}

export interface LimitFlags {
  timeLimit: number;
  memory: number;
  cpus: number;
  pids: number;
  shm: number;
  tmp: number;
  outputSize: number;
  outputFiles: number;
}

export function limitsFrom(flags: LimitFlags): SandboxLimits {
  return {
    ...DEFAULT_LIMITS,
    timeLimitMs: flags.timeLimit,
    memoryBytes: flags.memory,
    cpus: flags.cpus,
    pids: Math.floor(flags.pids),
    shmBytes: flags.shm,
    tmpBytes: flags.tmp,
    outputBytes: flags.outputSize,
    outputFiles: Math.floor(flags.outputFiles),
  };
}
