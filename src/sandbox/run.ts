import type Docker from "dockerode";
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { access, statfs } from "node:fs/promises";
import type { Duplex } from "node:stream";
import { CappedCapture } from "./capture.js";
import { registerRemoval, sweepExpired } from "./cleanup.js";
import { describeEngineError, engine, EngineError, onEngine } from "./engine.js";
import { resolveImage, type ResolvedImage } from "./image.js";
import { imageRefusal, ImageRefusedError } from "./refusal.js";
import { SandboxWatch } from "./sandbox-events.js";
import { watchVolumeMount } from "./volume-events.js";
import { waitForNextExit } from "./wait.js";
import { runtimeAware } from "./runtimes.js";
import type { SandboxLimits } from "./limits.js";
import { MetricsSeries, sampleGpu, sampleStats, type RunMetrics } from "./metrics.js";
import { collectOutputFromArchive, collectOutputFromFolder, type CollectedOutput } from "./output.js";
import {
  HOLDER_MOUNT,
  holderContainerSpec,
  untrustedContainerSpec,
  type EarlyRequest,
  type SandboxRequest,
} from "./spec.js";
import { classifyEnd, interferenceReason, type SandboxStatus } from "./verdict.js";

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
  return prepareRun(request).run(request);
}

export interface PreparedRun {
  /** Runs the program; `request` must agree with what the run was prepared with. */
  run(request: SandboxRequest): Promise<SandboxResult>;
  /**
   * Removes what was made and is not removed yet: call it once the run is over or will not happen (after a
   * run, whose own end removed everything, it has nothing left to do).
   */
  dispose(): Promise<void>;
}

/**
 * Starts a run's program-independent part (the image lookup, the output holder and its volume), so that it
 * overlaps what the caller still has to do before the program is known (e.g. extract a zip). Every
 * prepared run must be disposed of.
 */
export function prepareRun(early: EarlyRequest): PreparedRun {
  const begun = begin(early, early.runId);
  return {
    async run(request) {
      try {
        return await attemptRun(request, begun, true);
      } catch (error) {
        // Only a start the engine itself lost (nothing of the program ran) is worth one more try.
        if (!(error instanceof StartLostError)) throw error;
        return attemptRun(request, begin(request, `${request.runId}-retry`), false);
      }
    },
    dispose: () => begun.resources.removeAll(),
  };
}

/** The engine lost the container between create and start (a runc race under load); nothing ran. */
class StartLostError extends Error {}
const START_LOST = /cannot start a stopped process|cgroup deleted/;

interface Begun {
  runId: string;
  resources: RunResources;
  image: Promise<ResolvedImage>;
  holder: Promise<OutputHolder | null>;
}

/**
 * The holder, and with it the output volume, is made first, while the image is looked up: both exist
 * before the sandbox can be refused, and the holder starts while the sandbox is created.
 */
function begin(early: EarlyRequest, runId: string): Begun {
  const resources = new RunResources();
  const run = { ...early, runId };
  const holder = run.output ? resources.track(prepareHolder(run, resources)) : Promise.resolve(null);
  const image = resolveImage(early.image);
  holder.catch(() => undefined);
  image.catch(() => undefined);
  return { runId, resources, image, holder };
}

async function attemptRun(request: SandboxRequest, begun: Begun, mayRetry: boolean): Promise<SandboxResult> {
  const stdout = new CappedCapture(request.limits.logHeadBytes, request.limits.logTailBytes);
  const stderr = new CappedCapture(request.limits.logHeadBytes, request.limits.logTailBytes);
  const base = { limits: request.limits, runtime: request.limits.runtime, exitCode: null, durationMs: 0 };
  const { resources } = begun;
  let image: ResolvedImage | null = null;
  try {
    image = await begun.image;
    const run = { ...request, runId: begun.runId };
    const ended = await execute(run, image, begun.holder, stdout, stderr, resources);
    return { ...base, ...ended, image, stdout: logOf(stdout), stderr: logOf(stderr) };
  } catch (error) {
    if (mayRetry && error instanceof EngineError && START_LOST.test(error.message))
      throw new StartLostError(error.message);
    const reason =
      error instanceof EngineError || error instanceof ImageRefusedError
        ? error.message
        : `unexpected error: ${describeEngineError(error)}`;
    return {
      ...base,
      status: error instanceof ImageRefusedError ? error.status : "infrastructure_error",
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
 * everything still in flight (so nothing is made after cleanup ran), then removes the containers together,
 * then lets the output holder go: it and its volume are removed only once no container uses the volume.
 */
class RunResources {
  private readonly inFlight: Promise<unknown>[] = [];
  private readonly containers: (() => Promise<void>)[] = [];
  private releaseHolder?: () => Promise<void>;
  /** Said before proctor removes a container: the kill its removal logs is proctor's own. */
  private readonly removing = new Map<string, () => void>();

  async createContainer(what: string, spec: Docker.ContainerCreateOptions): Promise<Docker.Container> {
    const container = await this.track(
      onEngine(`creating the ${what} container`, () => engine().createContainer(spec)),
    );
    this.containers.push(
      registerRemoval("container", async () => {
        this.removing.get(container.id)?.();
        await onEngine(`removing the ${what} container`, () => container.remove({ force: true, v: true }));
      }),
    );
    return container;
  }

  /** Calls `hook` just before proctor itself removes `container`. */
  beforeRemoving(container: Docker.Container, hook: () => void): void {
    this.removing.set(container.id, hook);
  }

  /** The holder goes last, with the volumes (also when interrupted): after every container that uses it. */
  holder(release: () => Promise<void>): void {
    this.releaseHolder = registerRemoval("volume", release);
  }

  /** Something that must have settled before anything is removed (e.g. a start that may still run). */
  track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.push(work.catch(() => undefined));
    return work;
  }

  /** Removes the containers (each at most once; later calls wait for the same removals). */
  async removeContainers(): Promise<void> {
    await Promise.allSettled(this.containers.map((remove) => remove()));
  }

  async removeAll(): Promise<void> {
    // What settles may have started more (the holder's creation tracks its start): wait until none is new.
    for (let waited = 0; waited < this.inFlight.length;) {
      const pending = this.inFlight.slice(waited);
      waited = this.inFlight.length;
      await Promise.allSettled(pending);
    }
    await this.removeContainers();
    await this.releaseHolder?.().catch(() => undefined);
  }
}

type Ended = Pick<SandboxResult, "status" | "reason" | "exitCode" | "durationMs" | "output" | "metrics">;

/** The container that holds the output volume, created, attached and starting. */
interface OutputHolder {
  container: Docker.Container;
  /** The output volume's name (made by the engine with the holder) and its folder on the engine's host. */
  volume: string;
  mountpoint: string | undefined;
  /**
   * Settles once the volume is held: the engine has mounted it for the holder (its mount event), or the
   * holder has started. From then on the program's exit cannot unmount it.
   */
  held: Promise<void>;
  /** The holder's start: the output can be trusted only if it did start. */
  started: Promise<void>;
  /** Says the output was copied out of it: then it may simply be let go. */
  copied(): void;
}

/**
 * Creates the holder with its volume, holds its stdin and starts it. Does not wait for the start to finish:
 * the sandbox may start as soon as the volume is held (`held`), which the engine reports early in the
 * holder's start.
 */
async function prepareHolder(request: EarlyRequest, resources: RunResources): Promise<OutputHolder> {
  const docker = engine();
  const container = await resources.track(
    onEngine("creating the output holder container", () =>
      docker.createContainer(holderContainerSpec(request)),
    ),
  );
  const state: { stdin?: Duplex; volume?: string; copied: boolean } = { copied: false };
  resources.holder(async () => {
    const { stdin, volume } = state;
    if (state.copied && stdin && !stdin.destroyed) {
      // The usual end: it exits on end of input, and the engine removes it and its volume (AutoRemove).
      stdin.destroy();
      return;
    }
    // Anything else (never started, gone early, interrupted): remove it and its volume now, and wait.
    // Removed before its input ends: the end of input starts the engine's own removal (AutoRemove). Where
    // the engine refuses ours anyway (its removal under way: 409; a kill not seen in time under load: 500),
    // the end of input lets it go by itself: wait for that, then make sure.
    const remove = () =>
      onEngine("removing the output holder container", () => container.remove({ force: true, v: true }));
    await remove().catch(async (error: unknown) => {
      if (isGone(error)) return;
      stdin?.destroy();
      await Promise.race([container.wait({ condition: "removed" }), delay(HOLDER_GONE_MS)]).catch(
        () => undefined,
      );
      await remove().catch(ignoreGone);
    });
    stdin?.destroy();
    if (volume)
      await onEngine("removing the output volume", () => docker.getVolume(volume).remove()).catch(ignoreGone);
  });
  // Attached before it starts: the engine answers no attach (nor inspect) while a start is under way.
  const [info, attached] = await Promise.all([
    onEngine("inspecting the output holder", () => container.inspect()),
    onEngine("attaching to the output holder", () =>
      container.attach({ stream: true, stdin: true, hijack: true }),
    ),
  ]);
  state.stdin = attached as Duplex;
  state.stdin.on("error", () => undefined);
  const mount = info.Mounts.find((m) => m.Destination === HOLDER_MOUNT);
  const volume = (state.volume = mount?.Name);
  if (!volume) throw new EngineError("the output holder has no output volume; the engine made none");
  const since = Math.floor(Date.now() / 1000) - 60;
  const mountEvent = watchVolumeMount(volume, container.id, since);
  const started = resources.track(onEngine("starting the output holder", () => container.start()));
  started.catch(() => undefined);
  const held = Promise.race([started, mountEvent.seen]);
  void held.finally(mountEvent.stop).catch(() => undefined);
  const copied = () => void (state.copied = true);
  return { container, volume, mountpoint: mount?.Source, held, started, copied };
}

/** How long a holder the engine would not remove may take to go by itself (it exits at the end of its input). */
const HOLDER_GONE_MS = 30_000;

/** The engine found nothing to remove (404): an engine call's error, or dockerode's own. */
function isGone(error: unknown): boolean {
  const e = error as { statusCode?: number; cause?: { statusCode?: number } };
  return (e.cause?.statusCode ?? e.statusCode) === 404;
}

/** A removal that found nothing to remove (404) has nothing left to do. */
function ignoreGone(error: unknown): void {
  if (!isGone(error)) throw error;
}

async function execute(
  request: SandboxRequest,
  image: ResolvedImage,
  holderReady: Promise<OutputHolder | null>,
  stdout: CappedCapture,
  stderr: CappedCapture,
  resources: RunResources,
): Promise<Ended> {
  const holder = await holderReady;
  const spec = untrustedContainerSpec(request, image, holder?.volume ?? null);
  // The sandbox's events are replayed from before its create: nothing of its account is missed.
  const since = Math.floor(Date.now() / 1000) - 1;
  const container = await resources.createContainer("sandbox", spec).catch(async (error: unknown) => {
    throw ownRefusal(
      await runtimeAware(error, request.limits.runtime),
      request,
      "to create a container from",
    );
  });
  const watch = new SandboxWatch(container.id, since);
  resources.beforeRemoving(container, () => watch.removing());
  const progress = { started: false };
  try {
    return await supervise(request, container, holder, watch, progress, stdout, stderr, resources);
  } catch (error) {
    // Killed or removed from outside, the sandbox may fail any later engine call (no such container): the
    // kill, not that call, is what happened.
    if (!(error instanceof EngineError) || !progress.started) throw error;
    const { interference } = await watch.settle(null);
    if (interference && !interference.afterOwnStop)
      throw new EngineError(interferenceReason(interference), { cause: error });
    throw error;
  } finally {
    watch.stop();
  }
}

/** Starts the sandbox, ends it at the time limit, and says how it ended. */
async function supervise(
  request: SandboxRequest,
  container: Docker.Container,
  holder: OutputHolder | null,
  watch: SandboxWatch,
  progress: { started: boolean },
  stdout: CappedCapture,
  stderr: CappedCapture,
  resources: RunResources,
): Promise<Ended> {
  const attached = await onEngine("attaching to the sandbox", () =>
    container.attach({ stream: true, stdout: true, stderr: true, logs: false }),
  );
  const streamEnded = new Promise<void>((resolve) => {
    attached.on("end", resolve);
    attached.on("close", resolve);
    attached.on("error", () => resolve());
  });
  engine().modem.demuxStream(attached, stdout, stderr);
  // The wait is registered, and the volume held, before the program can exit.
  const { registered, exited } = waitForNextExit(container);
  exited.catch(() => undefined);
  await onEngine("registering the wait for the sandbox", () => registered);
  await holder?.held;

  const stop = { sigterm: false, sigkill: false };
  let killTimer: NodeJS.Timeout | undefined;
  const started = performance.now();
  const series = new MetricsSeries(Date.now());
  try {
    await onEngine("starting the sandbox", () => container.start());
  } catch (error) {
    throw ownRefusal(gpuAware(error, request), request, "to start");
  }
  progress.started = true;
  // Leftovers of runs long dead are swept while this one runs, off its critical path.
  resources.track(sweepExpired().catch(() => 0));
  const stats = sampleStats(container, series);
  const gpu = request.gpu ? sampleGpu() : null;
  const timer = setTimeout(() => {
    stop.sigterm = true;
    watch.killing("SIGTERM");
    container.kill({ signal: "SIGTERM" }).catch(() => undefined);
    killTimer = setTimeout(() => {
      stop.sigkill = true;
      watch.killing("SIGKILL");
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

  // Held from before the program started to now only if the holder did start.
  if (holder) await holder.started;
  // The sandbox is removed once the engine's account of its end is complete (an OOM kill may be logged
  // after the exit, and not once the container is gone), while its output is copied out of the holder.
  const account = watch.settle(exitCode);
  void account.then(() => resources.removeContainers());
  const output = holder && request.output ? await readOutput(request, holder) : null;
  holder?.copied();
  const metrics = series.finish({
    endedAtMs: parseEngineTime(state.FinishedAt),
    durationMs,
    cpus: request.limits.cpus,
    outputBytes: output?.totalBytes ?? null,
  });
  metrics.gpu = gpu?.stop() ?? null;
  const { oomKilled, interference } = await account;

  const ended = { exitCode, durationMs, output, metrics };
  return {
    ...ended,
    ...classifyEnd(request, {
      ...ended,
      // The engine's flag misses an OOM kill it logged after the exit: its event does not.
      oomKilled: state.OOMKilled || oomKilled,
      interference,
      stop,
      last: { files: series.lastFiles, memory: series.lastMemory },
    }),
  };
}

/** A participant's image that the engine refused because of its configuration is the participant's. */
function ownRefusal(error: unknown, request: SandboxRequest, doing: string): unknown {
  return (request.participantImage && imageRefusal(error, doing)) || error;
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
async function readOutput(request: SandboxRequest, holder: OutputHolder) {
  const output = request.output!;
  const caps = { maxBytes: request.limits.outputBytes, maxFiles: request.limits.outputFiles };
  if (request.outputCopy !== "archive" && (await isLiveOutputMount(holder.mountpoint, request.limits))) {
    return collectOutputFromFolder(holder.mountpoint!, output.hostDir, caps);
  }
  const archive = await onEngine("reading the output", () =>
    holder.container.getArchive({ path: HOLDER_MOUNT }),
  );
  const collected = await collectOutputFromArchive(archive, HOLDER_MOUNT.slice(1), output.hostDir, caps);
  // The engine answers an archive read of a stopped container from a fresh (empty) mount of its volume:
  // the copy counts only if the holder still runs, i.e. held the volume from before the program started.
  const state = await onEngine("reading the output (checking its holder)", () => holder.container.inspect());
  if (!state.State.Running)
    throw new EngineError("the output holder stopped during the run, so the program's output was not kept");
  return collected;
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
