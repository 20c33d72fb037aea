import os from "node:os";
import { engine } from "./engine.js";

/**
 * Every container and volume a run creates is registered here until it is removed, so an interrupted
 * proctor (SIGINT, SIGTERM) removes them before it exits, and a proctor that was killed outright has its
 * leftovers swept by the next run on the same host (they carry the owner's host and pid as a label).
 */

export const OWNER_LABEL = "org.proctor.owner";
export const ownerId = `${os.hostname()}:${process.pid}`;

type Kind = "container" | "volume";
const pending = { container: new Set<() => Promise<void>>(), volume: new Set<() => Promise<void>>() };
let handlersInstalled = false;

/** Registers a removal to run on interrupt; returns a function that runs it now, once. */
export function registerRemoval(kind: Kind, remove: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const once = () => {
    done ??= remove().finally(() => pending[kind].delete(once));
    return done;
  };
  pending[kind].add(once);
  installInterruptHandlers();
  return once;
}

/** Containers first, then volumes: a volume still in use cannot be removed. */
export async function removeAllPending(): Promise<void> {
  await Promise.allSettled([...pending.container].map((remove) => remove()));
  await Promise.allSettled([...pending.volume].map((remove) => remove()));
}

function installInterruptHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      if (pending.container.size + pending.volume.size > 0) {
        process.stderr.write(`proctor: ${signal} received, removing this run's containers before exiting\n`);
      }
      void removeAllPending().finally(() => {
        // Re-raise with the default action so our exit status says which signal ended us.
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      });
    };
    process.on(signal, onSignal);
  }
}

/** Removes containers and volumes left by proctor processes of this host that no longer exist. */
export async function sweepOrphans(): Promise<number> {
  const docker = engine();
  const host = os.hostname();
  const isOrphan = (owner: string | undefined) => {
    if (!owner) return false;
    const [ownerHost, pid] = owner.split(":");
    return ownerHost === host && Number(pid) !== process.pid && !processExists(Number(pid));
  };
  const filters = JSON.stringify({ label: [OWNER_LABEL] });
  const [containers, volumes] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listVolumes({ filters }),
  ]);
  const doomedContainers = containers.filter((c) => isOrphan(c.Labels?.[OWNER_LABEL]));
  await Promise.allSettled(doomedContainers.map((c) => docker.getContainer(c.Id).remove({ force: true })));
  const doomedVolumes = (volumes.Volumes ?? []).filter((v) => isOrphan(v.Labels?.[OWNER_LABEL]));
  await Promise.allSettled(doomedVolumes.map((v) => docker.getVolume(v.Name).remove({ force: true })));
  return doomedContainers.length + doomedVolumes.length;
}

function processExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
