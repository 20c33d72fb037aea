import type { ContainerCreateOptions } from "dockerode";
import { CONTAINER } from "../contract/index.js";
import { leaseLabels } from "./cleanup.js";
import { runScope } from "./run-scope.js";
import type { ResolvedImage } from "./image.js";
import type { SandboxLimits } from "./limits.js";

/** The user untrusted code runs as when the image names no non-root USER: nobody. */
export const FALLBACK_USER = "65534:65534";

export interface ReadOnlyMount {
  /** A host folder, or (kind "volume") an engine volume's name. */
  source: string;
  target: string;
  /** Default "bind"; "volume": an existing engine volume (e.g. the models volume, models-volume.ts). */
  kind?: "bind" | "volume";
}

export interface SandboxRequest {
  image: string;
  /** The command, or how to choose it from the image (e.g. keep the image's own entrypoint); [] = the image's. */
  command: string[] | ((image: ResolvedImage) => string[]);
  /** Replaces the image's ENTRYPOINT (e.g. to run a tool instead of the runtime's submission entrypoint). */
  entrypoint?: string[];
  workingDir: string;
  /** Host folders shown read-only inside the container. */
  mounts: ReadOnlyMount[];
  /** The one writable folder: a size- and file-capped filesystem, copied to `hostDir` after the run. */
  output?: {
    target: string;
    hostDir: string;
    expectedFile?: string;
    /**
     * The exit code by which the image's entrypoint says the program exited 0 but wrote no `expectedFile`
     * (the contract's ENTRYPOINT_EXIT.outputMissing): with the file indeed missing, output_missing, not failed.
     */
    missingExitCode?: number;
  };
  limits: SandboxLimits;
  /**
   * How the output is copied out: "auto" reads the volume's folder directly where this host can (a local
   * engine, enough permission), else uses the engine's archive API; "archive" always uses the API.
   */
  outputCopy?: "auto" | "archive";
  gpu?: boolean;
  env?: Record<string, string>;
  /** Names the run in container names, labels and messages. */
  runId: string;
  /**
   * The image is a participant's own (not the platform's runtime): what the engine refuses at create or
   * start because of the image's configuration is then the participant's (`invalid_submission`).
   */
  participantImage?: boolean;
  /**
   * Numeric `uid:gid` to run as, resolved by the caller (a participant's image: never 0); default the
   * image's USER when it is not root, else FALLBACK_USER.
   */
  user?: string;
  /**
   * A trusted image (one with `cat`) for the container that holds the output volume; default `image`.
   * A participant's own image is never trusted with it: it runs outside the sandbox's runtime and limits.
   */
  holderImage?: string;
}

/** What a run needs that does not depend on its program: made before the program is known. */
export type EarlyRequest = Pick<SandboxRequest, "runId" | "image" | "limits" | "output" | "holderImage">;

export const OUTPUT_VOLUME_LABEL = "org.proctor.run";

/**
 * The tmpfs-backed volume that bounds the output folder while the program runs, as a mount's volume options:
 * the engine makes it when the holder is created, capped and leased; the sandbox's mount says the same, so
 * no mount can ever make the engine create it plain (disk-backed, unleased). Never filled from an image's
 * folder: its root keeps the tmpfs's mode=1777, writable by the run's user whatever the image has there.
 */
export function outputVolumeOptions(request: Pick<EarlyRequest, "runId" | "limits">) {
  const { outputBytes, outputFiles } = request.limits;
  return {
    NoCopy: true,
    Labels: labels(request),
    DriverConfig: {
      Name: "local",
      Options: {
        type: "tmpfs",
        device: "tmpfs",
        // nr_inodes counts the volume's root folder too.
        o: `size=${outputBytes},nr_inodes=${outputFiles + 1},mode=1777,nosuid,nodev`,
      },
    },
  };
}

function labels(request: Pick<EarlyRequest, "runId" | "limits">): Record<string, string> {
  return { ...runScope()?.labels, ...leaseLabels(request.limits), [OUTPUT_VOLUME_LABEL]: request.runId };
}

/** The container that runs untrusted code, with every isolation and limit of the container contract. */
export function untrustedContainerSpec(
  request: SandboxRequest,
  image: ResolvedImage,
  outputVolume: string | null,
): ContainerCreateOptions {
  const { limits } = request;
  const command = typeof request.command === "function" ? request.command(image) : request.command;
  const mounts = request.mounts.map((m) =>
    m.kind === "volume"
      ? {
          Type: "volume" as const,
          Source: m.source,
          Target: m.target,
          ReadOnly: true,
          // Never filled from the sandbox's image, whatever it has at the target (dockerode's type wants
          // the options of a volume the mount would create; this one exists).
          VolumeOptions: { NoCopy: true } as never,
        }
      : {
          Type: "bind" as const,
          Source: m.source,
          Target: m.target,
          ReadOnly: true,
          BindOptions: { Propagation: "rprivate" as const },
        },
  );
  if (outputVolume && request.output) {
    mounts.push({
      Type: "volume",
      Source: outputVolume,
      Target: request.output.target,
      ReadOnly: false,
      VolumeOptions: outputVolumeOptions(request),
    } as never);
  }
  // A participant's own image keeps its own HOME, as `docker run` and Grand Challenge leave it (its ENV's, else
  // its user's home in its /etc/passwd): what `pip install --user` put under ~/.local at build is found.
  const home = request.participantImage ? {} : { HOME: CONTAINER.tmp };
  const env = { ...home, TMPDIR: CONTAINER.tmp, PYTHONDONTWRITEBYTECODE: "1", ...request.env };
  return {
    name: `proctor-${request.runId}`,
    // By id, as resolved at the run's start: a tag moved meanwhile changes nothing.
    Image: image.id,
    ...(command.length > 0 ? { Cmd: command } : {}),
    ...(request.entrypoint ? { Entrypoint: request.entrypoint } : {}),
    WorkingDir: request.workingDir,
    User: request.user ?? image.user ?? FALLBACK_USER,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Hostname: "sandbox",
    Labels: labels(request),
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: false,
    Tty: false,
    NetworkDisabled: true,
    StopTimeout: Math.ceil(limits.graceMs / 1000),
    HostConfig: {
      Runtime: limits.runtime,
      NetworkMode: "none",
      ReadonlyRootfs: true,
      Mounts: mounts,
      // exec: JIT compilers (torch.compile, numba, Triton) load what they build in caches under HOME=/tmp.
      // Docker's default for a tmpfs is noexec, so it is said here.
      Tmpfs: { [CONTAINER.tmp]: tmpOptions(limits), ...volumeTmpfs(request, image) },
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      Privileged: false,
      // An init as PID 1 forwards SIGTERM and reaps zombies; when the program ends, the namespace ends
      // with it, detached children included.
      Init: true,
      IpcMode: "private",
      PidsLimit: pidsLimit(limits),
      Memory: limits.memoryBytes,
      MemorySwap: limits.memoryBytes,
      NanoCpus: Math.round(limits.cpus * 1e9),
      ShmSize: limits.shmBytes,
      Ulimits: [
        { Name: "nofile", Soft: limits.nofile, Hard: limits.nofile },
        { Name: "core", Soft: 0, Hard: 0 },
      ],
      ...(request.gpu ? { DeviceRequests: [gpuDeviceRequest()] } : {}),
      AutoRemove: false,
      RestartPolicy: { Name: "no" },
      LogConfig: { Type: "none", Config: {} },
    },
  };
}

/**
 * A tmpfs like /tmp on each folder the image declares a VOLUME for: else the engine would make each an
 * anonymous volume on its disk, writable and uncapped despite the read-only root (an image's own VOLUME is
 * the participant's choice). In memory, they count against the memory limit.
 */
function volumeTmpfs(request: SandboxRequest, image: ResolvedImage): Record<string, string> {
  const taken = new Set([CONTAINER.tmp, ...request.mounts.map((m) => m.target), request.output?.target]);
  const folders = image.volumes.map((v) => v.replace(/\/+$/, "") || "/").filter((v) => !taken.has(v));
  return Object.fromEntries(folders.map((folder) => [folder, tmpOptions(request.limits)]));
}

/** The /tmp tmpfs: writable, exec allowed (JIT caches), never setuid or device files. */
export function tmpOptions(limits: SandboxLimits): string {
  return `rw,exec,nosuid,nodev,size=${limits.tmpBytes},mode=1777`;
}

/**
 * gVisor's own threads (its kernel, the file proxy) live in the run's pids cgroup beside the program's:
 * under runsc the cgroup's limit leaves room for them, so the program still gets `pids` of its own.
 */
export const RUNSC_THREADS = 128;
const pidsLimit = (limits: SandboxLimits) => limits.pids + (limits.runtime === "runsc" ? RUNSC_THREADS : 0);

/** All GPUs (`--gpus all`), or only `devices` (`--gpus device=0`: a runner slot's own, see run-scope.ts). */
export function gpuDeviceRequest(devices = runScope()?.gpuDevices) {
  return devices?.length
    ? { Driver: "", Count: 0, DeviceIDs: devices, Capabilities: [["gpu"]], Options: {} }
    : { Driver: "", Count: -1, DeviceIDs: [], Capabilities: [["gpu"]], Options: {} };
}

/**
 * A do-nothing container that keeps the output volume mounted after the untrusted program has exited (a
 * tmpfs volume is unmounted, and emptied, when no running container uses it), so its files can be read.
 * The volume is its own (anonymous, made with it); it waits on its stdin, which proctor holds open: when
 * proctor lets go (or dies), it exits and the engine removes it together with the volume, off the run's
 * critical path.
 */
export function holderContainerSpec(request: EarlyRequest): ContainerCreateOptions {
  return {
    name: `proctor-${request.runId}-holder`,
    Image: request.holderImage ?? request.image,
    Entrypoint: ["cat"],
    Cmd: [],
    User: FALLBACK_USER,
    Labels: labels(request),
    NetworkDisabled: true,
    AttachStdin: true,
    OpenStdin: true,
    StdinOnce: true,
    HostConfig: {
      NetworkMode: "none",
      ReadonlyRootfs: true,
      Mounts: [
        // No source: an anonymous volume, which the engine removes with the holder (and mounts only
        // writable; the holder's `cat` writes nothing).
        {
          Type: "volume",
          Source: "",
          Target: HOLDER_MOUNT,
          ReadOnly: false,
          VolumeOptions: outputVolumeOptions(request),
        },
      ],
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      PidsLimit: 4,
      Memory: 32 * 1024 ** 2,
      MemorySwap: 32 * 1024 ** 2,
      LogConfig: { Type: "none", Config: {} },
      AutoRemove: true,
    },
  };
}

export const HOLDER_MOUNT = "/proctor-output";

/**
 * The same container as `untrustedContainerSpec`, as `docker run` flags for an interactive session: every
 * limit, mount, variable, user, working folder, entrypoint and command alike; the output folder a tmpfs
 * volume of the same caps, made the same way (nothing is copied out of a shell).
 */
export function interactiveRunArgs(request: SandboxRequest, image: ResolvedImage, tty: boolean): string[] {
  const spec = untrustedContainerSpec(request, image, null);
  const host = spec.HostConfig!;
  const args = [
    "run",
    "--rm",
    tty ? "-it" : "-i",
    "--init",
    "--network",
    "none",
    "--read-only",
    "--cap-drop",
    "ALL",
  ];
  args.push("--security-opt", "no-new-privileges", "--ipc", "private", "--hostname", spec.Hostname!);
  args.push("--user", spec.User!, "--workdir", spec.WorkingDir!, "--runtime", request.limits.runtime);
  args.push("--memory", String(host.Memory), "--memory-swap", String(host.MemorySwap));
  args.push(
    "--cpus",
    String(request.limits.cpus),
    "--pids-limit",
    String(host.PidsLimit),
    "--shm-size",
    String(host.ShmSize),
  );
  for (const u of host.Ulimits ?? []) args.push("--ulimit", `${u.Name}=${u.Soft}:${u.Hard}`);
  for (const [target, options] of Object.entries(host.Tmpfs ?? {}))
    args.push("--tmpfs", `${target}:${options}`);
  for (const m of request.mounts)
    args.push(
      "--mount",
      m.kind === "volume"
        ? `type=volume,source=${m.source},target=${m.target},readonly,volume-nocopy`
        : `type=bind,source=${m.source},target=${m.target},readonly`,
    );
  if (request.output) {
    const volume = outputVolumeOptions(request).DriverConfig.Options;
    // One --mount value is CSV: the tmpfs options (which hold commas) are quoted as one field.
    const fields = [
      "type=volume",
      `target=${request.output.target}`,
      "volume-nocopy",
      `volume-opt=type=${volume.type}`,
      `volume-opt=device=${volume.device}`,
      `"volume-opt=o=${volume.o}"`,
    ];
    args.push("--mount", fields.join(","));
  }
  for (const env of spec.Env ?? []) args.push("--env", env);
  if (request.gpu) args.push("--gpus", "all");
  const [entrypoint, ...entrypointArgs] = (spec.Entrypoint as string[] | undefined) ?? [];
  if (entrypoint) args.push("--entrypoint", entrypoint);
  args.push(request.image, ...entrypointArgs, ...((spec.Cmd as string[] | undefined) ?? []));
  return args;
}
