import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { engine, EngineError, onEngine } from "./engine.js";

/** One line of the engine's build or push progress, already made readable. */
export type ProgressLine = (line: string) => void;

interface StreamEvent {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string; Digest?: string; Tag?: string; Size?: number };
}

/**
 * The engine reports build and push failures only inside its progress stream (the HTTP status is 200), so
 * every event is checked: the first error fails the whole operation, loudly, with the engine's words.
 */
export async function followStream(
  stream: NodeJS.ReadableStream,
  what: string,
  onLine: ProgressLine,
): Promise<StreamEvent[]> {
  return new Promise((resolve, reject) => {
    const events: StreamEvent[] = [];
    engine().modem.followProgress(
      stream,
      (error: Error | null) => {
        const failed = events.find((e) => e.error || e.errorDetail);
        if (error) reject(new EngineError(`${what} failed: ${error.message}`, { cause: error }));
        else if (failed)
          reject(new EngineError(`${what} failed: ${failed.errorDetail?.message ?? failed.error}`));
        else resolve(events);
      },
      (event: StreamEvent) => {
        events.push(event);
        const text = (
          event.stream ?? [event.id, event.status, event.progress].filter(Boolean).join(" ")
        ).trimEnd();
        if (text) onLine(text);
        if (event.error || event.errorDetail) onLine(`error: ${event.errorDetail?.message ?? event.error}`);
      },
    );
  });
}

export interface BuildRequest {
  /** Folder the paths below are relative to. */
  context: string;
  /** The files that form the build context (exactly what the Dockerfile needs). */
  files: string[];
  dockerfile: string;
  tag: string;
  buildArgs?: Record<string, string>;
  labels?: Record<string, string>;
  /** BuildKit layer cache (e.g. "type=gha"), used when `docker buildx` is available. */
  cache?: string;
}

export interface BuiltImage {
  tag: string;
  id: string;
  sizeBytes: number;
  builder: "buildx" | "classic";
}

const exec = promisify(execFile);

export async function hasBuildx(): Promise<boolean> {
  return exec("docker", ["buildx", "version"]).then(
    () => true,
    () => false,
  );
}

/**
 * Builds an image: with BuildKit (`docker buildx build --load`, with a layer cache when one is given) where
 * buildx exists, else with the engine's classic builder through its API.
 */
export async function buildImage(
  request: BuildRequest,
  onLine: ProgressLine = () => undefined,
): Promise<BuiltImage> {
  let builder: BuiltImage["builder"] = "classic";
  if (await hasBuildx()) {
    builder = "buildx";
    const args = [
      "buildx",
      "build",
      "--load",
      "--progress",
      "plain",
      "-f",
      request.dockerfile,
      "-t",
      request.tag,
    ];
    for (const [k, v] of Object.entries(request.buildArgs ?? {})) args.push("--build-arg", `${k}=${v}`);
    for (const [k, v] of Object.entries(request.labels ?? {})) args.push("--label", `${k}=${v}`);
    if (request.cache) args.push("--cache-from", request.cache, "--cache-to", `${request.cache},mode=max`);
    args.push(request.context);
    await spawnLines("docker", args, onLine, `building ${request.tag}`);
  } else {
    const stream = await onEngine(`building ${request.tag}`, () =>
      engine().buildImage(
        { context: request.context, src: request.files },
        {
          t: request.tag,
          dockerfile: request.dockerfile,
          buildargs: request.buildArgs,
          labels: request.labels,
          rm: true,
          forcerm: true,
        },
      ),
    );
    await followStream(stream, `building ${request.tag}`, onLine);
  }
  const info = await onEngine(`inspecting ${request.tag}`, () => engine().getImage(request.tag).inspect());
  return { tag: request.tag, id: info.Id, sizeBytes: info.Size, builder };
}

function spawnLines(command: string, args: string[], onLine: ProgressLine, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { maxBuffer: 1024 * 1024 * 1024 });
    const split = (chunk: Buffer | string) => String(chunk).split("\n").filter(Boolean).forEach(onLine);
    child.stdout?.on("data", split);
    child.stderr?.on("data", split);
    child.on("error", (error) => reject(new EngineError(`${what} failed: ${error.message}`)));
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new EngineError(`${what} failed: docker exited ${code}`)),
    );
  });
}

export interface RegistryAuth {
  username: string;
  password: string;
  /** Registry host, e.g. ghcr.io or 127.0.0.1:5000; empty for Docker Hub. */
  serveraddress?: string;
}

/** The engine's X-Registry-Auth for `auth` (Docker Hub when no server is named). */
export function authconfigOf(auth: RegistryAuth | null | undefined) {
  return auth
    ? {
        username: auth.username,
        password: auth.password,
        serveraddress: auth.serveraddress || "https://index.docker.io/v1/",
      }
    : undefined;
}

/** Gives `source` another name (repo:tag). */
export async function tagImage(source: string, repo: string, tag: string): Promise<string> {
  await onEngine(`tagging ${source} as ${repo}:${tag}`, () => engine().getImage(source).tag({ repo, tag }));
  return `${repo}:${tag}`;
}

/** Pushes repo:tag; fails on any error in the push stream; returns the digest the registry gave it. */
export async function pushImage(
  ref: string,
  auth: RegistryAuth | null,
  onLine: ProgressLine = () => undefined,
): Promise<string> {
  const authconfig = authconfigOf(auth);
  const stream = await onEngine(`pushing ${ref}`, () => engine().getImage(ref).push({ authconfig }));
  const events = await followStream(stream as NodeJS.ReadableStream, `pushing ${ref}`, onLine);
  const digest =
    events.find((e) => e.aux?.Digest)?.aux?.Digest ??
    events.map((e) => /digest: (sha256:[0-9a-f]{64})/.exec(e.status ?? "")?.[1]).find(Boolean);
  if (!digest) throw new EngineError(`pushing ${ref} failed: the registry reported no digest`);
  return digest;
}

/** Pulls an image; false when it can't be had (no registry reachable, no such image, no access). */
export async function pullImage(ref: string, onLine: ProgressLine = () => undefined): Promise<boolean> {
  try {
    const stream = await onEngine(`pulling ${ref}`, () => engine().pull(ref));
    await followStream(stream, `pulling ${ref}`, onLine);
    return true;
  } catch {
    return false;
  }
}
