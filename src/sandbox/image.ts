import type { ImageInspectInfo } from "dockerode";
import { engine, EngineError, onEngine } from "./engine.js";
import { authconfigOf, followStream, type ProgressLine, type RegistryAuth } from "./registry.js";

export interface ResolvedImage {
  /** What the user asked for, e.g. proctor/runtime:cpu-latest. */
  ref: string;
  /** The local image id (sha256 of its config). */
  id: string;
  /**
   * repo@sha256:… when the image came from or went to a registry (the one of `ref`'s repository when it
   * has several), else null: the digest that ran.
   */
  digest: string | null;
  /** The image's USER, or null when it runs as root by default. */
  user: string | null;
  hasEntrypoint: boolean;
  sizeBytes: number;
  /** Its layers' diff_ids, base first (what an allow-list of base images compares). */
  layers: string[];
  /** Folders its VOLUME instructions declare (the sandbox mounts a capped tmpfs on each). */
  volumes: string[];
}

export interface EnsuredImage extends ResolvedImage {
  /** Whether it had to be pulled (false: it was already on this engine). */
  pulled: boolean;
}

export interface EnsureImageOptions {
  /** Credentials for a private registry; none for a public image. */
  auth?: RegistryAuth | null;
  /**
   * The pull's progress, one readable line per layer event (`<layer> Pull complete`, `Digest: …`,
   * `Status: …`; progress bars left out), e.g. to print folded in a log group. Never called when the image
   * is already local.
   */
  onProgress?: ProgressLine;
}

/** The repository of an image reference, without tag or digest, as the engine names it in RepoDigests. */
export function repositoryOf(ref: string): string {
  const at = ref.indexOf("@");
  let name = at >= 0 ? ref.slice(0, at) : ref;
  const colon = name.lastIndexOf(":");
  if (colon > name.lastIndexOf("/")) name = name.slice(0, colon);
  return name.replace(/^(docker\.io|index\.docker\.io)\//, "").replace(/^library\//, "");
}

/** The registry host `ref` is pulled from (docker.io when it names none). */
export function registryOf(ref: string): string {
  const first = ref.split("/")[0]!;
  return ref.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost")
    ? first
    : "docker.io";
}

/**
 * Whether a trusted image's USER names root by any spelling (`root`, `0`, `00`, `+0`, `root:…`, `0:…`) or
 * none. A participant's image is resolved against its own passwd instead (submission's resolveUser).
 */
export function runsAsRoot(user: string): boolean {
  const name = user.split(":")[0]!;
  return name === "" || name === "root" || /^\+?0+$/.test(name);
}

function describe(ref: string, info: ImageInspectInfo): ResolvedImage {
  const user = info.Config?.User?.trim() ?? "";
  const digests = info.RepoDigests ?? [];
  const repository = repositoryOf(ref);
  return {
    ref,
    id: info.Id,
    digest: digests.find((d) => repositoryOf(d) === repository) ?? digests[0] ?? null,
    user: runsAsRoot(user) ? null : user,
    hasEntrypoint: (info.Config?.Entrypoint?.length ?? 0) > 0,
    sizeBytes: info.Size,
    layers: info.RootFS?.Layers ?? [],
    volumes: Object.keys(info.Config?.Volumes ?? {}),
  };
}

/** The image as the engine has it, or undefined when it is not there. */
async function inspectLocal(ref: string): Promise<ImageInspectInfo | undefined> {
  return onEngine(`inspecting image ${ref}`, async () => {
    try {
      return await engine().getImage(ref).inspect();
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
  });
}

/** Looks an image up on the engine; a missing image is the operator's to fix, so say how. */
export async function resolveImage(ref: string): Promise<ResolvedImage> {
  const info = await inspectLocal(ref);
  if (info === undefined) {
    throw new EngineError(
      `image "${ref}" is not on this Docker engine; pull it (make pull / docker pull ${ref}) or build it (make build-offline)`,
    );
  }
  return describe(ref, info);
}

/**
 * The image `ref`, pulled from its registry first when this engine does not have it (a fresh runner), with
 * `auth` when given. A pull that fails throws an EngineError naming the image, what went wrong (not found,
 * unauthorized, registry unreachable) and what to change.
 */
export async function ensureImage(ref: string, options: EnsureImageOptions = {}): Promise<EnsuredImage> {
  if (typeof ref !== "string" || ref.trim() === "" || /\s/.test(ref)) {
    throw new EngineError(
      `image reference ${JSON.stringify(ref)} is not valid; give one like myorg/runtime:cpu-latest`,
    );
  }
  const local = await inspectLocal(ref);
  if (local !== undefined) return { ...describe(ref, local), pulled: false };

  const onProgress = options.onProgress ?? (() => undefined);
  const authconfig = authconfigOf(options.auth);
  try {
    const stream = await engine().pull(ref, authconfig ? { authconfig } : {});
    await followStream(stream, `pulling ${ref}`, (line) => {
      if (!/\[[=> ]*\]/.test(line)) onProgress(line);
    });
  } catch (error) {
    throw pullFailure(ref, error, options.auth ?? null);
  }
  const pulled = await inspectLocal(ref);
  if (pulled === undefined) {
    throw new EngineError(
      `pulling image "${ref}" reported success, but the engine does not have it; pull it again`,
    );
  }
  return { ...describe(ref, pulled), pulled: true };
}

/** What the engine said, made into: the image, what went wrong, what to do. */
function pullFailure(ref: string, error: unknown, auth: RegistryAuth | null): EngineError {
  const e = error as { code?: string; json?: { message?: string }; message?: string };
  if (e?.code === "ENOENT" || e?.code === "ECONNREFUSED" || e?.code === "EACCES") {
    return new EngineError(
      `pulling image "${ref}" failed: cannot reach the Docker engine (${e.code}); is dockerd running and is ` +
        `DOCKER_HOST right? Try \`docker info\` on the runner`,
      { cause: error },
    );
  }
  const said = (e?.json?.message ?? e?.message ?? String(error))
    .replace(/^pulling \S+ failed: /, "")
    .replace(/^\(HTTP code \d+\) [a-z ]+ - /, "")
    .trim();
  return new EngineError(explainPullFailure(ref, said, auth !== null), { cause: error });
}

/** The message for a pull of `ref` the engine refused with `said`: the image, the engine's words, the fix. */
export function explainPullFailure(ref: string, said: string, withCredentials: boolean): string {
  const registry = registryOf(ref);
  const name = `check the image name and tag (runtime.image and its tags in competition.yml, or the action's image input)`;
  let advice: string;
  if (/does not exist or may require/i.test(said)) {
    // Docker Hub says this both for a missing repository and for a private one without access.
    advice = `${registry} has no such image, or it is private and ${withCredentials ? "these credentials cannot read it" : "no credentials were given"}: ${name}, publish the runtime first (the runtime workflow), or pass registry credentials that can read ${repositoryOf(ref)}`;
  } else if (
    /unauthorized|authentication required|no basic auth|access denied|denied:|forbidden|incorrect username or password/i.test(
      said,
    )
  ) {
    advice = withCredentials
      ? `${registry} refused the credentials given for it: check the registry username and token (they must ` +
        `be able to read ${repositoryOf(ref)})`
      : `${registry} wants credentials to pull it: pass registry credentials from repository secrets, or ` +
        `make the image public`;
  } else if (/manifest unknown|not found|name unknown|no such image/i.test(said)) {
    advice = `${registry} has no such image or tag: ${name}, and publish the runtime first (the runtime workflow)`;
  } else if (
    /connection refused|no such host|dial tcp|i\/o timeout|timeout|network is unreachable|server misbehaving|tls handshake|connection reset|EOF/i.test(
      said,
    )
  ) {
    advice =
      `this runner cannot reach ${registry}: check its network, DNS and proxy settings, or load the image on ` +
      `the runner beforehand (docker pull ${ref}, or docker load from an archive)`;
  } else {
    advice = `the engine could not pull it; try \`docker pull ${ref}\` on the runner to see why`;
  }
  return `pulling image "${ref}" failed (${said}): ${advice}`;
}
