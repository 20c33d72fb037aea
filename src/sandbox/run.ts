import type Docker from "dockerode";
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import type { RunStatus } from "../status/index.js";
import { CappedCapture } from "./capture.js";
import { registerRemoval, sweepOrphans } from "./cleanup.js";
import { describeEngineError, engine, EngineError, onEngine } from "./engine.js";
import { resolveImage, type ResolvedImage } from "./image.js";
import type { SandboxLimits } from "./limits.js";
import { collectOutputFromArchive, collectOutputFromFolder, type CollectedOutput } from "./output.js";
import {
  HOLDER_MOUNT,
  holderContainerSpec,
  outputVolumeOptions,
  untrustedContainerSpec,
  type SandboxRequest,
} from "./spec.js";

export type SandboxStatus = Extract<
  RunStatus,
  | "succeeded"
  | "failed"
  | "timed_out"
  | "oom_killed"
  | "output_missing"
  | "output_too_large"
  | "infrastructure_error"
>;

export interface CapturedLog {
  text: string;
  bytes: number;
  lines: number;
  truncated: boolean;
}

export interface SandboxResult {
  status: SandboxStatus;
  /** One sentence on why the run ended as it did. */
  reason: string;
  exitCode: number | null;
  durationMs: number;
  image: ResolvedImage | null;
  limits: SandboxLimits;
  stdout: CapturedLog;
  stderr: CapturedLog;
  output: CollectedOutput | null;
}

export function newRunId(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
}

/**
 * Runs untrusted code in a container with every limit of `request`, and reports exactly what happened.
 * Never throws for a failure of the program or of the engine: those are statuses. The containers and the
 * output volume are always removed, also when this process is interrupted.
 */
export async function runSandboxed(request: SandboxRequest): Promise<SandboxResult> {
  try {
    return await attemptRun(request, request.runId, true);
  } catch (error) {
    // Only a start the engine itself lost (nothing of the program ran) is worth one more try.
    if (!(error instanceof StartLostError)) throw error;
    return attemptRun(request, `${request.runId}-retry`, false);
  }
}

/** The engine lost the container between create and start (a runc race under load); nothing ran. */
class StartLostError extends Error {}
const START_LOST = /cannot start a stopped process|cgroup deleted/;

async function attemptRun(request: SandboxRequest, runId: string, mayRetry: boolean): Promise<SandboxResult> {
  const stdout = new CappedCapture(request.limits.logHeadBytes, request.limits.logTailBytes);
  const stderr = new CappedCapture(request.limits.logHeadBytes, request.limits.logTailBytes);
  const base = { limits: request.limits, exitCode: null, durationMs: 0, output: null };
  const created: Created = { containers: [] };
  let image: ResolvedImage | null = null;
  try {
    [image] = await Promise.all([resolveImage(request.image), sweepOrphans().catch(() => 0)]);
    const ended = await execute({ ...request, runId }, image, stdout, stderr, created);
    return { ...ended, image, limits: request.limits, stdout: logOf(stdout), stderr: logOf(stderr) };
  } catch (error) {
    if (mayRetry && error instanceof EngineError && START_LOST.test(error.message))
      throw new StartLostError(error.message);
    const reason =
      error instanceof EngineError ? error.message : `unexpected error: ${describeEngineError(error)}`;
    return {
      ...base,
      status: "infrastructure_error",
      reason,
      image,
      stdout: logOf(stdout),
      stderr: logOf(stderr),
    };
  } finally {
    // Containers first (together), then the volume: a volume in use cannot be removed.
    await removeAll(created);
  }
}

/** Removals of what a run created, registered as soon as each thing exists. */
interface Created {
  containers: (() => Promise<void>)[];
  volume?: () => Promise<void>;
}

/** Containers first (together), then the volume: a volume in use cannot be removed. */
async function removeAll(created: Created): Promise<void> {
  await Promise.allSettled(created.containers.map((remove) => remove()));
  await created.volume?.().catch(() => undefined);
}

type Ended = Pick<SandboxResult, "status" | "reason" | "exitCode" | "durationMs" | "output">;

async function execute(
  request: SandboxRequest,
  image: ResolvedImage,
  stdout: CappedCapture,
  stderr: CappedCapture,
  created: Created,
): Promise<Ended> {
  const docker = engine();
  const volumeName = request.output ? `proctor-${request.runId}-output` : null;

  if (volumeName) {
    await onEngine("creating the output volume", () =>
      docker.createVolume(outputVolumeOptions(request, volumeName)),
    );
    created.volume = registerRemoval("volume", async () => {
      await docker.getVolume(volumeName).remove({ force: true });
    });
  }

  const createContainer = async (what: string, spec: Docker.ContainerCreateOptions) => {
    const container = await onEngine(`creating the ${what} container`, () => docker.createContainer(spec));
    created.containers.push(
      registerRemoval("container", async () => {
        await container.remove({ force: true, v: true });
      }),
    );
    return container;
  };

  // The holder keeps the output volume mounted; it starts while the untrusted container is being set up.
  const holderReady = volumeName
    ? createContainer("output holder", holderContainerSpec(request, volumeName)).then(async (holder) => {
        await onEngine("starting the output holder", () => holder.start());
        return holder;
      })
    : Promise.resolve(null);

  const spec = untrustedContainerSpec(request, image, volumeName);
  const [holder, container] = await Promise.all([holderReady, createContainer("sandbox", spec)]);

  const attached = await onEngine("attaching to the sandbox", () =>
    container.attach({ stream: true, stdout: true, stderr: true, logs: false }),
  );
  const streamEnded = new Promise<void>((resolve) => {
    attached.on("end", resolve);
    attached.on("close", resolve);
    attached.on("error", () => resolve());
  });
  docker.modem.demuxStream(attached, stdout, stderr);
  // Register the wait before starting, so a program that exits at once is not missed.
  const exited = container.wait({ condition: "next-exit" }) as Promise<{ StatusCode: number }>;
  exited.catch(() => undefined);

  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const started = performance.now();
  try {
    await onEngine("starting the sandbox", () => container.start());
  } catch (error) {
    throw gpuAware(error, request);
  }
  const timer = setTimeout(() => {
    timedOut = true;
    container.kill({ signal: "SIGTERM" }).catch(() => undefined);
    killTimer = setTimeout(
      () => container.kill({ signal: "SIGKILL" }).catch(() => undefined),
      request.limits.graceMs,
    );
  }, request.limits.timeLimitMs);

  let waited: { StatusCode: number };
  try {
    waited = await onEngine("waiting for the sandbox", () => exited);
  } finally {
    clearTimeout(timer);
    clearTimeout(killTimer);
  }
  const durationMs = Math.round(performance.now() - started);
  await Promise.race([streamEnded, delay(5000)]);

  const state = (await onEngine("inspecting the sandbox", () => container.inspect())).State;
  const exitCode = state.ExitCode ?? waited.StatusCode;

  const output =
    holder && volumeName && request.output ? await readOutput(request, volumeName, holder) : null;

  const ended = { exitCode, durationMs, output };
  const limits = request.limits;
  if (timedOut) {
    return {
      ...ended,
      status: "timed_out",
      reason: `ran past the time limit of ${seconds(limits.timeLimitMs)}; stopped with SIGTERM, then SIGKILL after ${seconds(limits.graceMs)}`,
    };
  }
  if (state.OOMKilled) {
    return {
      ...ended,
      status: "oom_killed",
      reason: `killed by the kernel for using more than the memory limit of ${mib(limits.memoryBytes)}`,
    };
  }
  if (output && outputFull(output, limits)) {
    return {
      ...ended,
      status: "output_too_large",
      reason: `the output folder reached its cap of ${mib(limits.outputBytes)} or ${limits.outputFiles} files`,
    };
  }
  if (exitCode !== 0) {
    return {
      ...ended,
      status: "failed",
      reason: `the program exited with code ${exitCode}${signalName(exitCode)}`,
    };
  }
  const expected = request.output?.expectedFile;
  if (
    request.output &&
    output &&
    (expected ? !output.files.some((f) => f.path === expected) : output.files.length === 0)
  ) {
    return {
      ...ended,
      status: "output_missing",
      reason: expected
        ? `the program exited 0 but wrote no ${expected} in ${request.output.target}`
        : `the program exited 0 but wrote nothing in ${request.output.target}`,
    };
  }
  return { ...ended, status: "succeeded", reason: "the program exited 0" };
}

/**
 * Copies the output volume out. Beside a local engine whose volume folder this process may read, straight
 * from that folder; otherwise (a remote engine, no permission) through the engine's archive API.
 */
async function readOutput(request: SandboxRequest, volumeName: string, holder: Docker.Container) {
  const output = request.output!;
  const caps = { maxBytes: request.limits.outputBytes, maxFiles: request.limits.outputFiles };
  if (request.outputCopy !== "archive") {
    const volume = await onEngine("locating the output", () => engine().getVolume(volumeName).inspect());
    if (await isReadableFolder(volume.Mountpoint)) {
      return collectOutputFromFolder(volume.Mountpoint, output.hostDir, caps);
    }
  }
  const archive = await onEngine("reading the output", () => holder.getArchive({ path: HOLDER_MOUNT }));
  return collectOutputFromArchive(archive, HOLDER_MOUNT.slice(1), output.hostDir, caps);
}

async function isReadableFolder(folder: string | undefined): Promise<boolean> {
  if (!folder) return false;
  try {
    await access(folder, constants.R_OK | constants.X_OK);
    return (await stat(folder)).isDirectory();
  } catch {
    return false;
  }
}

const PAGE = 4096;

/** tmpfs hands out whole pages: a volume whose pages are all used, or whose inodes are, was full. */
function outputFull(output: CollectedOutput, limits: SandboxLimits): boolean {
  if (output.overCaps || output.entries >= limits.outputFiles) return true;
  const pages = output.files.reduce((sum, f) => sum + Math.ceil(f.bytes / PAGE), 0);
  return pages * PAGE >= limits.outputBytes;
}

function gpuAware(error: unknown, request: SandboxRequest): unknown {
  const text = error instanceof Error ? error.message : String(error);
  if (request.gpu && /device driver|nvidia|gpu/i.test(text)) {
    return new EngineError(
      `a GPU was asked for (--gpu), but this Docker engine has no NVIDIA runtime: ${text}. ` +
        "Install the NVIDIA Container Toolkit on this runner and restart dockerd, or run without --gpu.",
      { cause: error },
    );
  }
  return error;
}

function logOf(capture: CappedCapture): CapturedLog {
  return {
    text: capture.text(),
    bytes: capture.totalBytes,
    lines: capture.lineCount,
    truncated: capture.truncated,
  };
}

function signalName(code: number): string {
  const names: Record<number, string> = {
    130: "SIGINT",
    134: "SIGABRT",
    137: "SIGKILL",
    139: "SIGSEGV",
    143: "SIGTERM",
  };
  return names[code] ? ` (${names[code]})` : "";
}

const seconds = (ms: number) => `${ms / 1000}s`;
const mib = (bytes: number) => `${Math.round(bytes / 1024 ** 2)} MiB`;
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
