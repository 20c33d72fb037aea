/** The action's entry point (bundled to dist/index.js): everything else is in main.ts's run(). */
import { run } from "./main.js";

await run();
