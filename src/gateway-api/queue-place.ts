/**
 * Where a submission stands, in words, from its view's queue fields: the same sentence in `proctor status`
 * and on the My submissions page.
 */
import { formatDuration } from "../units/index.js";
import type { SubmissionView } from "./contract.js";

type QueueFields = Pick<
  SubmissionView,
  | "state"
  | "cpu_or_gpu"
  | "queue_position"
  | "eta_seconds"
  | "slots_online"
  | "runner"
  | "started_at"
  | "dispatch"
>;

/**
 * "#2 in the cpu queue; …" for a queued view, "running on … since …" for a running one; else null.
 * `time` writes the start time (default: as sent, ISO 8601).
 */
export function describeQueuePlace(
  v: QueueFields,
  time: (iso: string) => string = (iso) => iso,
): string | null {
  if (v.state === "running") {
    const on = v.runner ? ` on ${v.runner}` : "";
    return `running${on}${v.started_at ? ` since ${time(v.started_at)}` : ""}`;
  }
  if (v.state !== "queued" || v.queue_position === null) return null;
  const place = `#${v.queue_position} in the ${v.cpu_or_gpu} queue`;
  // Sent to GitHub Actions: its runners are seen only once one takes the job.
  if (v.slots_online === 0 && v.dispatch.state === "sent")
    return `${place}; handed to the Actions runners, it starts when a ${v.cpu_or_gpu} runner takes the job`;
  if (v.slots_online === 0)
    return `${place}; no ${v.cpu_or_gpu} runner is online right now, so it waits until one comes`;
  if (v.eta_seconds === null)
    return `${place}; no ${v.cpu_or_gpu} run has finished yet to estimate the wait from`;
  if (v.eta_seconds === 0) return `${place}; a runner should start it any moment`;
  return `${place}; a runner should start it in about ${formatDuration(v.eta_seconds * 1000)}`;
}
