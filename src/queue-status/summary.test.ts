import { describe, expect, it } from "vitest";
import { ONLINE_WINDOW_MS, RunnerPresence, runnerOfSlot } from "./presence.js";
import { nearestRank, summarize } from "./summary.js";

describe("summarize", () => {
  it("takes nearest-rank percentiles, in seconds (tenths below ten)", () => {
    expect(nearestRank([], 50)).toBeUndefined();
    expect(nearestRank([7], 95)).toBe(7);
    const hundred = Array.from({ length: 100 }, (_, i) => (i + 1) * 1000);
    expect(summarize(hundred.reverse())).toEqual({ count: 100, median_seconds: 50, p95_seconds: 95 });
    expect(summarize([400, 1250])).toEqual({ count: 2, median_seconds: 0.4, p95_seconds: 1.3 });
    expect(summarize([])).toEqual({ count: 0, median_seconds: null, p95_seconds: null });
  });
});

describe("RunnerPresence", () => {
  it("counts slots that asked within the window or hold a claim, per kind, and runners by their slots' name", () => {
    const presence = new RunnerPresence();
    presence.asked("k8s/pod-a/slot-1", "cpu", 0);
    presence.asked("k8s/pod-a/slot-2", "cpu", 1000);
    presence.asked("k8s/pod-g/slot-1", "gpu", 1000);
    expect(presence.online("cpu", 2000, [])).toEqual({ runners: 1, slots: 2 });
    // A claim held by a slot that asked, and one by an Actions job that never asks: one more slot and runner.
    expect(presence.online("cpu", 2000, ["k8s/pod-a/slot-1", "github-actions/123"])).toEqual({
      runners: 2,
      slots: 3,
    });
    expect(presence.online("gpu", 2000, [])).toEqual({ runners: 1, slots: 1 });
    // Past the window, only a held claim keeps a slot online.
    expect(presence.online("cpu", 1000 + ONLINE_WINDOW_MS + 1, ["k8s/pod-a/slot-2"])).toEqual({
      runners: 1,
      slots: 1,
    });
    expect(presence.online("cpu", 1000 + ONLINE_WINDOW_MS + 1, [])).toEqual({ runners: 0, slots: 0 });
    expect(runnerOfSlot("k8s/pod-a/slot-12")).toBe("k8s/pod-a");
    expect(runnerOfSlot("github-actions/123")).toBe("github-actions/123");
  });
});
