import type { Duplex } from "node:stream";
import { createInterface } from "node:readline";
import { engine } from "./engine.js";

/**
 * Watches the engine's events for `volume` being mounted for `containerId`. The engine logs that event
 * right after its volume driver mounted the volume for that container (a reference the program's exit
 * cannot drop), well before the container's start returns. `since` replays what the engine logged before
 * the watch began. Never rejects: without events (an engine or proxy that refuses them) `seen` stays
 * pending and the holder's start decides.
 */
export function watchVolumeMount(
  volume: string,
  containerId: string,
  since: number,
): { seen: Promise<void>; stop: () => void } {
  // Aborting ends the request whether the engine has answered yet or not: nothing outlives the watch.
  const abort = new AbortController();
  let stream: NodeJS.ReadableStream | undefined;
  const stop = () => {
    abort.abort();
    (stream as Duplex | undefined)?.destroy();
  };
  const seen = new Promise<void>((resolve) => {
    engine()
      .getEvents({
        since,
        filters: JSON.stringify({ type: ["volume"], event: ["mount"], volume: [volume] }),
        abortSignal: abort.signal,
      })
      .then((events) => {
        stream = events;
        events.on("error", () => undefined);
        if (abort.signal.aborted) return stop();
        const lines = createInterface({ input: events });
        lines.on("error", () => undefined);
        lines.on("line", (line) => {
          const event = parseEvent(line);
          if (event?.Actor?.ID === volume && event.Actor.Attributes?.container === containerId) resolve();
        });
      })
      .catch(() => undefined);
  });
  return { seen, stop };
}

/** The part of an engine event read here (Docker's events API, one JSON object a line). */
interface EngineEvent {
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

function parseEvent(line: string): EngineEvent | null {
  try {
    return JSON.parse(line) as EngineEvent;
  } catch {
    return null;
  }
}
