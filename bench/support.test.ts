import { describe, expect, it } from "vitest";
import { percentile, procCpuMs, procStatusBytes, startNode } from "./support.js";

describe("percentile", () => {
  it("is a value that occurred, by nearest rank", () => {
    const twenty = Array.from({ length: 20 }, (_, i) => 20 - i); // 20..1, unsorted
    expect(percentile(twenty, 95)).toBe(19);
    expect(percentile(twenty, 50)).toBe(10);
    expect(percentile(twenty, 100)).toBe(20);
    expect(percentile(twenty, 0)).toBe(1);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([3, 1, 2], 50)).toBe(2);
  });

  it("leaves its input as it was", () => {
    const values = [3, 1, 2];
    percentile(values, 50);
    expect(values).toEqual([3, 1, 2]);
  });

  it("is NaN for no values, and refuses a p outside 0 to 100", () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(/percentile 101 must be from 0 to 100/);
    expect(() => percentile([1], -1)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });
});

describe("/proc readings", () => {
  it("reads this process's resident size, peak and CPU time", async () => {
    const rss = await procStatusBytes(process.pid, "VmRSS");
    const peak = await procStatusBytes(process.pid, "VmHWM");
    expect(rss).toBeGreaterThan(1024 * 1024);
    expect(peak).toBeGreaterThanOrEqual(rss!);
    expect(await procCpuMs(process.pid)).toBeGreaterThan(0);
  });

  it("answers null for a process that is not there", async () => {
    expect(await procStatusBytes(2 ** 22 + 1, "VmRSS")).toBeNull();
    expect(await procCpuMs(2 ** 22 + 1)).toBeNull();
  });
});

describe("startNode", () => {
  it("waits for its ready line (on stdout or stderr) and stops it with SIGTERM", async () => {
    const started = await startNode(
      [
        "-e",
        "console.log('warming'); setTimeout(() => console.error('ready on 42'), 100); setInterval(() => {}, 1000)",
      ],
      { ready: /ready on (\d+)/ },
    );
    expect(started.ready[1]).toBe("42");
    expect(started.output()).toContain("warming");
    expect(await started.stop()).toBeNull(); // killed by the signal, no exit code
    expect(started.child.signalCode).toBe("SIGTERM");
  });

  it("throws with what the child wrote when it exits before it is ready", async () => {
    await expect(
      startNode(["-e", "console.error('no config here'); process.exit(3)"], { ready: /listening/ }),
    ).rejects.toThrow(/exited before it was ready:\nno config here/);
  });
});
