import type { Duplex } from "node:stream";
import { createInterface } from "node:readline";
import { engine } from "./engine.js";

/** The part of an engine event read here (Docker's events API, one JSON object a line). */
export interface EngineEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/**
 * Streams the engine's events that match `filters` to `onEvent`, from `since` (seconds since the epoch:
 * what the engine logged before the watch began is replayed first) until `stop()`. Never throws: without
 * events (an engine or proxy that refuses them) nothing is ever seen, and `failed` says so.
 */
export function watchEngineEvents(
  filters: Record<string, string[]>,
  since: number,
  onEvent: (event: EngineEvent) => void,
): { stop: () => void; failed: Promise<void> } {
  // Aborting ends the request whether the engine has answered yet or not: nothing outlives the watch.
  const abort = new AbortController();
  let stream: NodeJS.ReadableStream | undefined;
  const stop = () => {
    abort.abort();
    (stream as Duplex | undefined)?.destroy();
  };
  let fail!: () => void;
  const failed = new Promise<void>((resolve) => (fail = resolve));
  engine()
    .getEvents({ since, filters: JSON.stringify(filters), abortSignal: abort.signal })
    .then((events) => {
      stream = events;
      events.on("error", fail);
      if (abort.signal.aborted) return stop();
      const lines = createInterface({ input: events });
      lines.on("error", () => undefined);
      lines.on("line", (line) => {
        const event = parseEvent(line);
        if (event) onEvent(event);
      });
    })
    .catch(fail);
  return { stop, failed };
}

function parseEvent(line: string): EngineEvent | null {
  try {
    return JSON.parse(line) as EngineEvent;
  } catch {
    return null;
  }
}
