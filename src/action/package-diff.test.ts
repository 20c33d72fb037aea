import { describe, expect, it } from "vitest";
import { packageDiffComment } from "./package-diff.js";

describe("package diff comment", () => {
  it("lists added, removed and changed packages in a table, escaping table syntax", () => {
    const body = packageDiffComment("cpu", "org/runtime:cpu-latest", {
      added: [{ name: "lightgbm", version: "4.5.0" }],
      removed: [{ name: "old|pkg", version: "1.0" }],
      changed: [{ name: "numpy", source: "conda", before: "1.26.4", after: "2.1.3" }],
      unchanged: 40,
    });
    expect(body).toContain("| lightgbm | — | 4.5.0 (added) |");
    expect(body).toContain("| old\\|pkg | 1.0 | — (removed) |");
    expect(body).toContain("| numpy | 1.26.4 | 2.1.3 |");
    expect(body).toContain("40 packages unchanged.");
  });

  it("says so when there is nothing to compare with", () => {
    expect(packageDiffComment("gpu", "org/runtime:gpu-latest", null)).toMatch(
      /No published image could be pulled/,
    );
  });
});
