import { describe, expect, it } from "vitest";
import { parseEnvironment } from "./environment.js";
import { diffPackages, parseCondaList } from "./package-diff.js";

const env = (deps: string) => `name: t\nchannels:\n  - conda-forge\ndependencies:\n${deps}`;

describe("diffPackages", () => {
  it("lists added, removed and changed packages, sorted by name", () => {
    const before = [
      { name: "numpy", version: "2.2.5" },
      { name: "pandas", version: "2.2.3" },
      { name: "loguru", version: "0.7.2" },
      { name: "torch", source: "pip" as const, version: "2.5.0" },
      { name: "pytorch", version: "2.6.0", build: "cpu_mkl_py311_h1" },
    ];
    const after = [
      { name: "pandas", version: "2.2.3" },
      { name: "numpy", version: "2.2.6" },
      { name: "Torch", source: "pip" as const, version: "2.6.0" },
      { name: "lightgbm", version: "4.6.0" },
      { name: "catboost", version: "1.2.7" },
      { name: "pytorch", version: "2.6.0", build: "cpu_mkl_py311_h2" },
    ];
    expect(diffPackages(before, after)).toEqual({
      added: [
        { name: "catboost", version: "1.2.7" },
        { name: "lightgbm", version: "4.6.0" },
      ],
      removed: [{ name: "loguru", version: "0.7.2" }],
      changed: [
        { name: "numpy", source: "conda", before: "2.2.5", after: "2.2.6" },
        {
          name: "pytorch",
          source: "conda",
          before: "2.6.0 cpu_mkl_py311_h1",
          after: "2.6.0 cpu_mkl_py311_h2",
        },
        { name: "Torch", source: "pip", before: "2.5.0", after: "2.6.0" },
      ],
      unchanged: 1,
    });
  });

  it("compares environment files too: constraints, and pins becoming constraints", () => {
    const a = parseEnvironment(env("  - numpy=2.2.6\n  - scipy>=1.10\n  - tqdm\n"), "a.yml").packages;
    const b = parseEnvironment(env("  - numpy>=2\n  - scipy>=1.10\n  - tqdm=4.67.1\n"), "b.yml").packages;
    const diff = diffPackages(a, b);
    expect(diff.changed.map((c) => [c.name, c.before, c.after])).toEqual([
      ["numpy", "2.2.6", ">=2"],
      ["tqdm", "any", "4.67.1"],
    ]);
    expect(diff.unchanged).toBe(1);
  });

  it("is empty for the same list", () => {
    const list = [{ name: "numpy", version: "2.2.6" }];
    expect(diffPackages(list, list)).toEqual({ added: [], removed: [], changed: [], unchanged: 1 });
  });
});

describe("parseCondaList", () => {
  it("reads `micromamba list --json`, pip-installed ones included", () => {
    const json = JSON.stringify([
      {
        base_url: "https://conda.anaconda.org/conda-forge",
        build_number: 0,
        build_string: "py311h64a7726_0",
        channel: "conda-forge",
        dist_name: "numpy-2.2.6-py311h64a7726_0",
        name: "numpy",
        platform: "linux-64",
        version: "2.2.6",
      },
      {
        name: "tqdm",
        version: "4.67.1",
        build_string: "pyhd8ed1ab_1",
        channel: "https://conda.anaconda.org/conda-forge/noarch",
      },
      { name: "timm", version: "1.0.15", build_string: "pypi_0", channel: "pypi" },
    ]);
    expect(parseCondaList(json)).toEqual([
      { name: "numpy", source: "conda", version: "2.2.6", build: "py311h64a7726_0", channel: "conda-forge" },
      { name: "tqdm", source: "conda", version: "4.67.1", build: "pyhd8ed1ab_1", channel: "conda-forge" },
      { name: "timm", source: "pip", version: "1.0.15", build: "pypi_0", channel: "pypi" },
    ]);
  });

  it("says what is wrong with other input", () => {
    expect(() => parseCondaList("nope", "old.json")).toThrow(/old\.json is not JSON/);
    expect(() => parseCondaList("{}", "old.json")).toThrow(/must be a JSON array/);
    expect(() => parseCondaList('[{"name":"x"}]', "old.json")).toThrow(
      /old\.json\[0\] has no name and version/,
    );
  });
});
