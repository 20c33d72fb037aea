import type { Competition, Phase } from "../config/index.js";

export interface RunnerPaths {
  dataDir: string;
  groundTruth: string;
}

/**
 * Where a runner finds a phase's test data and ground truth: the phase's own runner_paths; else the smoke
 * test runs on the public sample in the repository (`paths`) and the evaluation on the runner's disk
 * (`runner_paths`). A local runner (`proctor serve --local-runners`, on the organizer's own clone) reads the
 * phase's runner_paths, else the competition's `paths` (the clone's data/), so a fresh clone runs a whole
 * competition; the top-level runner_paths name the runner machines' disks, not this one's. null: none
 * configured (the organizer's to fix).
 */
export function runnerPaths(
  competition: Competition,
  phase: Phase,
  options: { local?: boolean } = {},
): RunnerPaths | null {
  const own = competition.lifecycle.phases.find((p) => p.name === phase)?.runnerPaths;
  if (own) return own;
  if (phase === "smoke_test" || options.local) return competition.paths;
  return competition.runnerPaths ?? null;
}
