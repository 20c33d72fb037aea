import { DEFAULT_LIMITS, newRunId, runSandboxed } from "../sandbox/index.js";

/**
 * Runs a read-only lister inside a runtime image (ours, never a participant's), sandboxed like every run (no
 * network, read-only root, no mounts), and returns what it printed. Throws, naming the image and `what`,
 * when the run fails.
 */
export async function listInImage(image: string, what: string, entrypoint: string[]): Promise<string> {
  const result = await runSandboxed({
    runId: `list-${newRunId()}`,
    image,
    entrypoint,
    command: [],
    workingDir: "/tmp",
    mounts: [],
    limits: {
      ...DEFAULT_LIMITS,
      timeLimitMs: 120_000,
      memoryBytes: 1024 ** 3,
      logHeadBytes: 32 * 1024 ** 2,
      logTailBytes: 0,
    },
  });
  if (result.status !== "succeeded") throw new Error(`listing ${what} of ${image} failed: ${result.reason}`);
  return result.stdout.text;
}
