import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { inject } from "vitest";

const run = promisify(execFile);
/** PROCTOR_OFFLINE_IMAGE names another tag, so checkouts that share an engine don't rebuild each other's. */
export const OFFLINE_IMAGE = process.env.PROCTOR_OFFLINE_IMAGE ?? "proctor/runtime:cpu-offline";
let built: Promise<string> | undefined;

/**
 * The offline runtime image, built by scripts/build-offline-image.sh on the base image of the global setup
 * (cached by a hash of its inputs: only the first run builds). Once per test worker; the script's lock
 * makes workers that ask at the same time wait for one build.
 */
export function offlineImage(): Promise<string> {
  built ??= run("bash", ["scripts/build-offline-image.sh"], {
    env: { ...process.env, BASE_IMAGE: inject("baseImage"), IMAGE: OFFLINE_IMAGE },
    maxBuffer: 64 * 1024 * 1024,
  }).then(({ stdout }) => stdout.trim().split("\n").pop()!);
  return built;
}
