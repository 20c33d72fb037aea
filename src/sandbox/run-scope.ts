/**
 * A run's scope, set by whoever runs it on behalf of a claim (a pull runner's slot, the Actions job):
 * labels every container and volume made inside it carries (which claim it belongs to), and the GPU
 * devices it may use (one per runner slot, `--gpus device=i`). Carried by AsyncLocalStorage, so the one
 * pipeline (pipeline/evaluate.ts) runs unchanged inside it; outside any scope nothing changes.
 *
 * With the labels, the runner stops what belongs to a claim (a cancel, a lost lease, its dead
 * predecessor's leftovers) by the claim, never by a PID or a name.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { engine, onEngine } from "./engine.js";

export interface RunScope {
  /** Extra labels on every container and volume made in the scope (`org.proctor.*` keys). */
  labels?: Record<string, string>;
  /** GPU device ids (indexes or UUIDs) a GPU run gets instead of all of them. */
  gpuDevices?: string[];
}

const storage = new AsyncLocalStorage<RunScope>();

/** Runs `work` inside a scope: runs started in it carry its labels and use its GPU devices. */
export function withRunScope<T>(scope: RunScope, work: () => Promise<T>): Promise<T> {
  return storage.run(scope, work);
}

/** The scope a run is being made in, if any. */
export function runScope(): RunScope | undefined {
  return storage.getStore();
}

/** The containers (running or not) carrying `label`, with its value. */
export async function labelledContainers(label: string): Promise<{ id: string; value: string }[]> {
  const listed = await onEngine(`listing containers labelled ${label}`, () =>
    engine().listContainers({ all: true, filters: JSON.stringify({ label: [label] }) }),
  );
  return listed.map((c) => ({ id: c.Id, value: c.Labels[label] ?? "" }));
}

/**
 * Removes (killing first) every container carrying `label=value`, then its volumes; the number of
 * containers removed. The run that made them sees its container go and ends; its own cleanup finds
 * them gone.
 */
export async function removeLabelled(label: string, value: string): Promise<number> {
  const docker = engine();
  const filters = JSON.stringify({ label: [`${label}=${value}`] });
  const containers = await onEngine(`listing containers labelled ${label}=${value}`, () =>
    docker.listContainers({ all: true, filters }),
  );
  await Promise.allSettled(containers.map((c) => docker.getContainer(c.Id).remove({ force: true })));
  const volumes = await onEngine(`listing volumes labelled ${label}=${value}`, () =>
    docker.listVolumes({ filters }),
  );
  await Promise.allSettled(
    (volumes.Volumes ?? []).map((v) => docker.getVolume(v.Name).remove({ force: true })),
  );
  return containers.length;
}
