import os from "node:os";
import { engine } from "./engine.js";

/**
 * Every container and volume a run creates is registered here until it is removed, so an interrupted
 * proctor (SIGINT, SIGTERM, SIGHUP) removes them before it exits: the edges (src/cli/signals.ts, the
 * action's entry) catch the signal and call removeAllPending(). Each also carries a lease: a deadline past which
 * no live run can still need it (start + time limit + grace + margin). A proctor killed outright has its
 * leftovers swept by any later run once their lease is over, whatever PID or mount namespace, or host,
 * either was started from; nothing still within its lease is ever touched.
 */

/** Who created it (host:pid), for people reading `docker ps`; never used to decide anything. */
export const OWNER_LABEL = "org.proctor.owner";
export const ownerId = `${os.hostname()}:${process.pid}`;
/** The lease: milliseconds since the epoch after which the resource may be swept. */
export const LEASE_LABEL = "org.proctor.lease";
/** Room after the grace period for copying the output out and removing everything. */
export const LEASE_MARGIN_MS = 15 * 60_000;

/** The labels every container and volume of a run carries: its owner and its lease. */
export function leaseLabels(limits: { timeLimitMs: number; graceMs: number }, now = Date.now()) {
  return {
    [OWNER_LABEL]: ownerId,
    [LEASE_LABEL]: String(now + limits.timeLimitMs + limits.graceMs + LEASE_MARGIN_MS),
  };
}

/**
 * Images loaded from participants' archives are tagged in this repository, one tag per run, the tag holding
 * the lease (an image's labels are the participant's): `proctor-loaded/<run id>:lease-<deadline>`.
 */
export const LOADED_REPOSITORY = "proctor-loaded";
/** Room for loading the archive (up to its uncompressed cap) before the run's own lease starts counting. */
export const LOAD_MARGIN_MS = 60 * 60_000;

export function loadedImageTag(
  runId: string,
  limits: { timeLimitMs: number; graceMs: number },
  now = Date.now(),
): string {
  const deadline = now + LOAD_MARGIN_MS + limits.timeLimitMs + limits.graceMs + LEASE_MARGIN_MS;
  return `${LOADED_REPOSITORY}/${runId.toLowerCase()}:lease-${deadline}`;
}

const LOADED_TAG = new RegExp(`^${LOADED_REPOSITORY}/[a-z0-9-]+:lease-(\\d+)$`);

type Kind = "container" | "volume" | "image";
const pending = {
  container: new Set<() => Promise<void>>(),
  volume: new Set<() => Promise<void>>(),
  image: new Set<() => Promise<void>>(),
};

/** Registers a removal to run on interrupt; returns a function that runs it now, once. */
export function registerRemoval(kind: Kind, remove: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const once = () => {
    done ??= remove().finally(() => pending[kind].delete(once));
    return done;
  };
  pending[kind].add(once);
  return once;
}

/** How many removals are registered and not yet run (containers, volumes and loaded images). */
export function pendingRemovals(): number {
  return pending.container.size + pending.volume.size + pending.image.size;
}

/** Containers first, then volumes and loaded images: neither can be removed while a container uses it. */
export async function removeAllPending(): Promise<void> {
  await Promise.allSettled([...pending.container].map((remove) => remove()));
  await Promise.allSettled([...pending.volume, ...pending.image].map((remove) => remove()));
}

/**
 * Removes the containers and volumes whose lease is over, and this repository's loaded-image tags whose
 * lease is over (the image goes with its last tag). Resources without a lease (made by an older proctor)
 * are left alone: nothing proves they are dead.
 */
export async function sweepExpired(now = Date.now()): Promise<number> {
  const docker = engine();
  const expired = (labels: Record<string, string> | null | undefined) => {
    const deadline = Number(labels?.[LEASE_LABEL]);
    return Number.isFinite(deadline) && deadline < now;
  };
  const filters = JSON.stringify({ label: [LEASE_LABEL] });
  const [containers, volumes] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listVolumes({ filters }),
  ]);
  const doomedContainers = containers.filter((c) => expired(c.Labels));
  await Promise.allSettled(doomedContainers.map((c) => docker.getContainer(c.Id).remove({ force: true })));
  const doomedVolumes = (volumes.Volumes ?? []).filter((v) => expired(v.Labels));
  await Promise.allSettled(doomedVolumes.map((v) => docker.getVolume(v.Name).remove({ force: true })));
  const loaded = await docker.listImages({
    filters: JSON.stringify({ reference: [`${LOADED_REPOSITORY}/*`] }),
  });
  const doomedTags = loaded
    .flatMap((image) => image.RepoTags ?? [])
    .filter((tag) => Number(LOADED_TAG.exec(tag)?.[1] ?? Infinity) < now);
  // Untagged only: never forced, so an image another container still uses stays.
  await Promise.allSettled(doomedTags.map((tag) => docker.getImage(tag).remove()));
  return doomedContainers.length + doomedVolumes.length + doomedTags.length;
}
