/** The action's entry point (bundled to dist/index.js): everything else is in main.ts's run(). */
import { removeContainersOnSignals } from "../cli/signals.js";
import { run } from "./main.js";

// A cancelled job sends SIGINT, then SIGTERM: remove the run's containers before the runner moves on.
removeContainersOnSignals();
await run();
