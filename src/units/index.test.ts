import { describe, expect, it } from "vitest";
import { UnitError, formatBytes, formatDuration, parseDuration, parseSize } from "./index.js";

describe("parseDuration", () => {
  it.each([
    ["90s", 90_000],
    ["30m", 1_800_000],
    ["1h30m", 5_400_000],
    ["250ms", 250],
    ["2", 2000],
    ["1.5s", 1500],
  ])("%s → %d ms", (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(["", "abc", "10x", "-5s", "0s", "5s junk", "m"])("refuses %j with the expected form", (text) => {
    expect(() => parseDuration(text, "--time-limit")).toThrow(UnitError);
    expect(() => parseDuration(text, "--time-limit")).toThrow(/--time-limit .* like 90s, 30m/);
  });
});

describe("parseSize", () => {
  it.each([
    ["512m", 512 * 1024 ** 2],
    ["8g", 8 * 1024 ** 3],
    ["1.5GiB", 1.5 * 1024 ** 3],
    ["100KB", 100 * 1024],
    ["4096", 4096],
  ])("%s → %d bytes", (text, bytes) => expect(parseSize(text)).toBe(bytes));

  it.each(["", "lots", "8x", "-1g", "0"])("refuses %j", (text) => {
    expect(() => parseSize(text, "--memory")).toThrow(/--memory .* like 512m, 8g/);
  });
});

describe("formatting", () => {
  it("formats bytes and durations for people", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatDuration(250)).toBe("250ms");
    expect(formatDuration(12_340)).toBe("12.3s");
    expect(formatDuration(125_000)).toBe("2m5s");
    expect(formatDuration(119_600)).toBe("2m0s"); // not 1m60s
    expect(formatDuration(59_970)).toBe("1m0s"); // not 60.0s
    expect(formatDuration(90 * 60_000)).toBe("1h30m");
    expect(formatDuration(3 * 86_400_000 + 5 * 3_600_000 + 59_000)).toBe("3d5h"); // an age, not 4625m59s
  });
});
