/** `npm run bench`: every benchmark, each printing medians and ratios against a baseline from the same run. */
import { benchRun } from "./run.js";
import { benchLeaderboard } from "./leaderboard.js";

const only = process.argv[2];
const benches: Record<string, () => Promise<void>> = {
  run: benchRun,
  leaderboard: benchLeaderboard,
};
for (const [name, bench] of Object.entries(benches)) {
  if (only && only !== name) continue;
  console.log(`\n=== ${name} ===`);
  await bench();
}
