import { constants } from "node:os";
import { watchEngineEvents } from "./engine-events.js";

/** What the engine's own account of the sandbox says about how it ended. */
export interface SandboxAccount {
  /**
   * The kernel killed a process of the sandbox for memory: the engine's `oom` event, which it logs from the
   * container cgroup's OOM notification under runc and runsc alike. That notification races the exit: it
   * may be logged after the container's `die`, and then the engine's OOMKilled flag stays false.
   */
  oomKilled: boolean;
  /** The first kill of the sandbox through the engine that proctor did not send; null when none. */
  interference: Interference | null;
}

export interface Interference {
  /** The signal's name (SIGKILL) or number. */
  signal: string;
  /** Proctor had already stopped the program (its time limit) when this kill came. */
  afterOwnStop: boolean;
}

/** How long to wait for the engine's `die` of a sandbox that has exited (its events are logged before). */
const DIE_WAIT_MS = 5_000;
/**
 * How long after the `die` a run killed by a signal waits for an `oom` (or a kill) logged late. Measured
 * here: up to 0.2 s after the `die` with four memory bombs at once on two cores (runsc).
 */
const LATE_WAIT_MS = 3_000;
/** The exits an OOM kill or an engine kill ends a program with: 128 + SIGKILL, 128 + SIGTERM. */
const KILLED_EXITS = new Set([128 + constants.signals.SIGKILL, 128 + constants.signals.SIGTERM]);

/**
 * Watches the engine's events for the sandbox container from `since` (seconds; what was logged before the
 * watch began is replayed): its OOM kills, every kill with its signal (`docker kill`, `docker stop` and
 * `docker rm -f` each log one), and its `die`. Proctor says which kills are its own (`killing`,
 * `removing`) before it sends them; any other kill is someone else's (an operator, another tool).
 */
export class SandboxWatch {
  private readonly watch: ReturnType<typeof watchEngineEvents>;
  /** Signal numbers proctor sent and the engine has not logged yet. */
  private readonly sent: number[] = [];
  private ownStop = false;
  private ownRemoval = false;
  private oom = false;
  private interference: Interference | null = null;
  private readonly waiters = new Set<() => void>();
  private died = false;
  private stopped = false;

  constructor(containerId: string, since: number) {
    this.watch = watchEngineEvents(
      { type: ["container"], container: [containerId], event: ["oom", "kill", "die"] },
      since,
      (event) => {
        if (event.Actor?.ID !== containerId) return;
        if (event.Action === "oom") this.oom = true;
        else if (event.Action === "die") this.died = true;
        else if (event.Action === "kill") this.killed(Number(event.Actor.Attributes?.signal));
        for (const wake of this.waiters) wake();
      },
    );
  }

  /** Proctor is about to send `signal` to the sandbox (its time limit). */
  killing(signal: "SIGTERM" | "SIGKILL"): void {
    this.ownStop = true;
    this.sent.push(constants.signals[signal]);
  }

  /** Proctor is about to remove the sandbox (its end, or an interrupt): the kill that removal logs is its own. */
  removing(): void {
    this.ownRemoval = true;
  }

  private killed(signal: number): void {
    const own = this.sent.indexOf(signal);
    if (own !== -1) return void this.sent.splice(own, 1);
    if (this.ownRemoval || this.interference) return;
    this.interference = { signal: signalName(signal), afterOwnStop: this.ownStop };
  }

  /**
   * The account once the program has exited with `exitCode` (null: unknown): after the engine's `die`
   * (bounded), and for a program killed by a signal without an OOM or a kill logged yet, after a short wait
   * for one logged late.
   */
  async settle(exitCode: number | null): Promise<SandboxAccount> {
    const failed = this.watch.failed.then(() => true);
    await this.until(() => this.died, DIE_WAIT_MS, failed);
    if (exitCode !== null && KILLED_EXITS.has(exitCode))
      await this.until(() => this.oom || this.interference !== null, LATE_WAIT_MS, failed);
    return { oomKilled: this.oom, interference: this.interference };
  }

  stop(): void {
    this.stopped = true;
    this.watch.stop();
    for (const wake of this.waiters) wake();
  }

  private until(seen: () => boolean, ms: number, failed: Promise<boolean>): Promise<void> {
    if (seen()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const check = () => {
        if (this.stopped || seen()) done();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(check);
      void failed.then(done);
    });
  }
}

function signalName(signal: number): string {
  const name = Object.entries(constants.signals).find(([, n]) => n === signal)?.[0];
  return name ?? (Number.isFinite(signal) ? `signal ${signal}` : "a signal");
}
