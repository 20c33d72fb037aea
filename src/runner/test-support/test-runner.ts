/**
 * Test support: one in-process pull runner slot for a gateway, on this engine's offline runtime, swapped
 * for one with another competition.yml (a metric change on the runners), and waiting on what it does.
 */
import type { Competition } from "../../config/index.js";
import type { GatewayCredentials } from "../../gateway-api/index.js";
import { PullRunner, type RunnerEvent } from "../runner.js";

export const OFFLINE_RUNTIME = "proctor/runtime:cpu-offline";
/** How long a slot's claim waits at the gateway for a job (its long poll). */
const WAIT_MS = 1000;
/** Generous: two cores are shared by everything; nothing waited for here is a timing asserted. */
export const PATIENCE_MS = 240_000;

export class TestRunner {
  readonly events: RunnerEvent[] = [];
  #runner: PullRunner | undefined;

  constructor(
    private readonly gateway: GatewayCredentials,
    private readonly name: string,
  ) {}

  /** Runs a runner that has `competition` (the one before drains first). */
  async with(competition: Competition): Promise<void> {
    if (this.#runner) {
      await this.#runner.drain();
      // The drained slot's last long poll may still wait at the gateway (its close not seen yet on a loaded
      // machine): a job queued now could be claimed for no one, and its attempt lost to the lease. The
      // gateway ends that poll by itself within WAIT_MS.
      await new Promise((resolve) => setTimeout(resolve, 2 * WAIT_MS));
    }
    this.#runner = new PullRunner({
      gateway: this.gateway,
      kind: "cpu",
      slots: 1,
      competition,
      image: OFFLINE_RUNTIME,
      local: true,
      name: this.name,
      waitMs: WAIT_MS,
      log: (event) => this.events.push(event),
    });
    void this.#runner.start();
  }

  drain(): Promise<void> {
    return this.#runner?.drain() ?? Promise.resolve();
  }

  stopNow(): Promise<void> {
    return this.#runner?.stopNow() ?? Promise.resolve();
  }

  /** What `probe` gives once it gives something; fails after PATIENCE_MS with the runner's events. */
  async until<T>(what: string, probe: () => T | undefined | false): Promise<T> {
    const deadline = Date.now() + PATIENCE_MS;
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline)
        throw new Error(
          `gave up waiting for ${what}\n${this.events.map((e) => JSON.stringify(e)).join("\n")}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
