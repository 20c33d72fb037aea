import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  downgradeFailures,
  makePackageDiffReport,
  MAX_REPORT_BYTES,
  PACKAGE_DIFF_MARKER,
  packageDiffComment,
  readPackageDiffReports,
} from "./package-diff-report.js";
import type { PackageDiffReport } from "./package-diff.js";
import { PUBLISHED_FORMAT, serializePublished, sha256File } from "./published.js";

const FIXTURES = path.resolve("src/runtime/test-support/locks");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-package-diff-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A repository with the fixture CPU environment and lock, edited. */
async function repository(
  name: string,
  edit: { lock?: (text: string) => string; env?: (text: string) => string; noLock?: boolean } = {},
): Promise<string> {
  const root = path.join(dir, name);
  await mkdir(path.join(root, "runtime", "lock"), { recursive: true });
  const env = await readFile(path.join(FIXTURES, "environment-cpu.yml"), "utf8");
  await writeFile(path.join(root, "environment-cpu.yml"), edit.env ? edit.env(env) : env);
  if (!edit.noLock) {
    const lock = await readFile(path.join(FIXTURES, "cpu.conda-lock.yml"), "utf8");
    await writeFile(
      path.join(root, "runtime", "lock", "cpu.conda-lock.yml"),
      edit.lock ? edit.lock(lock) : lock,
    );
  }
  return root;
}

/** The fixture lock with numpy at another version (its URL too, so the build stays the same). */
const numpyAt = (version: string) => (lock: string) =>
  lock
    .replace(/(name: numpy\n\s+version: )2\.2\.6/, `$1${version}`)
    .replaceAll("numpy-2.2.6-", `numpy-${version}-`);

const options = (root: string, baseRoot: string, description = "") => ({
  root,
  baseRoot,
  flavour: "cpu" as const,
  pullRequest: 12,
  headSha: "b".repeat(40),
  description,
  builtSize: 2_000_000_000,
});

describe("makePackageDiffReport", () => {
  it("flags a downgrade no environment-file line asked for, and compares with the published lock and size", async () => {
    const base = await repository("base-published");
    await writeFile(
      path.join(base, "runtime", "published.json"),
      serializePublished({
        format: PUBLISHED_FORMAT,
        images: [
          {
            flavour: "cpu",
            image: "org/runtime:cpu-" + "c".repeat(40),
            digest: `sha256:${"d".repeat(64)}`,
            commit: "c".repeat(40),
            publishedAt: "2026-01-02T03:04:05.000Z",
            sizeBytes: 1_900_000_000,
            lock: {
              path: "runtime/lock/cpu.conda-lock.yml",
              sha256: await sha256File(path.join(base, "runtime", "lock", "cpu.conda-lock.yml")),
            },
            sbom: null,
            signedWith: null,
          },
        ],
      }),
    );
    const pr = await repository("pr-downgrade", { lock: numpyAt("1.26.4") });
    const report = await makePackageDiffReport(options(pr, base));
    expect(report).toMatchObject({
      basePublished: true,
      baseMissing: false,
      changes: [{ name: "numpy", kind: "downgraded", before: "2.2.6", after: "1.26.4" }],
      size: { published: 1_900_000_000, built: 2_000_000_000 },
      unacknowledged: ["numpy"],
      acknowledged: [],
    });
    expect(downgradeFailures(report)[0]).toMatch(
      /^numpy is downgraded 2\.2\.6 → 1\.26\.4 \(cpu\) though no line .* add the line `allow-downgrade: numpy` to the pull request's description/,
    );

    const acknowledged = await makePackageDiffReport(
      options(pr, base, "Needs old numpy.\nallow-downgrade: numpy\n"),
    );
    expect(acknowledged).toMatchObject({ unacknowledged: [], acknowledged: ["numpy"] });
    expect(downgradeFailures(acknowledged)).toEqual([]);
  });

  it("takes a downgrade the PR's environment-file diff asks for", async () => {
    const base = await repository("base-asked");
    const pr = await repository("pr-asked", {
      lock: numpyAt("2.2.5"),
      env: (text) => text.replace("numpy=2.2.6", "numpy=2.2.5"),
    });
    const report = await makePackageDiffReport(options(pr, base));
    expect(report).toMatchObject({ basePublished: false, unacknowledged: [], acknowledged: [] });
    expect(report.changes.map((c) => c.kind)).toEqual(["downgraded"]);
  });

  it("lists everything as added when the base branch has no lock yet", async () => {
    const base = await repository("base-none", { noLock: true });
    const report = await makePackageDiffReport(options(await repository("pr-first"), base));
    expect(report.baseMissing).toBe(true);
    expect(report.changes.every((c) => c.kind === "added")).toBe(true);
    expect(report.size.published).toBeNull();
  });
});

const report = (over: Partial<PackageDiffReport> = {}): PackageDiffReport => ({
  format: "proctor-package-diff/1",
  flavour: "cpu",
  pullRequest: 12,
  headSha: "b".repeat(40),
  basePublished: true,
  baseMissing: false,
  changes: [
    { name: "pandas", source: "conda", kind: "downgraded", before: "3.0.3", after: "2.3.3" },
    { name: "loguru", source: "conda", kind: "removed", before: "0.7.2" },
    { name: "numpy", source: "conda", kind: "upgraded", before: "1.9", after: "1.10" },
    { name: "timm", source: "pip", kind: "added", after: "1.0.15" },
  ],
  unchanged: 40,
  size: { published: 2 * 1024 ** 3, built: 2.5 * 1024 ** 3 },
  unacknowledged: ["pandas"],
  acknowledged: [],
  ...over,
});

describe("packageDiffComment", () => {
  it("marks downgrades and removals first, names the failing ones and the size change", () => {
    const body = packageDiffComment(
      [report(), report({ flavour: "gpu", changes: [], unacknowledged: [] })],
      "https://github.com/org/c/actions/runs/9",
    );
    expect(body.startsWith(PACKAGE_DIFF_MARKER)).toBe(true);
    const rows = body.split("\n").filter((l) => l.startsWith("| ") && !/^\| (change|:---)/.test(l));
    expect(rows).toEqual([
      "| ⚠️ downgraded | `pandas` | `3.0.3` | `2.3.3` |",
      "| ⚠️ removed | `loguru` | `0.7.2` | — |",
      "| upgraded | `numpy` | `1.9` | `1.10` |",
      "| added | `timm` (pip) | — | `1.0.15` |",
    ]);
    expect(body).toContain("**❌ Downgrades nobody asked for** (they fail the check): `pandas`");
    expect(body).toContain("Image size: 2.0 GiB → 2.5 GiB (+512.0 MiB).");
    expect(body).toMatch(
      /### GPU\n\nCompared with the lock of the published image[\s\S]*No package differs \(40 unchanged\)/,
    );
  });

  it("stays under GitHub's comment limit, saying how many changes are left out", () => {
    const many = Array.from({ length: 3000 }, (_, i) => ({
      name: `package-${i}`,
      source: "conda" as const,
      kind: "added" as const,
      after: "1.0.0",
    }));
    const body = packageDiffComment([report({ changes: many, unacknowledged: [] })], "https://x");
    expect(body.length).toBeLessThan(65_536);
    expect(body).toMatch(
      /\d+ more changes are not shown here: the run's `package-diff-cpu` artifact has them all/,
    );
  });
});

describe("readPackageDiffReports (the artifact, as untrusted data)", () => {
  async function artifacts(name: string, files: Record<string, string | Buffer>): Promise<string> {
    const root = path.join(dir, "artifacts", name);
    for (const [file, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(root, file)), { recursive: true });
      await writeFile(path.join(root, file), content);
    }
    await mkdir(root, { recursive: true });
    return root;
  }
  const json = (r: unknown) => JSON.stringify(r);

  it("reads one report per flavour, sorted", async () => {
    const root = await artifacts("good", {
      "package-diff-gpu/package-diff.json": json(report({ flavour: "gpu" })),
      "package-diff-cpu/package-diff.json": json(report()),
    });
    expect((await readPackageDiffReports(root)).map((r) => r.flavour)).toEqual(["cpu", "gpu"]);
  });

  it.each([
    ["none", {}, /holds no package-diff\.json/],
    ["oversized", { "a/package-diff.json": Buffer.alloc(MAX_REPORT_BYTES + 1, 0x20) }, /over the 1\.0 MiB/],
    ["not JSON", { "a/package-diff.json": "{" }, /a\/package-diff\.json is not JSON/],
    [
      "Markdown and HTML in a name",
      { "a/package-diff.json": json(report({ unacknowledged: ["<img src=x onerror=alert(1)>"] })) },
      /is not a package diff: unacknowledged\.0/,
    ],
    [
      "an expression in a version",
      {
        "a/package-diff.json": json(
          report({ changes: [{ name: "x", source: "conda", kind: "added", after: "${{ secrets.TOKEN }}" }] }),
        ),
      },
      /changes\.0\.after must be a version/,
    ],
    [
      "an extra field",
      { "a/package-diff.json": json({ ...report(), body: "# hi" }) },
      /is not a package diff/,
    ],
    [
      "two PRs",
      {
        "a/package-diff.json": json(report()),
        "b/package-diff.json": json(report({ flavour: "gpu", pullRequest: 13 })),
      },
      /name different pull requests or commits/,
    ],
    [
      "one flavour twice",
      { "a/package-diff.json": json(report()), "b/package-diff.json": json(report()) },
      /same flavour/,
    ],
    [
      "too many",
      { "a/package-diff.json": json(report()), "b/package-diff.json": "1", "c/package-diff.json": "2" },
      /holds 3 package-diff\.json files/,
    ],
  ])("refuses %s", async (name, files, message) => {
    await expect(readPackageDiffReports(await artifacts(name, files))).rejects.toThrow(message);
  });

  it("refuses a link, whatever it points to", async () => {
    const root = await artifacts("link", { "target.json": json(report()) });
    await mkdir(path.join(root, "a"));
    await symlink(path.join(root, "target.json"), path.join(root, "a", "package-diff.json"));
    await expect(readPackageDiffReports(root)).rejects.toThrow(/a\/package-diff\.json is not a regular file/);
  });

  it("never repeats a refused value in its error", async () => {
    const root = await artifacts("quiet", {
      "a/package-diff.json": json(report({ unacknowledged: ["$(curl evil)"] })),
    });
    const error = await readPackageDiffReports(root).catch((e: Error) => e);
    expect(String(error)).not.toContain("curl");
  });
});
