import { describe, expect, it } from "vitest";
import { capsProblem, DEFAULT_LIMITS, derivedCaps } from "./limits.js";

const MiB = 1024 ** 2;
const names = { memory: "--memory", output: "--output-size", tmp: "--tmp", shm: "--shm" };

describe("memory-backed caps", () => {
  it("derives the output, /tmp and shm caps from the memory limit so they fit in it", () => {
    for (const memory of [6 * MiB, 100 * MiB, 512 * MiB, 3 * 1024 * MiB, 8 * 1024 * MiB, 64 * 1024 * MiB]) {
      const caps = derivedCaps(memory);
      expect(caps.outputBytes + caps.tmpBytes + caps.shmBytes).toBeLessThanOrEqual(memory);
      for (const cap of Object.values(caps)) expect(cap % 4096).toBe(0);
      expect(capsProblem({ memoryBytes: memory, ...caps }, names)).toBeNull();
    }
    expect(derivedCaps(512 * MiB)).toEqual({
      outputBytes: 128 * MiB,
      tmpBytes: 128 * MiB,
      shmBytes: 64 * MiB,
    });
    // The defaults are what the default memory limit derives.
    expect(derivedCaps(DEFAULT_LIMITS.memoryBytes)).toEqual({
      outputBytes: DEFAULT_LIMITS.outputBytes,
      tmpBytes: DEFAULT_LIMITS.tmpBytes,
      shmBytes: DEFAULT_LIMITS.shmBytes,
    });
  });

  it("names the settings, the rule and the fix when caps set by hand exceed the memory limit", () => {
    const problem = capsProblem(
      { memoryBytes: 512 * MiB, outputBytes: 512 * MiB, tmpBytes: 64 * MiB, shmBytes: 64 * MiB },
      names,
    );
    expect(problem).toMatch(
      /--output-size \(512.0 MiB\) \+ --tmp \(64.0 MiB\) \+ --shm \(64.0 MiB\) = 640.0 MiB, more than --memory \(512.0 MiB\)/,
    );
    expect(problem).toMatch(/lower them, raise --memory, or leave them unset/);
  });
});
