import { engine, EngineError, onEngine } from "./engine.js";

/** The OCI runtime asked for is not registered with the engine: the operator's to fix, so say how. */
export class RuntimeUnavailableError extends EngineError {}

/** The OCI runtimes the engine has registered (runc, runsc, nvidia, …). */
export async function engineRuntimes(): Promise<string[]> {
  const info = (await onEngine("listing the engine's runtimes", () => engine().info())) as {
    Runtimes?: Record<string, unknown>;
  };
  return Object.keys(info.Runtimes ?? {}).sort();
}

/** Throws a RuntimeUnavailableError naming the engine's runtimes and the fix when `name` is not one. */
export async function checkRuntime(name: string): Promise<void> {
  const runtimes = await engineRuntimes();
  if (!runtimes.includes(name)) throw new RuntimeUnavailableError(unknownRuntimeMessage(name, runtimes));
}

export function unknownRuntimeMessage(name: string, runtimes: string[]): string {
  const fix =
    name === "runsc"
      ? "to use gVisor, install Debian's runsc (apt-get install runsc), register it in /etc/docker/daemon.json " +
        '("runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--platform=ptrace", "--network=none"]}}; ' +
        "scripts/ensure-engine.sh does this) and reload dockerd with SIGHUP, or choose runc"
      : 'choose one of those, or register it in /etc/docker/daemon.json under "runtimes" and reload dockerd with SIGHUP';
  return `runtime "${name}" is not registered with this Docker engine (it has: ${runtimes.join(", ") || "none"}); ${fix}`;
}

/** Turns the engine's refusal of an unknown runtime into the error above; other errors pass through. */
export async function runtimeAware(error: unknown, runtime: string): Promise<unknown> {
  const text = error instanceof Error ? error.message : String(error);
  if (!/unknown runtime/i.test(text)) return error;
  const runtimes = await engineRuntimes().catch(() => []);
  return new RuntimeUnavailableError(unknownRuntimeMessage(runtime, runtimes), { cause: error });
}
