import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, type SandboxLimits } from "./limits.js";
import type { CollectedOutput } from "./output.js";
import type { SandboxRequest } from "./spec.js";
import { classifyEnd, type RunEnd, type SandboxStatus } from "./verdict.js";

const MiB = 1024 ** 2;
const LIMITS: SandboxLimits = {
  ...DEFAULT_LIMITS,
  timeLimitMs: 2000,
  graceMs: 1000,
  memoryBytes: 256 * MiB,
  outputBytes: 16 * MiB,
  outputFiles: 10,
  runtime: "runc",
};
const OUTPUT = { target: "/code_execution/submission", hostDir: "/host/out", expectedFile: "submission.csv" };
/** As the pipeline asks for a zip submission: the runtime entrypoint's 65 says the output is missing. */
const ZIP_OUTPUT = { ...OUTPUT, missingExitCode: 65 };

function collected(files: Record<string, number>, more: Partial<CollectedOutput> = {}): CollectedOutput {
  const list = Object.entries(files).map(([path, bytes]) => ({ path, bytes }));
  return {
    files: list,
    totalBytes: list.reduce((sum, f) => sum + f.bytes, 0),
    entries: list.length,
    skipped: [],
    overCaps: false,
    ...more,
  };
}

const WROTE = collected({ "submission.csv": 100 });
const NOTHING = collected({});

interface Case {
  name: string;
  request?: Partial<Pick<SandboxRequest, "limits" | "output">> & { runtime?: string };
  run: Partial<RunEnd>;
  status: SandboxStatus;
  reason: RegExp;
}

const cases: Case[] = [
  {
    name: "the time limit, the program leaving within the grace period",
    run: { stop: { sigterm: true, sigkill: false }, exitCode: 143 },
    status: "timed_out",
    reason:
      /^ran past the time limit of 2s; stopped with SIGTERM, it exited within the 1s grace period \(no SIGKILL needed\)$/,
  },
  {
    name: "the time limit, the program killed after the grace period",
    run: { stop: { sigterm: true, sigkill: true }, exitCode: 137 },
    status: "timed_out",
    reason:
      /^ran past the time limit of 2s; it was still running 1s after SIGTERM, so it was killed with SIGKILL$/,
  },
  {
    name: "the time limit, the program gone on SIGTERM though the engine said so after the grace period",
    run: { stop: { sigterm: true, sigkill: true }, exitCode: 143 },
    status: "timed_out",
    reason: /stopped with SIGTERM, it exited within the 1s grace period \(no SIGKILL needed\)$/,
  },
  {
    name: "the time limit wins over the OOM flag and a missing output",
    run: { stop: { sigterm: true, sigkill: true }, exitCode: 137, oomKilled: true, output: NOTHING },
    status: "timed_out",
    reason: /time limit/,
  },
  {
    name: "the kernel's OOM kill",
    run: { oomKilled: true, exitCode: 137, output: WROTE, last: { files: 0, memory: 256 * MiB } },
    status: "oom_killed",
    reason: /^killed by the kernel for using more than the memory limit of 256 MiB$/,
  },
  {
    name: "the kernel's OOM kill while the output folder held half the memory",
    run: { oomKilled: true, exitCode: 137, output: collected({ "big.bin": 128 * MiB }) },
    status: "output_too_large",
    reason:
      /^killed by the kernel .* while the output folder held 128 MiB; files written there are kept in memory/,
  },
  {
    name: "the kernel's OOM kill, the memory mostly files in /tmp (runc)",
    run: { oomKilled: true, exitCode: 137, output: WROTE, last: { files: 200 * MiB, memory: 250 * MiB } },
    status: "oom_killed",
    reason: /; most of it was files in \/tmp \(or \/dev\/shm\), about 200 MiB when last measured/,
  },
  {
    name: "the kernel's OOM kill under gVisor: no attribution to files",
    request: { runtime: "runsc" },
    run: { oomKilled: true, exitCode: 137, output: WROTE, last: { files: 200 * MiB, memory: 250 * MiB } },
    status: "oom_killed",
    reason: /^killed by the kernel for using more than the memory limit of 256 MiB$/,
  },
  {
    name: "a failed exit while the output folder held half the memory (no OOM flag)",
    run: { exitCode: 1, output: collected({ "big.bin": 130 * MiB }) },
    status: "output_too_large",
    reason:
      /^the program ended with code 1 while the output folder held 130 MiB, at least half the memory limit/,
  },
  {
    name: "a SIGKILL exit near the memory limit without the engine's OOM account is only failed (no sampled guess)",
    request: { runtime: "runsc" },
    run: { exitCode: 137, output: WROTE, last: { files: 0, memory: 255 * MiB } },
    status: "failed",
    reason: /^the program exited with code 137 \(SIGKILL\)$/,
  },
  {
    name: "a kill through the engine that proctor did not send, before any time limit",
    run: { exitCode: 137, output: WROTE, interference: { signal: "SIGKILL", afterOwnStop: false } },
    status: "infrastructure_error",
    reason: /^the sandbox container was killed from outside proctor \(SIGKILL, through the Docker engine/,
  },
  {
    name: "a kill from outside wins over an OOM and a missing output: the run was disturbed",
    run: {
      exitCode: 137,
      oomKilled: true,
      output: NOTHING,
      interference: { signal: "SIGTERM", afterOwnStop: false },
    },
    status: "infrastructure_error",
    reason: /killed from outside proctor \(SIGTERM/,
  },
  {
    name: "a kill from outside after proctor's own time limit stopped the program: timed out all the same",
    run: {
      stop: { sigterm: true, sigkill: false },
      exitCode: 137,
      interference: { signal: "SIGKILL", afterOwnStop: true },
    },
    status: "timed_out",
    reason: /time limit/,
  },
  {
    name: "the output caps were reached",
    run: { exitCode: 0, output: collected({ "submission.csv": 100 }, { overCaps: true }) },
    status: "output_too_large",
    reason: /^the output folder reached its cap of 16 MiB or 10 files$/,
  },
  {
    name: "the output's inodes were all used",
    run: { exitCode: 1, output: collected({ "submission.csv": 100 }, { entries: 10 }) },
    status: "output_too_large",
    reason: /cap of 16 MiB or 10 files/,
  },
  {
    name: "the output's pages were all used (tmpfs counts whole pages)",
    run: { exitCode: 0, output: collected({ "submission.csv": 16 * MiB - 4096, "a.txt": 1 }) },
    status: "output_too_large",
    reason: /cap of 16 MiB/,
  },
  {
    name: "a non-zero exit",
    run: { exitCode: 3, output: WROTE },
    status: "failed",
    reason: /^the program exited with code 3$/,
  },
  {
    name: "a segfault is named",
    run: { exitCode: 139, output: WROTE },
    status: "failed",
    reason: /^the program exited with code 139 \(SIGSEGV\)$/,
  },
  {
    name: "exit 0 without an output folder",
    request: { output: undefined },
    run: { exitCode: 0, output: null },
    status: "succeeded",
    reason: /^the program exited 0$/,
  },
  {
    name: "exit 0, the expected output written",
    run: { exitCode: 0, output: WROTE },
    status: "succeeded",
    reason: /^the program exited 0$/,
  },
  {
    name: "exit 0, the expected output a link",
    run: {
      exitCode: 0,
      output: collected({}, { skipped: [{ path: "submission.csv", type: "a symbolic link" }] }),
    },
    status: "output_invalid",
    reason:
      /^submission\.csv in \/code_execution\/submission is a symbolic link, not a regular file; write the predictions to a regular file$/,
  },
  {
    name: "exit 0, the expected output missing",
    run: { exitCode: 0, output: collected({ "preds.csv": 10 }) },
    status: "output_missing",
    reason: /^the program exited 0 but wrote no submission\.csv in \/code_execution\/submission$/,
  },
  {
    name: "exit 0, the expected output missing, what was not copied named",
    run: {
      exitCode: 0,
      output: collected({}, { skipped: [{ path: "out/link", type: "a symbolic link" }] }),
    },
    status: "output_missing",
    reason:
      /^the program exited 0 but wrote no submission\.csv in \/code_execution\/submission \(not copied: "out\/link" \(a symbolic link\)\)$/,
  },
  {
    name: "exit 0, no expected file named and nothing written",
    request: { output: { target: "/output", hostDir: "/host/out" } },
    run: { exitCode: 0, output: NOTHING },
    status: "output_missing",
    reason: /^the program exited 0 but wrote nothing in \/output$/,
  },
  {
    name: "exit 0, no expected file named, something written",
    request: { output: { target: "/output", hostDir: "/host/out" } },
    run: { exitCode: 0, output: collected({ "results.json": 2 }) },
    status: "succeeded",
    reason: /^the program exited 0$/,
  },
  {
    name: "the runtime entrypoint's 65 without the expected output: output_missing",
    request: { output: ZIP_OUTPUT },
    run: { exitCode: 65, output: NOTHING },
    status: "output_missing",
    reason: /^the program exited 0 but wrote no submission\.csv in \/code_execution\/submission$/,
  },
  {
    name: "65 with the expected output written: the program's own failure",
    request: { output: ZIP_OUTPUT },
    run: { exitCode: 65, output: WROTE },
    status: "failed",
    reason: /^the program exited with code 65$/,
  },
  {
    name: "65 where no entrypoint speaks that way (an image submission): failed",
    run: { exitCode: 65, output: NOTHING },
    status: "failed",
    reason: /^the program exited with code 65$/,
  },
  {
    name: "65 without an expected file named: failed",
    request: { output: { target: "/output", hostDir: "/host/out", missingExitCode: 65 } },
    run: { exitCode: 65, output: NOTHING },
    status: "failed",
    reason: /^the program exited with code 65$/,
  },
  {
    name: "a folder format ({id}.tif), exit 0 with files of any name: the format check judges them",
    request: { output: { ...ZIP_OUTPUT, expectedFile: "{id}.tif" } },
    run: { exitCode: 0, output: collected({ "chip1.tif": 10, "notes.txt": 2 }) },
    status: "succeeded",
    reason: /^the program exited 0$/,
  },
  {
    name: "a folder format, exit 0 with a link among the files: output_invalid, the link named",
    request: { output: { ...ZIP_OUTPUT, expectedFile: "{id}.tif" } },
    run: {
      exitCode: 0,
      output: collected({ "chip1.tif": 10 }, { skipped: [{ path: "chip2.tif", type: "a symbolic link" }] }),
    },
    status: "output_invalid",
    reason:
      /^\/code_execution\/submission holds what is not a regular file: "chip2\.tif" \(a symbolic link\); write one \{id\}\.tif per id there, as regular files$/,
  },
  {
    name: "a folder format, exit 0 with no file: output_missing, one file per id named",
    request: { output: { ...OUTPUT, expectedFile: "{id}.tif" } },
    run: { exitCode: 0, output: NOTHING },
    status: "output_missing",
    reason:
      /^the program exited 0 but wrote no file \(one \{id\}\.tif per id\) in \/code_execution\/submission$/,
  },
  {
    name: "a folder format, the entrypoint's 65 with no file: output_missing",
    request: { output: { ...ZIP_OUTPUT, expectedFile: "{id}.tif" } },
    run: { exitCode: 65, output: NOTHING },
    status: "output_missing",
    reason: /wrote no file \(one \{id\}\.tif per id\)/,
  },
  {
    name: "65 after a timeout is still timed_out",
    request: { output: ZIP_OUTPUT },
    run: { exitCode: 65, output: NOTHING, stop: { sigterm: true, sigkill: false } },
    status: "timed_out",
    reason: /time limit/,
  },
];

describe("classifyEnd", () => {
  it.each(cases)("$name: $status", ({ request = {}, run, status, reason }) => {
    const { runtime, ...rest } = request;
    const verdict = classifyEnd(
      {
        output: OUTPUT,
        ...rest,
        limits: { ...LIMITS, ...rest.limits, ...(runtime && { runtime }) },
      },
      {
        exitCode: 0,
        output: null,
        oomKilled: false,
        stop: { sigterm: false, sigkill: false },
        last: { files: 0, memory: 0 },
        interference: null,
        ...run,
      },
    );
    expect(verdict.status).toBe(status);
    expect(verdict.reason).toMatch(reason);
  });
});
