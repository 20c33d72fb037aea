import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { formatLog, mergeLogs, programLines, writeRunLog } from "./run-log.js";

const log = (text: string, truncated = false) => ({
  text,
  bytes: Buffer.byteLength(text),
  lines: text.split("\n").filter(Boolean).length,
  truncated,
});

describe("run log", () => {
  it("merges both streams by the runtime's timestamps and tells proctor's own lines apart", () => {
    const stdout = log("2026-01-01T00:00:01Z loading\n2026-01-01T00:00:03Z done\n");
    const stderr = log(
      "2026-01-01T00:00:00Z [proctor] running main.py\n2026-01-01T00:00:02Z Traceback (most recent call last):\n2026-01-01T00:00:04Z [proctor] main.py failed\n",
    );
    const merged = mergeLogs(stdout, stderr);
    expect(merged.map((l) => `${l.source}:${l.text}`)).toEqual([
      "proctor:running main.py",
      "stdout:loading",
      "stderr:Traceback (most recent call last):",
      "stdout:done",
      "proctor:main.py failed",
    ]);
    expect(programLines(merged).map((l) => l.source)).toEqual(["stdout", "stderr", "stdout"]);
    expect(formatLog(merged.slice(0, 1))).toBe("2026-01-01T00:00:00Z proctor running main.py\n");
  });

  it("keeps each stream's order for lines without timestamps (an image without the runtime's entrypoint)", () => {
    const merged = mergeLogs(log("a\nb\n"), log("x\n"));
    expect(merged.map((l) => l.text)).toEqual(["a", "b", "x"]);
    expect(formatLog(merged)).toBe("stdout  a\nstdout  b\nstderr  x\n");
  });

  it("writes every line to the log file, and says where a stream was cut", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "proctor-runlog-"));
    try {
      const file = path.join(dir, "last-run", "log.txt");
      await writeRunLog(file, log("2026-01-01T00:00:01Z out\n"), log("2026-01-01T00:00:00Z err\n", true));
      const text = await readFile(file, "utf8");
      expect(text.split("\n")).toEqual([
        expect.stringMatching(/^# the run's stdout, stderr and the runtime's own lines/),
        expect.stringMatching(/^# \(to the second/),
        expect.stringMatching(/^# stderr was \d+ bytes: its middle was cut/),
        "2026-01-01T00:00:00Z stderr  err",
        "2026-01-01T00:00:01Z stdout  out",
        "",
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
