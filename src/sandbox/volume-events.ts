import { watchEngineEvents } from "./engine-events.js";

/**
 * Watches the engine's events for `volume` being mounted for `containerId`. The engine logs that event
 * right after its volume driver mounted the volume for that container (a reference the program's exit
 * cannot drop), well before the container's start returns. `since` replays what the engine logged before
 * the watch began. Never rejects: without events `seen` stays pending and the holder's start decides.
 */
export function watchVolumeMount(
  volume: string,
  containerId: string,
  since: number,
): { seen: Promise<void>; stop: () => void } {
  let stop = () => undefined as void;
  const seen = new Promise<void>((resolve) => {
    const watch = watchEngineEvents(
      { type: ["volume"], event: ["mount"], volume: [volume] },
      since,
      (event) => {
        if (event.Actor?.ID === volume && event.Actor.Attributes?.container === containerId) resolve();
      },
    );
    stop = watch.stop;
  });
  return { seen, stop };
}
