import type Docker from "dockerode";
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { access, statfs } from "node:fs/promises";
import { CappedCapture } from "./capture.js";
import { registerRemoval, sweepExpired } from "./cleanup.js";
import { describeEngineError, engine, EngineError, onEngine } from "./engine.js";
import { resolveImage, type ResolvedImage } from "./image.js";
import { runtimeAware } from "./runtimes.js";
import type { SandboxLimits } from "./limits.js";
import { MetricsSeries, sampleGpu, sampleStats, type RunMetrics } from "./metrics.js";
import { collectOutputFromArchive, collectOutputFromFolder, type CollectedOutput } from "./output.js";
import {
  HOLDER_MOUNT,
  holderContainerSpec,
  outputVolumeOptions,
  untrustedContainerSpec,
  type SandboxRequest,
} from "./spec.js";
import { classifyEnd, type SandboxStatus } from "./verdict.js";

export type { SandboxStatus } from "./verdict.js";

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
  /** The OCI runtime the program ran under (runc, runsc). */
  runtime: string;
  limits: SandboxLimits;
  /** What the run used, as the engine measured it; null when no container ran. */
  metrics: RunMetrics | null;
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
  const base = { limits: request.limits, runtime: request.limits.runtime, exitCode: null, durationMs: 0 };
  const resources = new RunResources();
  let image: ResolvedImage | null = null;
  const run = { ...request, runId };
  // The output volume and its holder come first, while the image is looked up: they exist before the
  // sandbox can be refused, and the holder's start is off the critical path.
  const holder = resources.track(startHolder(run, resources));
  holder.catch(() => undefined);
  try {
    [image] = await Promise.all([resolveImage(request.image), sweepExpired().catch(() => 0)]);
    const ended = await execute(run, image, holder, stdout, stderr, resources);
    return { ...base, ...ended, image, stdout: logOf(stdout), stderr: logOf(stderr) };
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
      output: null,
      metrics: null,
      stdout: logOf(stdout),
      stderr: logOf(stderr),
    };
  } finally {
    await resources.removeAll();
  }
}

/**
 * What a run created, each registered for removal as soon as the engine made it. Removal first waits for
 * every creation still in flight (so nothing is made after cleanup ran, and no container can make the
 * engine re-create a removed volume), then removes the containers together, then the volume.
 */
class RunResources {
  private readonly inFlight: Promise<unknown>[] = [];
  private readonly containers: (() => Promise<void>)[] = [];
  private volume?: () => Promise<void>;

  async createVolume(name: string, options: Parameters<Docker["createVolume"]>[0]): Promise<void> {
    const docker = engine();
    await this.track(onEngine("creating the output volume", () => docker.createVolume(options)));
    this.volume = registerRemoval("volume", async () => {
      await onEngine("removing the output volume", () => docker.getVolume(name).remove({ force: true }));
    });
  }

  async createContainer(what: string, spec: Docker.ContainerCreateOptions): Promise<Docker.Container> {
    const container = await this.track(
      onEngine(`creating the ${what} container`, () => engine().createContainer(spec)),
    );
    this.containers.push(
      registerRemoval("container", async () => {
        await onEngine(`removing the ${what} container`, () => container.remove({ force: true, v: true }));
      }),
    );
    return container;
  }

  /** Something that must have settled before anything is removed (e.g. a start that may still run). */
  track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.push(work.catch(() => undefined));
    return work;
  }

  async removeAll(): Promise<void> {
    await Promise.allSettled(this.inFlight);
    await Promise.allSettled(this.containers.map((remove) => remove()));
    await this.volume?.().catch(() => undefined);
  }
}

type Ended = Pick<SandboxResult, "status" | "reason" | "exitCode" | "durationMs" | "output" | "metrics">;

const outputVolumeName = (request: SandboxRequest) =>
  request.output ? `proctor-${request.runId}-output` : null;

/**
 * Creates the output volume and starts the do-nothing container that keeps it mounted after the program
 * exits (a tmpfs volume is emptied when no running container uses it); null when the run has no output.
 */
async function startHolder(
  request: SandboxRequest,
  resources: RunResources,
): Promise<Docker.Container | null> {
  const volumeName = outputVolumeName(request);
  if (!volumeName) return null;
  await resources.createVolume(volumeName, outputVolumeOptions(request, volumeName));
  const holder = await resources.createContainer("output holder", holderContainerSpec(request, volumeName));
  await onEngine("starting the output holder", () => holder.start());
  return holder;
}

async function execute(
  request: SandboxRequest,
  image: ResolvedImage,
  holderStarted: Promise<Docker.Container | null>,
  stdout: CappedCapture,
  stderr: CappedCapture,
  resources: RunResources,
): Promise<Ended> {
  const docker = engine();
  const volumeName = outputVolumeName(request);
  const spec = untrustedContainerSpec(request, image, volumeName);
  const container = await resources.createContainer("sandbox", spec).catch(async (error: unknown) => {
    throw await runtimeAware(error, request.limits.runtime);
  });
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
  // The holder must hold the volume before the program can exit.
  const holder = await holderStarted;

  const stop = { sigterm: false, sigkill: false };
  let killTimer: NodeJS.Timeout | undefined;
  const started = performance.now();
  const series = new MetricsSeries(Date.now());
  try {
    await onEngine("starting the sandbox", () => container.start());
  } catch (error) {
    throw gpuAware(error, request);
  }
  const stats = sampleStats(container, series);
  const gpu = request.gpu ? sampleGpu() : null;
  const timer = setTimeout(() => {
    stop.sigterm = true;
    container.kill({ signal: "SIGTERM" }).catch(() => undefined);
    killTimer = setTimeout(() => {
      stop.sigkill = true;
      container.kill({ signal: "SIGKILL" }).catch(() => undefined);
    }, request.limits.graceMs);
  }, request.limits.timeLimitMs);

  let waited: { StatusCode: number };
  try {
    waited = await onEngine("waiting for the sandbox", () => exited);
  } finally {
    clearTimeout(timer);
    clearTimeout(killTimer);
    void stats.then((s) => s.stop());
  }
  const durationMs = Math.round(performance.now() - started);
  await Promise.race([streamEnded, delay(5000)]);

  const state = (await onEngine("inspecting the sandbox", () => container.inspect())).State;
  const exitCode = state.ExitCode ?? waited.StatusCode;

  const output =
    holder && volumeName && request.output ? await readOutput(request, volumeName, holder) : null;
  const metrics = series.finish({
    endedAtMs: parseEngineTime(state.FinishedAt),
    durationMs,
    cpus: request.limits.cpus,
    outputBytes: output?.totalBytes ?? null,
  });
  metrics.gpu = gpu?.stop() ?? null;

  const ended = { exitCode, durationMs, output, metrics };
  return {
    ...ended,
    ...classifyEnd(request, {
      ...ended,
      oomKilled: state.OOMKilled,
      peakMemoryBytes: metrics.peakMemoryBytes,
      stop,
      last: { files: series.lastFiles, memory: series.lastMemory },
    }),
  };
}

function parseEngineTime(text: string | undefined): number | null {
  const at = text ? Date.parse(text) : NaN;
  return Number.isFinite(at) && at > 0 ? at : null;
}

/**
 * Copies the output volume out: straight from the volume's folder when this process provably sees the live
 * mount (a readable tmpfs of exactly the output caps at that path: not so from another mount namespace, or
 * beside a remote engine), otherwise through the engine's archive API.
 */
async function readOutput(request: SandboxRequest, volumeName: string, holder: Docker.Container) {
  const output = request.output!;
  const caps = { maxBytes: request.limits.outputBytes, maxFiles: request.limits.outputFiles };
  if (request.outputCopy !== "archive") {
    const volume = await onEngine("locating the output", () => engine().getVolume(volumeName).inspect());
    if (await isLiveOutputMount(volume.Mountpoint, request.limits)) {
      return collectOutputFromFolder(volume.Mountpoint, output.hostDir, caps);
    }
  }
  const archive = await onEngine("reading the output", () => holder.getArchive({ path: HOLDER_MOUNT }));
  return collectOutputFromArchive(archive, HOLDER_MOUNT.slice(1), output.hostDir, caps);
}

const TMPFS_MAGIC = 0x01021994;

/** The folder is this run's mounted output tmpfs as this process sees it: type, size and inodes match. */
export async function isLiveOutputMount(
  folder: string | undefined,
  limits: Pick<SandboxLimits, "outputBytes" | "outputFiles">,
): Promise<boolean> {
  if (!folder) return false;
  try {
    await access(folder, constants.R_OK | constants.X_OK);
    const fs = await statfs(folder);
    return (
      fs.type === TMPFS_MAGIC &&
      fs.blocks === Math.ceil(limits.outputBytes / fs.bsize) &&
      fs.files === limits.outputFiles + 1
    );
  } catch {
    return false;
  }
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

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
