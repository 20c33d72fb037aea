import { describe, expect, it } from "vitest";
import { compareCondaVersions } from "./conda-version.js";

/** conda's own documented order (conda.models.version.VersionOrder), lowest first; `==` pairs are equal. */
const CONDA_ORDER = [
  "0.4",
  "== 0.4.0",
  "0.4.1.rc",
  "== 0.4.1.RC",
  "0.4.1",
  "0.5a1",
  "0.5b3",
  "0.5C1",
  "0.5",
  "0.9.6",
  "0.960923",
  "1.0",
  "1.1dev1",
  "1.1_",
  "1.1a1",
  "1.1.0dev1",
  "== 1.1.dev1",
  "1.1.a1",
  "1.1.0rc1",
  "1.1.0",
  "== 1.1",
  "1.1.0post1",
  "== 1.1.post1",
  "1.1post1",
  "1996.07.12",
  "1!0.4.1",
  "1!3.1.1.6",
  "2!0.4.1",
];

describe("compareCondaVersions", () => {
  it("orders conda's documented list as conda does", () => {
    for (let i = 1; i < CONDA_ORDER.length; i++) {
      const equal = CONDA_ORDER[i]!.startsWith("== ");
      const b = CONDA_ORDER[i]!.replace("== ", "");
      const a = CONDA_ORDER[i - 1]!.replace("== ", "");
      expect(compareCondaVersions(a, b), `${a} vs ${b}`).toBe(equal ? 0 : -1);
      expect(compareCondaVersions(b, a), `${b} vs ${a}`).toBe(equal ? 0 : 1);
    }
  });

  it.each([
    ["1.10", "1.9", 1],
    ["2.0.0rc1", "2.0.0", -1],
    ["2.3.3", "3.0.3", -1],
    ["1.26.4", "1.26.4", 0],
    ["1.0.dev0", "1.0", -1],
    ["1.0.post1", "1.0", 1],
    ["1!1.0", "2024.10.1", 1],
    ["1.0+local.2", "1.0+local.10", -1],
    ["1.0+1", "1.0", 1],
    ["4.67.1", "4.67.1-1", -1],
    ["12.6", "12.6.0", 0],
  ])("%s against %s: %i", (a, b, order) => {
    expect(compareCondaVersions(a, b)).toBe(order);
  });

  it("refuses what conda refuses, naming the version and the rule", () => {
    expect(() => compareCondaVersions("", "1")).toThrow(/"" is not a conda version: it is empty/);
    expect(() => compareCondaVersions("1.0 beta", "1")).toThrow(/"1.0 beta" is not a conda version: only/);
    expect(() => compareCondaVersions("a!1.0", "1")).toThrow(/epoch \(before !\) must be a number/);
    expect(() => compareCondaVersions("1!2!3", "1")).toThrow(/more than one epoch/);
    expect(() => compareCondaVersions("1+a+b", "1")).toThrow(/more than one local-version/);
  });
});
