import { describe, expect, it } from "vitest";
import type { SubmissionView } from "./contract.js";
import { describeQueuePlace } from "./queue-place.js";

const queued = {
  state: "queued",
  cpu_or_gpu: "gpu",
  queue_position: 3,
  eta_seconds: 150,
  slots_online: 2,
  runner: null,
  started_at: null,
  dispatch: { state: "pending" },
} as unknown as SubmissionView;

describe("describeQueuePlace", () => {
  it.each([
    [{}, "#3 in the gpu queue; a runner should start it in about 2m30s"],
    [{ eta_seconds: 0 }, "#3 in the gpu queue; a runner should start it any moment"],
    [{ eta_seconds: null }, "#3 in the gpu queue; no gpu run has finished yet to estimate the wait from"],
    [
      { slots_online: 0, eta_seconds: null },
      "#3 in the gpu queue; no gpu runner is online right now, so it waits until one comes",
    ],
    [
      { slots_online: 0, eta_seconds: null, dispatch: { state: "sent" } },
      "#3 in the gpu queue; handed to the Actions runners, it starts when a gpu runner takes the job",
    ],
    // Claimed between the intake's read and the queue's: no place to show.
    [{ queue_position: null }, null],
    [{ state: "final" }, null],
    [
      { state: "running", runner: "k8s/pod-a/slot-1", started_at: "2025-03-01T10:00:00.000Z" },
      "running on k8s/pod-a/slot-1 since 2025-03-01T10:00:00.000Z",
    ],
    [{ state: "running" }, "running"],
  ])("%j -> %s", (fields, words) => {
    expect(describeQueuePlace({ ...queued, ...(fields as Partial<SubmissionView>) })).toBe(words);
  });

  it("writes the start time as asked", () => {
    const running = { ...queued, state: "running", started_at: "2025-03-01T10:00:00.000Z" } as SubmissionView;
    expect(describeQueuePlace(running, (iso) => iso.slice(11, 16))).toBe("running since 10:00");
  });
});
