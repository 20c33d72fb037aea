import { afterEach, describe, expect, it, vi } from "vitest";
import { run } from "./main.js";

afterEach(() => {
  delete process.env.INPUT_COMMAND;
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

describe("run", () => {
  it("fails the step, never throws, on an input it refuses: the message is the input's own", async () => {
    const written: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    process.env.INPUT_COMMAND = "deploy";
    await expect(run()).resolves.toBeUndefined();
    expect(process.exitCode).toBe(1);
    expect(written.join("")).toMatch(/^::error::input "command" must be one of build-runtime, /m);
  });
});
