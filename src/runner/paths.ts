import { logKind, type Competition, type Phase } from "../config/index.js";
import { phaseNamed } from "../lifecycle/index.js";

export interface RunnerPaths {
  dataDir: string;
  groundTruth: string;
}

/**
 * Where a runner finds a phase's test data and ground truth: the phase's own runner_paths; else a
 * public-sample phase (`data: public_sample`, a smoke_test) runs on the public sample in the repository
 * (`paths`) and a hidden-set phase on the runner's disk (`runner_paths`). A local runner (`proctor serve --local-runners`, on the organizer's own clone) reads the
 * phase's runner_paths, else the competition's `paths` (the clone's data/), so a fresh clone runs a whole
 * competition; the top-level runner_paths name the runner machines' disks, not this one's. null: none
 * configured (the organizer's to fix).
 */
export function runnerPaths(
  competition: Competition,
  phase: Phase,
  options: { local?: boolean } = {},
): RunnerPaths | null {
  const own = phaseNamed(competition.lifecycle, phase)?.runnerPaths;
  if (own) return own;
  if (logKind(competition, phase) === "smoke_test" || options.local) return competition.paths;
  return competition.runnerPaths ?? null;
}
