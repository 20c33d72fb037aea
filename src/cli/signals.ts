/**
 * The process's signals, wired at the edge: a command that runs containers (the CLI's, the action's)
 * removes what its run created before an interrupt ends it (the sandbox keeps the list: removeAllPending).
 */
import { pendingRemovals, removeAllPending } from "../sandbox/index.js";

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * On SIGINT, SIGTERM or SIGHUP: removes this run's containers, volumes and loaded images, then re-raises
 * the signal with its default action, so the exit status still says which signal ended the process.
 * Install it once, at the entry point, for commands that run containers (not for `proctor serve`, which
 * closes the gateway on its own handlers).
 */
export function removeContainersOnSignals(): void {
  for (const signal of SIGNALS) {
    const onSignal = () => {
      if (pendingRemovals() > 0) {
        process.stderr.write(`proctor: ${signal} received, removing this run's containers before exiting\n`);
      }
      void removeAllPending().finally(() => {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      });
    };
    process.on(signal, onSignal);
  }
}
