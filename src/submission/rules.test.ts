import { describe, expect, it } from "vitest";
import { InvalidSubmissionError } from "./errors.js";
import { DEFAULT_ZIP_LIMITS, resolveLimits } from "./limits.js";
import { ArchiveRules, checkName, isJunk, refusalForReadError } from "./rules.js";

const ruleOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidSubmissionError) return error.rule;
    throw error;
  }
  return undefined;
};

describe("checkName", () => {
  it("accepts ordinary names and strips a folder's trailing slash", () => {
    expect(checkName("main.py")).toEqual({ path: "main.py", dirByName: false });
    expect(checkName("lib/")).toEqual({ path: "lib", dirByName: true });
    expect(checkName("a/b c/ünï.py")).toEqual({ path: "a/b c/ünï.py", dirByName: false });
    expect(checkName("..hidden/x..y")).toEqual({ path: "..hidden/x..y", dirByName: false });
  });

  it.each([
    ["../x", "parent_segment"],
    ["a/..", "parent_segment"],
    ["a/../", "parent_segment"],
    ["/x", "absolute_path"],
    ["//server/share", "absolute_path"],
    ["Z:/x", "absolute_path"],
    ["a\\b", "backslash"],
    ["\\x", "backslash"],
    ["", "bad_name"],
    [".", "bad_name"],
    ["./", "bad_name"],
    ["a/./b", "bad_name"],
    ["a//", "bad_name"],
    ["a\u0000", "control_char"],
    ["a\u001b[31m", "control_char"],
    ["a\u007f", "control_char"],
    ["a\u0085", "control_char"],
    [`${"x/".repeat(2100)}y`, "name_too_long"],
  ])("refuses %j: %s", (name, rule) => {
    expect(ruleOf(() => checkName(name))).toBe(rule);
  });
});

describe("isJunk", () => {
  it("knows macOS junk and nothing else", () => {
    expect(isJunk("__MACOSX")).toBe(true);
    expect(isJunk("__MACOSX/sub/._main.py")).toBe(true);
    expect(isJunk(".DS_Store")).toBe(true);
    expect(isJunk("sub/.DS_Store")).toBe(true);
    expect(isJunk("sub/__MACOSX/x")).toBe(false);
    expect(isJunk("DS_Store")).toBe(false);
    expect(isJunk("main.py")).toBe(false);
  });
});

describe("the streaming meter", () => {
  // Declared sizes are checked first; the meter holds the same caps against the bytes actually produced.
  const rules = new ArchiveRules(resolveLimits({ maxEntryBytes: 100, maxTotalBytes: 250 }), "s.zip", 1000);

  it("refuses an entry whose bytes pass the per-file cap, naming it", () => {
    const meter = rules.meter("a.bin");
    meter(60);
    expect(() => meter(41)).toThrow(expect.objectContaining({ rule: "entry_too_large", entry: "a.bin" }));
  });

  it("refuses when the bytes of all entries pass the total cap", () => {
    const b = rules.meter("b.bin");
    b(90);
    const c = rules.meter("c.bin");
    expect(() => c(70)).toThrow(expect.objectContaining({ rule: "total_too_large", entry: "c.bin" }));
  });
});

describe("refusalForReadError", () => {
  it("leaves platform errors (with a system code) alone", () => {
    const eio = Object.assign(new Error("i/o error"), { code: "EIO" });
    expect(refusalForReadError(eio, "s.zip", "x")).toBeUndefined();
  });

  it("maps zlib and yauzl errors to refusals naming the entry", () => {
    const zlib = Object.assign(new Error("invalid block type"), { code: "Z_DATA_ERROR" });
    expect(refusalForReadError(zlib, "s.zip", "x")).toMatchObject({ rule: "corrupt_zip", entry: "x" });
    const lie = new Error("too many bytes in the stream. expected 10. got at least 20");
    expect(refusalForReadError(lie, "s.zip", "x")).toMatchObject({ rule: "size_mismatch", entry: "x" });
  });
});

describe("resolveLimits", () => {
  it("merges overrides onto the defaults", () => {
    expect(resolveLimits({ maxEntries: 5 })).toEqual({ ...DEFAULT_ZIP_LIMITS, maxEntries: 5 });
    expect(resolveLimits()).toEqual(DEFAULT_ZIP_LIMITS);
  });

  it("rejects limits that are not positive numbers", () => {
    expect(() => resolveLimits({ maxTotalBytes: -1 })).toThrow(/maxTotalBytes/);
    expect(() => resolveLimits({ maxCompressionRatio: Number.NaN })).toThrow(RangeError);
  });
});
