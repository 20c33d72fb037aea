/**
 * The models volume: the models image's folder (runtime/models.yml's files) copied once per models digest
 * into a labelled engine volume, which every zip run of that digest mounts read-only at
 * /code_execution/models. The engine itself fills it (a named volume mounted over an image's folder is
 * populated from it when the container is created), so the weights never pass through proctor.
 *
 * Readiness: a volume's labels cannot change once made, so a never-started container that mounts it marks
 * it ready: created as `proctor-models-filling-…`, renamed `proctor-models-…` once every file is there with
 * its size. Both carry the volume's lease; a run takes a ready volume only if its lease outlasts the run,
 * so the sweeper (cleanup.ts, containers first, then volumes) removes it only after every run that chose
 * it. Near its end a fresh volume is filled, and the old one swept. No claim's labels (run-scope.ts) are
 * put on it: it outlives the claim that made it.
 */
import type Docker from "dockerode";
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { CONTAINER } from "../contract/index.js";
import { LEASE_LABEL, OWNER_LABEL, ownerId, registerRemoval } from "./cleanup.js";
import { engine, EngineError, onEngine } from "./engine.js";
import { resolveImage } from "./image.js";
import { pullImage } from "./registry.js";

/** On the models image, its volumes and their marker containers: the models digest. */
export const MODELS_LABEL = "org.proctor.models";
/** How long a filled volume is used for new runs (then refilled once, and swept). */
export const MODELS_LEASE_MS = 7 * 24 * 60 * 60_000;
const READY_PREFIX = "proctor-models-";
const FILLING_PREFIX = "proctor-models-filling-";

export interface ModelsMount {
  /** The models image, `<runtime repository>:models-<digest>`. */
  image: string;
  digest: string;
  /** Each file's path under /code_execution/models and its size: what a filled volume must hold. */
  files: { target: string; size: number }[];
}

export interface ModelsVolumeOptions {
  /** How long the run that asks needs the volume for (its time limit, grace and cleanup margin). */
  needMs: number;
  /** A new volume's lease; default MODELS_LEASE_MS. */
  leaseMs?: number;
}

export interface ModelsVolume {
  name: string;
  /** False when an existing volume was reused. */
  filled: boolean;
  /** Its lease (ms since the epoch). */
  lease: number;
}

const filling = new Map<string, Promise<ModelsVolume>>();

/**
 * A volume holding `models`' files whose lease outlasts `needMs`: an existing one, else a new one filled
 * from the models image (pulled when this engine lacks it). Concurrent calls in this process share one fill.
 */
export async function ensureModelsVolume(
  models: ModelsMount,
  options: ModelsVolumeOptions,
): Promise<ModelsVolume> {
  const ready = await readyVolume(models.digest, Date.now() + options.needMs);
  if (ready) return ready;
  let fill = filling.get(models.digest);
  if (!fill) {
    fill = fillVolume(models, options.leaseMs ?? MODELS_LEASE_MS).finally(() =>
      filling.delete(models.digest),
    );
    filling.set(models.digest, fill);
  }
  return fill;
}

/** The ready volume of `digest` with the latest lease, if that lease is past `until`. */
async function readyVolume(digest: string, until: number): Promise<ModelsVolume | null> {
  const markers = await onEngine("listing the models volumes", () =>
    engine().listContainers({ all: true, filters: JSON.stringify({ label: [`${MODELS_LABEL}=${digest}`] }) }),
  );
  const ready = markers
    .filter((c) =>
      c.Names.some((n) => n.startsWith(`/${READY_PREFIX}`) && !n.startsWith(`/${FILLING_PREFIX}`)),
    )
    .map((c) => ({
      name: c.Mounts.find((m) => m.Destination === CONTAINER.models)?.Name,
      lease: Number(c.Labels[LEASE_LABEL]),
    }))
    .filter((v): v is { name: string; lease: number } => !!v.name && v.lease > until)
    .sort((a, b) => b.lease - a.lease);
  return ready[0] ? { ...ready[0], filled: false } : null;
}

async function fillVolume(models: ModelsMount, leaseMs: number): Promise<ModelsVolume> {
  await presentImage(models.image);
  const docker = engine();
  const lease = Date.now() + leaseMs;
  const id = `${models.digest.slice(0, 12)}-${randomBytes(4).toString("hex")}`;
  const labels = { [OWNER_LABEL]: ownerId, [LEASE_LABEL]: String(lease), [MODELS_LABEL]: models.digest };
  const state = { ready: false, container: null as Docker.Container | null };
  // Interrupted before it is ready, what was made goes; once ready, it stays for later runs.
  const cleanup = registerRemoval("volume", async () => {
    if (state.ready) return;
    await state.container?.remove({ force: true }).catch(() => undefined);
    await docker
      .getVolume(`${READY_PREFIX}${id}`)
      .remove({ force: true })
      .catch(() => undefined);
  });
  try {
    const name = `${READY_PREFIX}${id}`;
    await onEngine("creating the models volume", () => docker.createVolume({ Name: name, Labels: labels }));
    // Created, never started (the image has no program): the engine fills the empty volume at create.
    state.container = await onEngine("filling the models volume", () =>
      docker.createContainer({
        name: `${FILLING_PREFIX}${id}`,
        Image: models.image,
        Cmd: ["/never-started"],
        Labels: labels,
        NetworkDisabled: true,
        HostConfig: {
          NetworkMode: "none",
          Mounts: [{ Type: "volume", Source: name, Target: CONTAINER.models, ReadOnly: false }],
        },
      }),
    );
    await verifyFilled(state.container, models);
    await onEngine("marking the models volume ready", () =>
      state.container!.rename({ name: `${READY_PREFIX}${id}` }),
    );
    state.ready = true;
    return { name, filled: true, lease };
  } finally {
    await cleanup();
  }
}

/** Every file is in the volume with its size (stat through the engine's archive API, file by file). */
async function verifyFilled(container: Docker.Container, models: ModelsMount): Promise<void> {
  for (const file of models.files) {
    const where = `${CONTAINER.models}/${file.target}`;
    const response = (await onEngine(`checking ${file.target} in the models volume`, () =>
      container.infoArchive({ path: where }),
    )) as IncomingMessage;
    response.resume();
    const header = response.headers["x-docker-container-path-stat"];
    const stat = header
      ? (JSON.parse(Buffer.from(String(header), "base64").toString("utf8")) as { size?: number })
      : {};
    if (stat.size !== file.size)
      throw new EngineError(
        `the models volume did not get ${file.target} from ${models.image} (${stat.size ?? "no"} bytes, ${file.size} expected): this engine did not copy the image's folder into it; check the engine, or rebuild the image with proctor runtime models pack`,
      );
  }
}

/** The models image on this engine: already there, or pulled (public registries; else make pull-models). */
async function presentImage(ref: string): Promise<void> {
  if (
    await resolveImage(ref).then(
      () => true,
      () => false,
    )
  )
    return;
  if (await pullImage(ref)) return;
  throw new EngineError(
    `the models image ${ref} is not on this engine and could not be pulled; run make pull-models (docker pull with the registry's credentials), or build it here with proctor runtime models pack`,
  );
}
