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

  it("keeps the pieces of a line the runtime split together, labelled as continued", () => {
    const stdout = log(
      "2026-01-01T00:00:01Z first 64 KiB\n2026-01-01T00:00:03Z+ the rest\n2026-01-01T00:00:04Z after\n",
    );
    // A later piece is never taken for proctor's own line, whatever it starts with.
    const stderr = log("2026-01-01T00:00:02Z warning\n2026-01-01T00:00:02Z+ [proctor] not ours\n");
    const merged = mergeLogs(stdout, stderr);
    expect(merged.map((l) => `${l.source}${l.continued ? "+" : ""}:${l.text}`)).toEqual([
      "stdout:first 64 KiB",
      "stdout+:the rest",
      "stderr:warning",
      "stderr+:[proctor] not ours",
      "stdout:after",
    ]);
    expect(formatLog(merged)).toBe(
      "2026-01-01T00:00:01Z stdout  first 64 KiB\n" +
        "2026-01-01T00:00:03Z stdout+ the rest\n" +
        "2026-01-01T00:00:02Z stderr  warning\n" +
        "2026-01-01T00:00:02Z stderr+ [proctor] not ours\n" +
        "2026-01-01T00:00:04Z stdout  after\n",
    );
  });

  it("reads the stamp of a line that holds carriage returns (a progress bar)", () => {
    const [line] = mergeLogs(log("2026-01-01T00:00:01Z 50%\r100%\n"), log(""));
    expect(line).toEqual({
      source: "stdout",
      stamp: "2026-01-01T00:00:01Z",
      text: "50%\r100%",
      continued: false,
    });
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

  it("says in the log file that long lines were split, where they were", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "proctor-runlog-"));
    try {
      const file = path.join(dir, "log.txt");
      await writeRunLog(file, log("2026-01-01T00:00:01Z a\n2026-01-01T00:00:01Z+ b\n"), log(""));
      expect((await readFile(file, "utf8")).split("\n").slice(2)).toEqual([
        "# lines longer than 64 KiB were split as they were printed: their later pieces are labelled stdout+ or stderr+",
        "2026-01-01T00:00:01Z stdout  a",
        "2026-01-01T00:00:01Z stdout+ b",
        "",
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
