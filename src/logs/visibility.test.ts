import { describe, expect, it } from "vitest";
import { visibleLines, visibleLog } from "./visibility.js";

describe("visibleLines", () => {
  it("keeps all, the last n, or none", () => {
    const lines = ["a", "b", "c"];
    expect(visibleLines(lines, "full", 2)).toEqual(["a", "b", "c"]);
    expect(visibleLines(lines, "tail", 2)).toEqual(["b", "c"]);
    expect(visibleLines(lines, "tail", 5)).toEqual(["a", "b", "c"]);
    expect(visibleLines(lines, "none", 2)).toEqual([]);
  });
});

describe("visibleLog", () => {
  it("shows the text whole, its last lines (a final newline is no line), or nothing", () => {
    expect(visibleLog("a\nb\nc\n", { visibility: "full", tailLines: 2 })).toBe("a\nb\nc\n");
    expect(visibleLog("a\nb\nc\n", { visibility: "tail", tailLines: 2 })).toBe("b\nc");
    expect(visibleLog("a\nb\nc\n", { visibility: "none", tailLines: 2 })).toBe("");
    expect(visibleLog(null, { visibility: "full", tailLines: 2 })).toBe("");
    expect(visibleLog("", { visibility: "tail", tailLines: 2 })).toBe("");
  });

  it("keeps the last maxBytes, cut at a character boundary and marked", () => {
    expect(visibleLog("héllo", { visibility: "full", tailLines: 1, maxBytes: 10 })).toBe("héllo");
    expect(visibleLog("aaé", { visibility: "full", tailLines: 1, maxBytes: 1 })).toBe(
      "[… 4 earlier bytes not shown]\n",
    );
    expect(visibleLog("one\ntwo\nthree", { visibility: "tail", tailLines: 2, maxBytes: 5 })).toBe(
      "[… 4 earlier bytes not shown]\nthree",
    );
  });
});
