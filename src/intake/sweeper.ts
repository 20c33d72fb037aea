/**
 * The sweeper: every `intervalMs`, gives up on runs stuck in running (re-dispatching them once) and sends
 * the dispatches that failed before and are due again. One sweep at a time; a sweep that throws is logged
 * and the next one runs as usual.
 */
import type { Intake, IntakeLogger, SweepReport } from "./intake.js";

export interface Sweeper {
  /** Starts sweeping every `intervalMs` (the timer does not keep the process alive). */
  start(): void;
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>;
  /** One sweep now (waits for one in progress to finish first). */
  tick(): Promise<SweepReport>;
  readonly started: boolean;
}

export function createSweeper(
  intake: Intake,
  options: { intervalMs: number; logger?: IntakeLogger },
): Sweeper {
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<SweepReport> | undefined;

  const tick = async (): Promise<SweepReport> => {
    while (current) await current.catch(() => undefined);
    current = intake.sweep();
    try {
      return await current;
    } finally {
      current = undefined;
    }
  };

  return {
    start() {
      if (timer) return;
      if (!(options.intervalMs > 0)) throw new RangeError("sweeper intervalMs must be a positive number");
      timer = setInterval(() => {
        if (current) return;
        tick().catch((error: unknown) =>
          options.logger?.warn(`sweep failed: ${error instanceof Error ? error.message : String(error)}`),
        );
      }, options.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      while (current) await current.catch(() => undefined);
    },
    tick,
    get started() {
      return timer !== undefined;
    },
  };
}
