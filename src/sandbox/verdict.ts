import { namesFilePerId } from "../contract/index.js";
import type { RunStatus } from "../status/index.js";
import type { CollectedOutput } from "./output.js";
import type { SandboxLimits } from "./limits.js";
import type { Interference } from "./sandbox-events.js";
import type { SandboxRequest } from "./spec.js";

/** How a sandboxed run can end. */
export type SandboxStatus = Extract<
  RunStatus,
  | "succeeded"
  | "failed"
  | "timed_out"
  | "oom_killed"
  | "output_missing"
  | "output_invalid"
  | "output_too_large"
  | "invalid_submission"
  | "infrastructure_error"
>;

/** What the engine, the timer and the output folder say about a run that ended. */
export interface RunEnd {
  exitCode: number;
  /** The copied output folder; null when the run has none. */
  output: CollectedOutput | null;
  /**
   * The kernel killed a process of the sandbox for memory, by the engine's account (its OOMKilled flag, or
   * its `oom` event for the container, which may come after the exit: then only the event says so).
   */
  oomKilled: boolean;
  /** A kill of the sandbox through the engine that proctor did not send (an operator, another tool). */
  interference: Interference | null;
  /** The time limit's SIGTERM, and the SIGKILL after the grace period, were sent. */
  stop: { sigterm: boolean; sigkill: boolean };
  /** At the last sample: bytes of files in memory (tmpfs, shm, output) and memory used in all. */
  last: { files: number; memory: number };
}

export interface Verdict {
  status: SandboxStatus;
  /** One sentence on why the run ended as it did. */
  reason: string;
}

/**
 * Why the run ended, from what the engine and the output folder say, most telling first: a kill from
 * outside proctor before its time limit, the time limit, the kernel's OOM kill, memory eaten by the output
 * folder, the output caps, a failed exit, an unusable or missing expected output. The one place `output_missing` is
 * decided: a run that exited 0 without its expected file (without any file, when the expected output names
 * one file per id: "{id}.tif"), or whose entrypoint said so with
 * `output.missingExitCode` (runtime/entrypoint.sh's ENTRYPOINT_EXIT.outputMissing).
 */
export function classifyEnd(request: Pick<SandboxRequest, "limits" | "output">, run: RunEnd): Verdict {
  const { limits } = request;
  const { exitCode, output } = run;
  if (run.interference && !run.interference.afterOwnStop)
    return { status: "infrastructure_error", reason: interferenceReason(run.interference) };
  if (run.stop.sigterm) {
    // Sent is not needed: a program that died of the SIGTERM (143) or left on it, but whose end the engine
    // reported only after the grace period (a loaded host), was not killed by the SIGKILL (137).
    const how =
      run.stop.sigkill && exitCode === SIGKILL_EXIT
        ? `it was still running ${seconds(limits.graceMs)} after SIGTERM, so it was killed with SIGKILL`
        : `stopped with SIGTERM, it exited within the ${seconds(limits.graceMs)} grace period (no SIGKILL needed)`;
    return {
      status: "timed_out",
      reason: `ran past the time limit of ${seconds(limits.timeLimitMs)}; ${how}`,
    };
  }
  if (run.oomKilled) return oomVerdict(limits, output?.totalBytes ?? 0, run.last);
  if (exitCode !== 0 && output && output.totalBytes * 2 >= limits.memoryBytes) {
    // Out of memory without the engine's flag (gVisor can fail the write, or kill without it).
    return {
      status: "output_too_large",
      reason: `the program ended with code ${exitCode}${signalName(exitCode)} while the output folder held ${mib(output.totalBytes)}, at least half the memory limit of ${mib(limits.memoryBytes)}; files written there are kept in memory and count against it: write less`,
    };
  }
  if (output && outputFull(output, limits)) {
    return {
      status: "output_too_large",
      reason: `the output folder reached its cap of ${mib(limits.outputBytes)} or ${limits.outputFiles} files`,
    };
  }
  const expected = request.output?.expectedFile;
  // A name with {id} is a folder of files, one per id: any file is output (the format check names the rest).
  const wroteExpected =
    !!expected &&
    !!output &&
    (namesFilePerId(expected) ? output.files.length > 0 : output.files.some((f) => f.path === expected));
  if (exitCode !== 0) {
    const entrypointSaysMissing =
      exitCode === request.output?.missingExitCode && !!expected && !wroteExpected;
    if (request.output && output && entrypointSaysMissing) return outputMissing(request.output, output);
    return { status: "failed", reason: `the program exited with code ${exitCode}${signalName(exitCode)}` };
  }
  if (!request.output || !output) return { status: "succeeded", reason: "the program exited 0" };
  // A folder of files one per id takes only regular files: whatever was not copied (a link, a special
  // file, a name that is not UTF-8) is unusable, and the format check could not see it.
  if (expected && namesFilePerId(expected) && output.skipped.length > 0) {
    return {
      status: "output_invalid",
      reason: `${request.output.target} holds what is not a regular file: ${describeSkipped(output)}; write one ${expected} per id there, as regular files`,
    };
  }
  const unusable = expected ? output.skipped.find((s) => s.path === expected) : undefined;
  if (unusable) {
    return {
      status: "output_invalid",
      reason: `${expected} in ${request.output.target} is ${unusable.type}, not a regular file; write the predictions to a regular file`,
    };
  }
  if (expected ? !wroteExpected : output.files.length === 0) return outputMissing(request.output, output);
  return { status: "succeeded", reason: "the program exited 0" };
}

/**
 * A run whose sandbox was killed through the engine by someone else: the platform's, re-run and never
 * counted. Says nothing the program wrote.
 */
export function interferenceReason(interference: Interference): string {
  return (
    `the sandbox container was killed from outside proctor (${interference.signal}, through the Docker engine: ` +
    "docker kill, docker stop or docker rm -f by an operator or another tool), not by the program or its limits; " +
    "the run is not counted and runs again"
  );
}

function outputMissing(request: NonNullable<SandboxRequest["output"]>, output: CollectedOutput): Verdict {
  const expected = request.expectedFile;
  const skipped = output.skipped.length > 0 ? ` (not copied: ${describeSkipped(output)})` : "";
  return {
    status: "output_missing",
    reason: `the program exited 0 but wrote ${!expected ? "nothing" : namesFilePerId(expected) ? `no file (one ${expected} per id)` : `no ${expected}`} in ${request.target}${skipped}`,
  };
}

/**
 * The output folder, /tmp and /dev/shm are memory: a run killed while its output folder held half the
 * memory limit is output_too_large, and one whose memory was mostly files (at the last sample) is told so.
 */
function oomVerdict(limits: SandboxLimits, outputBytes: number, last: RunEnd["last"]): Verdict {
  const memory = limits.memoryBytes;
  const limit = `the memory limit of ${mib(memory)}`;
  if (outputBytes * 2 >= memory) {
    return {
      status: "output_too_large",
      reason: `killed by the kernel for using more than ${limit} while the output folder held ${mib(outputBytes)}; files written there are kept in memory and count against it: write less`,
    };
  }
  // Under gVisor the program's own memory is file-backed too: no attribution there.
  const files = limits.runtime === "runsc" ? 0 : last.files - outputBytes;
  const why =
    files * 2 >= last.memory && files > 0
      ? `; most of it was files in /tmp (or /dev/shm), about ${mib(files)} when last measured: they are kept in memory and count against it`
      : "";
  return { status: "oom_killed", reason: `killed by the kernel for using more than ${limit}${why}` };
}

function describeSkipped(output: CollectedOutput): string {
  const shown = output.skipped.slice(0, 3).map((s) => `${JSON.stringify(s.path)} (${s.type})`);
  return shown.join(", ") + (output.skipped.length > 3 ? ` and ${output.skipped.length - 3} more` : "");
}

const PAGE = 4096;

/** tmpfs hands out whole pages: a volume whose pages are all used, or whose inodes are, was full. */
function outputFull(output: CollectedOutput, limits: SandboxLimits): boolean {
  if (output.overCaps || output.entries >= limits.outputFiles) return true;
  const pages = output.files.reduce((sum, f) => sum + Math.ceil(f.bytes / PAGE), 0);
  return pages * PAGE >= limits.outputBytes;
}

function signalName(code: number): string {
  const names: Record<number, string> = {
    130: "SIGINT",
    134: "SIGABRT",
    [SIGKILL_EXIT]: "SIGKILL",
    139: "SIGSEGV",
    143: "SIGTERM",
  };
  return names[code] ? ` (${names[code]})` : "";
}

/** The exit status of a process the kernel killed with SIGKILL (128 + 9), PID 1 included. */
const SIGKILL_EXIT = 137;

const seconds = (ms: number) => `${ms / 1000}s`;
const mib = (bytes: number) => `${Math.round(bytes / 1024 ** 2)} MiB`;
