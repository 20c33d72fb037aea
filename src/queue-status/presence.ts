/**
 * Which runners are online, kept in the gateway's memory (no table: it only matters while the gateway
 * runs). An idle slot asks for work at least once per long poll (MAX_CLAIM_WAIT_MS); a busy one holds a
 * claim whose lease its heartbeats keep (the queue's own records, queue-status.ts). A slot is online when
 * it asked within ONLINE_WINDOW_MS or holds a live claim.
 */
import { MAX_CLAIM_WAIT_MS, type CpuOrGpu } from "../gateway-api/index.js";

/** Two long polls and some slack: a slot between two polls (or retrying once) is still online. */
export const ONLINE_WINDOW_MS = 2 * MAX_CLAIM_WAIT_MS + 10_000;

/** The runner a slot belongs to: `<holder>/<name>/slot-<i>` is runner `<holder>/<name>`'s slot i. */
export const runnerOfSlot = (slot: string): string => slot.replace(/\/slot-\d+$/, "");

export interface OnlineRunners {
  runners: number;
  slots: number;
}

export class RunnerPresence {
  /** Each slot's last ask for work: its kind and when (ms). */
  readonly #asked = new Map<string, { kind: CpuOrGpu; atMs: number }>();

  /** A slot (`holder/runner`, as its claims are recorded) asked for work of `kind`. */
  asked(slot: string, kind: CpuOrGpu, atMs: number): void {
    this.#asked.set(slot, { kind, atMs });
  }

  /**
   * The runners and slots of `kind` online at `nowMs`: those that asked lately, and `claimed` (the slots
   * holding a live claim of that kind).
   */
  online(kind: CpuOrGpu, nowMs: number, claimed: Iterable<string>): OnlineRunners {
    const slots = new Set(claimed);
    for (const [slot, seen] of this.#asked) {
      // Forgotten once over: the map holds only slots seen within the window.
      if (nowMs - seen.atMs > ONLINE_WINDOW_MS) this.#asked.delete(slot);
      else if (seen.kind === kind) slots.add(slot);
    }
    return { runners: new Set([...slots].map(runnerOfSlot)).size, slots: slots.size };
  }
}
