/**
 * The queue room: where a queued submission stands (its place and estimated wait), the public status
 * (runners online, queued and running, waits and run times) and the Prometheus metrics, all read from the
 * intake's records and the runners' presence; it changes nothing. The HTTP edge is src/gateway.
 */
export { QueueStatus, type QueueCounts, type QueueStatusOptions } from "./queue-status.js";
export { QueueMetrics } from "./metrics.js";
export { ONLINE_WINDOW_MS, RunnerPresence, runnerOfSlot, type OnlineRunners } from "./presence.js";
export { nearestRank, summarize } from "./summary.js";
