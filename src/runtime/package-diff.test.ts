import { describe, expect, it } from "vitest";
import { parseEnvironment } from "./environment.js";
import { parseCondaLock, type CondaLock } from "./lock.js";
import {
  acknowledgedDowngrades,
  askedFor,
  diffLocks,
  diffPackages,
  packageDiffReportSchema,
  unaskedDowngrades,
} from "./package-diff.js";

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

/** A conda-lock file of `packages` ([name, version, build?]) on linux-64, plus one osx-64 package. */
function lock(packages: [string, string, string?][], manager: "conda" | "pip" = "conda"): CondaLock {
  const entry = ([name, version, build = "h0_0"]: [string, string, string?], platform = "linux-64") =>
    [
      `  - name: ${name}`,
      `    version: "${version}"`,
      `    manager: ${manager}`,
      `    platform: ${platform}`,
      `    url: https://conda.anaconda.org/conda-forge/${platform}/${name}-${version}-${build}.conda`,
      `    hash: { sha256: "00" }`,
    ].join("\n");
  const text = [
    "version: 1",
    "metadata: { channels: [{ url: conda-forge }], platforms: [linux-64, osx-64] }",
    "package:",
    ...packages.map((p) => entry(p)),
    entry(["osx-only", "1.0"], "osx-64"),
  ].join("\n");
  return parseCondaLock(text, "test.conda-lock.yml");
}

describe("diffLocks", () => {
  const published = lock([
    ["pandas", "3.0.3"],
    ["numpy", "1.9.0"],
    ["scipy", "1.15.2"],
    ["loguru", "0.7.2"],
    ["pytorch", "2.6.0", "cpu_h1"],
    ["tzdata", "2025b"],
  ]);
  const pr = lock([
    ["pandas", "2.3.3"],
    ["numpy", "1.10.0"],
    ["scipy", "1.15.2"],
    ["lightgbm", "4.6.0"],
    ["pytorch", "2.6.0", "cpu_h2"],
    ["tzdata", "2025a"],
  ]);

  it("tells downgrades from upgrades in conda's order, downgrades and removals first", () => {
    expect(diffLocks(published, pr)).toEqual({
      changes: [
        { name: "pandas", source: "conda", kind: "downgraded", before: "3.0.3", after: "2.3.3" },
        { name: "tzdata", source: "conda", kind: "downgraded", before: "2025b", after: "2025a" },
        { name: "loguru", source: "conda", kind: "removed", before: "0.7.2" },
        { name: "numpy", source: "conda", kind: "upgraded", before: "1.9.0", after: "1.10.0" },
        { name: "lightgbm", source: "conda", kind: "added", after: "4.6.0" },
        { name: "pytorch", source: "conda", kind: "rebuilt", before: "2.6.0 cpu_h1", after: "2.6.0 cpu_h2" },
      ],
      unchanged: 1,
    });
  });

  it("compares only the runtime's platform, and lists everything as added without a published lock", () => {
    expect(diffLocks(pr, pr)).toEqual({ changes: [], unchanged: 6 });
    const first = diffLocks(null, pr);
    expect(first.changes.map((c) => c.kind)).toEqual(Array(6).fill("added"));
  });

  it("keeps pip and conda packages of one name apart", () => {
    const pip = lock([["pandas", "3.0.3"]], "pip");
    const { changes } = diffLocks(pip, lock([["pandas", "2.3.3"]]));
    expect(changes.map((c) => `${c.kind} ${c.source}`)).toEqual(["removed pip", "added conda"]);
  });
});

describe("downgrades nobody asked for", () => {
  const { changes } = diffLocks(
    lock([
      ["pandas", "3.0.3"],
      ["numpy", "2.2.6"],
      ["scipy", "1.15.2"],
    ]),
    lock([
      ["pandas", "2.3.3"],
      ["numpy", "2.2.5"],
      ["scipy", "1.14.1"],
    ]),
  );

  it("are the downgrades of packages whose line the PR did not add or change", () => {
    const before = parseEnvironment(env("  - numpy=2.2.6\n  - lightgbm=4.5.0\n"), "a.yml").packages;
    const after = parseEnvironment(
      env("  - numpy=2.2.5\n  - lightgbm=4.6.0\n  - Catboost=1.2.7\n"),
      "b.yml",
    ).packages;
    const asked = askedFor(before, after);
    expect([...asked].sort()).toEqual(["catboost", "lightgbm", "numpy"]);
    expect(unaskedDowngrades(changes, asked, "")).toEqual({
      unacknowledged: ["pandas", "scipy"],
      acknowledged: [],
    });
  });

  it("are acknowledged by `allow-downgrade: <name>` lines of the description, case ignored", () => {
    const description =
      "Adds lightgbm.\r\n\r\nallow-downgrade: Pandas\n  ALLOW-DOWNGRADE:  tzdata, scipy\nallow-downgrades: numpy";
    expect([...acknowledgedDowngrades(description)]).toEqual(["pandas", "tzdata", "scipy"]);
    expect(unaskedDowngrades(changes, new Set(), description)).toEqual({
      unacknowledged: ["numpy"],
      acknowledged: ["pandas", "scipy"],
    });
    // A mention elsewhere in a line acknowledges nothing.
    expect(acknowledgedDowngrades("please allow-downgrade: pandas").size).toBe(0);
  });
});

describe("packageDiffReportSchema", () => {
  const good = {
    format: "proctor-package-diff/1",
    flavour: "cpu",
    pullRequest: 7,
    headSha: "a".repeat(40),
    basePublished: true,
    baseMissing: false,
    changes: [{ name: "pandas", source: "conda", kind: "downgraded", before: "3.0.3", after: "2.3.3" }],
    unchanged: 3,
    size: { published: 100, built: null },
    unacknowledged: ["pandas"],
    acknowledged: [],
  };

  it("takes a report as the PR's run writes it", () => {
    expect(packageDiffReportSchema.parse(good)).toEqual(good);
  });

  it.each([
    ["Markdown in a name", { changes: [{ ...good.changes[0], name: "[x](https://evil)" }] }],
    ["HTML in a version", { changes: [{ ...good.changes[0], after: "<img src=x>" }] }],
    ["an expression in a name", { unacknowledged: ["${{ secrets.X }}"] }],
    ["a line break in a version", { changes: [{ ...good.changes[0], before: "1.0\n## owned" }] }],
    ["an unknown field", { comment: "hello" }],
    ["a short SHA", { headSha: "abc" }],
    ["a PR number that is not one", { pullRequest: -1 }],
  ])("refuses %s", (_what, change) => {
    expect(packageDiffReportSchema.safeParse({ ...good, ...change }).success).toBe(false);
  });
});
