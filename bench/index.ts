/**
 * `npm run bench [name]`: every benchmark (or one), each printing medians and ratios against a baseline
 * measured in the same run. Timings are never asserted: machines here are noisy.
 */
import { benchExtract } from "./extract.js";
import { benchGateway } from "./gateway.js";
import { benchImage } from "./image.js";
import { benchLeaderboard } from "./leaderboard.js";
import { benchPerCase } from "./per-case.js";
import { missingPrerequisites } from "./prerequisites.js";
import { benchRun } from "./run.js";
import { benchRunners } from "./runners.js";
import { benchScoring } from "./scoring.js";

const benches: Record<string, () => Promise<void>> = {
  run: benchRun,
  extract: benchExtract,
  image: benchImage,
  "per-case": benchPerCase,
  scoring: benchScoring,
  leaderboard: benchLeaderboard,
  gateway: benchGateway,
  runners: () => benchRunners(process.argv.slice(3)),
};

const only = process.argv[2];
if (only && !benches[only]) {
  console.error(`no benchmark "${only}"; choose one of ${Object.keys(benches).join(", ")}`);
  process.exit(2);
}
const missing = missingPrerequisites(only ? [only] : Object.keys(benches));
if (missing.length > 0) {
  console.error(`npm run bench${only ? ` ${only}` : ""} needs what this machine lacks:`);
  for (const line of missing) console.error(`  - ${line}`);
  process.exit(2);
}
for (const [name, bench] of Object.entries(benches)) {
  if (only && only !== name) continue;
  console.log(`\n=== ${name} ===`);
  await bench();
}
