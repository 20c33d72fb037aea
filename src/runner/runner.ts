/**
 * The pull runner: N slots, each claiming the next queued submission of its kind from the gateway (a long
 * poll), running it (run-claim.ts, the one claimed run every runner makes) and reporting it, then claiming
 * again. `proctor runner` runs one on any machine with Docker; `proctor serve --local-runners` runs one in
 * the gateway's process, over the same HTTP protocol.
 *
 * - drain(): no new claims (a claim waiting on the gateway is abandoned); the runs under way finish and
 *   report; then `done` resolves.
 * - stopNow(): every run stops at once: its containers are removed and its claim is given back.
 * - Leftovers: containers on this engine that carry a claim's label (CLAIM_LABEL) and that no slot here
 *   runs are asked about at the gateway every LEFTOVER_CHECK_MS; once their claim is over (the lease of a
 *   dead predecessor ran out and the submission was queued again, or it was cancelled or is final) they
 *   are removed. A claim a live runner on the same engine still holds, or one this gateway does not know
 *   (another competition's), is left alone: the claim decides, never a PID.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Competition, Phase } from "../config/index.js";
import {
  claimNext,
  GatewayApiError,
  MAX_CLAIM_WAIT_MS,
  runnerSubmission,
  type ClaimView,
  type CpuOrGpu,
  type GatewayCredentials,
} from "../gateway-api/index.js";
import { labelledContainers, removeLabelled, type EnsureImageOptions } from "../sandbox/index.js";
import { runnerPaths } from "./paths.js";
import { CLAIM_LABEL, claimLabelValue, runClaim, type ClaimResult } from "./run-claim.js";

/** How often containers of claims no slot here runs are looked at. */
export const LEFTOVER_CHECK_MS = 30_000;
/** The longest wait between claims after the gateway could not be reached. */
const MAX_BACKOFF_MS = 30_000;

/** One thing the runner did: a log line (text or JSON). Never anything the program printed. */
export type RunnerEvent =
  | { event: "start"; slots: number; kind: CpuOrGpu; gateway: string; image: string }
  | { event: "claim"; slot: number; submission_id: string; attempt: number; participant: string }
  | {
      event: "result";
      slot: number;
      submission_id: string;
      attempt: number;
      status: string;
      public_score: number | null;
      duration_ms: number;
      /** false: the gateway did not take it (it already had a result, or the claim was lost). */
      recorded: boolean;
    }
  | { event: "stopped"; slot: number; submission_id: string; attempt: number; why: string }
  | { event: "released"; slot: number; submission_id: string; attempt: number }
  | { event: "leftovers"; claim: string; containers: number }
  | { event: "error"; slot?: number; message: string }
  | { event: "refused"; message: string }
  | { event: "draining" | "stopping" | "done" };

export interface PullRunnerOptions {
  gateway: GatewayCredentials;
  kind: CpuOrGpu;
  slots: number;
  competition: Competition;
  /** The runtime image. */
  image: string;
  registryAuth?: EnsureImageOptions["auth"];
  /** A local runner on the organizer's clone: the competition's `paths` serve where no runner_paths are set. */
  local?: boolean;
  /** The phase where the gateway recorded none (default evaluation). */
  phase?: Phase;
  /** Names this runner's slots at the gateway (`<name>/slot-<i>`), e.g. the host name. */
  name: string;
  /** The GPU devices of each slot (default: slot i gets device i on a gpu runner). */
  gpuDevices?: (slot: number) => string[];
  /** How long a claim waits on the gateway for a submission (default 20 s). */
  waitMs?: number;
  log: (event: RunnerEvent) => void;
}

export class PullRunner {
  readonly #o: PullRunnerOptions;
  /** Aborted by drain(): no new claims. */
  readonly #draining = new AbortController();
  /** Aborted by stopNow(): runs stop at once, claims given back. */
  readonly #stopping = new AbortController();
  /** The claims this runner's slots hold (their labels): never leftovers. */
  readonly #held = new Set<string>();
  #done: Promise<void> | undefined;
  #leftovers: NodeJS.Timeout | undefined;
  #refused: string | undefined;

  constructor(options: PullRunnerOptions) {
    if (!Number.isInteger(options.slots) || options.slots < 1)
      throw new RangeError(`a runner needs 1 or more slots, not ${options.slots}`);
    this.#o = options;
  }

  /** Starts the slots (and the leftover checks); `done` resolves when they have all stopped. */
  start(): Promise<void> {
    if (this.#done) return this.#done;
    const { slots, kind, gateway, image } = this.#o;
    this.#o.log({ event: "start", slots, kind, gateway: gateway.server, image });
    void this.sweepLeftovers();
    this.#leftovers = setInterval(() => void this.sweepLeftovers(), LEFTOVER_CHECK_MS);
    this.#leftovers.unref();
    const loops = Array.from({ length: slots }, (_, i) => this.#slot(i + 1));
    this.#done = Promise.all(loops).then(() => {
      clearInterval(this.#leftovers);
      this.#o.log({ event: "done" });
    });
    return this.#done;
  }

  get done(): Promise<void> {
    return this.#done ?? Promise.resolve();
  }

  /**
   * Why the gateway refused this runner's credential (401: revoked, or never this gateway's), once it has:
   * the runner then drains and stops, since no retry can help; undefined otherwise.
   */
  get refused(): string | undefined {
    return this.#refused;
  }

  /** No new claims; the runs under way finish and report. Resolves when they have. */
  drain(): Promise<void> {
    if (!this.#draining.signal.aborted) {
      this.#o.log({ event: "draining" });
      this.#draining.abort();
    }
    return this.done;
  }

  /** Stops every run at once: containers removed, claims given back. Resolves when the slots have stopped. */
  stopNow(): Promise<void> {
    if (!this.#stopping.signal.aborted) {
      this.#o.log({ event: "stopping" });
      this.#draining.abort();
      this.#stopping.abort();
    }
    return this.done;
  }

  /**
   * Removes the containers of claims that are over: labelled with a claim no slot here holds, whose
   * submission the gateway no longer runs at that attempt. Returns how many claims' containers went.
   */
  async sweepLeftovers(): Promise<number> {
    let swept = 0;
    try {
      const found = new Set((await labelledContainers(CLAIM_LABEL)).map((c) => c.value));
      for (const value of found) {
        if (this.#held.has(value) || !(await this.#claimOver(value))) continue;
        const containers = await removeLabelled(CLAIM_LABEL, value);
        this.#o.log({ event: "leftovers", claim: value, containers });
        swept += 1;
      }
    } catch (error) {
      this.#o.log({
        event: "error",
        message: `looking for leftover containers: ${(error as Error).message}`,
      });
    }
    return swept;
  }

  /** Whether the claim a label names is over at the gateway (unknown: not over, look again later). */
  async #claimOver(value: string): Promise<boolean> {
    const match = /^(.+)\.(\d+)$/.exec(value);
    if (!match) return false;
    const [, id, attempt] = match;
    try {
      const view = await runnerSubmission(this.#o.gateway, id!, { retries: 0 });
      return view.state !== "running" || view.attempt !== Number(attempt);
    } catch (error) {
      // 409: cancelled. A 404 is another gateway's claim (a second competition on this engine): not ours.
      return error instanceof GatewayApiError && error.status === 409;
    }
  }

  async #slot(slot: number): Promise<void> {
    let failures = 0;
    while (!this.#draining.signal.aborted) {
      let claim: ClaimView | null;
      const asked = Date.now();
      try {
        claim = await claimNext(
          this.#o.gateway,
          {
            kind: this.#o.kind,
            runner: `${this.#o.name}/slot-${slot}`,
            // This runner re-scores too (run-claim.ts): it is given kept predictions to score.
            jobs: ["run", "rescore"],
            wait_ms: Math.min(this.#o.waitMs ?? 20_000, MAX_CLAIM_WAIT_MS),
          },
          { retries: 0, signal: this.#draining.signal },
        );
        failures = 0;
      } catch (error) {
        if (this.#draining.signal.aborted) break;
        if (error instanceof GatewayApiError && error.status === 401) {
          // A revoked or wrong credential: waiting cannot help. The runs under way end and report (they
          // fail to report too, and their claims run out); the operator gets one clear line and exit 2.
          if (this.#refused === undefined) {
            this.#refused =
              `the gateway refused this runner's credential (401: ${error.message}): it was revoked, or is ` +
              "not this gateway's; make one with `proctor runners add <name>` and set PROCTOR_RUNNER_CREDENTIAL";
            this.#o.log({ event: "refused", message: this.#refused });
          }
          void this.drain();
          break;
        }
        failures += 1;
        this.#o.log({ event: "error", slot, message: (error as Error).message });
        // A gateway that is down, or answers an error of its own: back off, and keep trying.
        await sleep(Math.min(1000 * 2 ** (failures - 1), MAX_BACKOFF_MS), undefined, {
          signal: this.#draining.signal,
        }).catch(() => undefined);
        continue;
      }
      if (claim) await this.#run(slot, claim);
      // A gateway that answers an empty claim at once (no long poll) is not asked again at once.
      else if (Date.now() - asked < 1000)
        await sleep(1000, undefined, { signal: this.#draining.signal }).catch(() => undefined);
    }
  }

  async #run(slot: number, claim: ClaimView): Promise<void> {
    const { competition } = this.#o;
    const submission = claim.submission;
    const label = claimLabelValue(submission.submission_id, submission.attempt);
    const ids = { slot, submission_id: submission.submission_id, attempt: submission.attempt };
    this.#held.add(label);
    this.#o.log({ event: "claim", ...ids, participant: submission.participant });
    const phase = submission.phase ?? this.#o.phase ?? "evaluation";
    let result: ClaimResult;
    try {
      result = await runClaim({
        gateway: this.#o.gateway,
        claim,
        competition,
        image: this.#o.image,
        registryAuth: this.#o.registryAuth,
        gpu: this.#o.kind === "gpu",
        ...(this.#o.kind === "gpu" && { gpuDevices: (this.#o.gpuDevices ?? defaultGpuDevices)(slot) }),
        paths: runnerPaths(competition, phase, { local: this.#o.local ?? false }),
        phase,
        hooks: { error: (message) => this.#o.log({ event: "error", slot, message }) },
        signal: this.#stopping.signal,
      });
    } catch (error) {
      // The report could not be sent (the gateway down for longer than the retries): the lease runs out
      // and the gateway queues the submission again.
      this.#o.log({
        event: "error",
        slot,
        message: `submission ${ids.submission_id}: ${(error as Error).message}`,
      });
      return;
    } finally {
      this.#held.delete(label);
    }
    if (result.ended === "reported") {
      this.#o.log({
        event: "result",
        ...ids,
        status: result.outcome.status,
        public_score: result.outcome.publicScore,
        duration_ms: result.outcome.durationMs,
        recorded: result.recorded,
      });
    } else if (result.ended === "stopped") {
      this.#o.log({ event: "stopped", ...ids, why: result.why });
    } else {
      this.#o.log({ event: "released", ...ids });
    }
  }
}

/** Slot i (from 1) of a GPU runner gets device i-1: one GPU per slot, `--gpus device=i-1`. */
export const defaultGpuDevices = (slot: number): string[] => [String(slot - 1)];

/** One line for people: time, event, the facts. */
export function formatRunnerEvent(event: RunnerEvent, at = new Date()): string {
  const time = at.toISOString();
  switch (event.event) {
    case "start":
      return `${time} runner started: ${event.slots} ${event.kind} slot${event.slots === 1 ? "" : "s"}, gateway ${event.gateway}, image ${event.image}`;
    case "claim":
      return `${time} slot ${event.slot}: claimed ${event.submission_id} attempt ${event.attempt} (${event.participant})`;
    case "result":
      return (
        `${time} slot ${event.slot}: ${event.submission_id} attempt ${event.attempt} ${event.status}` +
        `${event.public_score === null ? "" : ` score ${event.public_score}`} in ${(event.duration_ms / 1000).toFixed(1)}s` +
        `${event.recorded ? "" : " (not taken by the gateway)"}`
      );
    case "stopped":
      return `${time} slot ${event.slot}: ${event.submission_id} attempt ${event.attempt} stopped (${event.why})`;
    case "released":
      return `${time} slot ${event.slot}: ${event.submission_id} attempt ${event.attempt} given back to the queue`;
    case "leftovers":
      return `${time} removed ${event.containers} container(s) of ${event.claim}: its claim is over`;
    case "error":
      return `${time} ${event.slot === undefined ? "" : `slot ${event.slot}: `}error: ${event.message}`;
    case "refused":
      return `${time} refused: ${event.message}`;
    case "draining":
      return `${time} draining: no new claims; the runs under way finish and report`;
    case "stopping":
      return `${time} stopping now: runs stopped, claims given back`;
    case "done":
      return `${time} runner stopped`;
  }
}

/** One JSON line for collectors. */
export const jsonRunnerEvent = (event: RunnerEvent, at = new Date()): string =>
  JSON.stringify({ time: at.toISOString(), ...event });
