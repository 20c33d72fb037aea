/**
 * The runner room: one claimed attempt run the same way by every runner (run-claim.ts: download, run,
 * validate, score, report, with heartbeats; the Actions job calls it too), and the pull runner that claims
 * work for its slots (runner.ts: `proctor runner`, `proctor serve --local-runners`).
 */
export {
  CLAIM_LABEL,
  claimLabelValue,
  entryOf,
  runClaim,
  type ClaimResult,
  type Outcome,
  type RunClaimRequest,
  type RunHooks,
} from "./run-claim.js";
export { runnerPaths, type RunnerPaths } from "./paths.js";
export {
  defaultGpuDevices,
  formatRunnerEvent,
  jsonRunnerEvent,
  LEFTOVER_CHECK_MS,
  PullRunner,
  type PullRunnerOptions,
  type RunnerEvent,
} from "./runner.js";
