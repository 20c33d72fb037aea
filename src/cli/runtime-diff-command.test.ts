import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cliScratch, spawnCollected } from "../../test/support/cli.js";

/** The usage errors of `proctor runtime diff`, `diff-comment`, `record`, `record-published`; the workflows' emulated runs (test/workflows/package-diff.test.ts) cover the paths that work. */
const CLI = path.resolve("build/proctor.mjs");
const scratch = cliScratch("proctor-runtime-diff-");
const run = (...args: string[]) =>
  spawnCollected(process.execPath, [CLI, "runtime", ...args], { env: { GITHUB_TOKEN: "" } });

describe("proctor runtime diff and record: what they refuse", () => {
  it("diff names a bad flavour and a bad pull request number", async () => {
    const common = [
      "--base",
      scratch.dir,
      "--head-sha",
      "a".repeat(40),
      "--out",
      path.join(scratch.dir, "d.json"),
    ];
    const flavour = await run("diff", "--flavour", "tpu", "--pull-request", "1", ...common);
    expect(flavour.code).toBe(2);
    expect(flavour.stderr).toContain("--flavour must be cpu or gpu");
    const pr = await run("diff", "--flavour", "cpu", "--pull-request", "#1", ...common);
    expect(pr.stderr).toContain("--pull-request must be a pull request's number");
  });

  it("diff-comment wants owner/repo, an https run URL and the token", async () => {
    const common = ["--artifacts", scratch.dir, "--head-owner", "a", "--head-branch", "b", "--head-sha", "c"];
    const repo = await run("diff-comment", ...common, "--repository", "comp", "--run-url", "https://x/1");
    expect(repo.stderr).toContain("--repository must be owner/repo");
    const url = await run(
      "diff-comment",
      ...common,
      "--repository",
      "o/r",
      "--run-url",
      "javascript:alert(1)",
    );
    expect(url.stderr).toContain("--run-url must be an https URL");
    const token = await run("diff-comment", ...common, "--repository", "o/r", "--run-url", "https://x/1");
    expect(token.code).toBe(2);
    expect(token.stderr).toContain("GITHUB_TOKEN must be set");
  });

  it("record names the field it refuses; record-published refuses what record did not write", async () => {
    await mkdir(path.join(scratch.dir, "runtime", "lock"), { recursive: true });
    await writeFile(path.join(scratch.dir, "runtime", "lock", "cpu.conda-lock.yml"), "version: 1\n");
    const args = [
      "--flavour",
      "cpu",
      "--image",
      "org/rt:cpu-x",
      "--commit",
      "a".repeat(40),
      "--root",
      scratch.dir,
    ];
    const bad = await run("record", ...args, "--digest", "latest", "--out", path.join(scratch.dir, "r.json"));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--digest: must be sha256:<64 hex digits>");
    const good = await run(
      "record",
      ...args,
      "--digest",
      `sha256:${"1".repeat(64)}`,
      "--out",
      path.join(scratch.dir, "r.json"),
    );
    expect(good.code, good.stderr).toBe(0);
    // No runtime/models.yml there: no models image was published with it.
    expect(JSON.parse(await readFile(path.join(scratch.dir, "r.json"), "utf8")).models).toBeNull();
    const file = path.join(scratch.dir, "published.json");
    const added = await run("record-published", "--file", file, path.join(scratch.dir, "r.json"));
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(await readFile(file, "utf8")).images).toHaveLength(1);
    await writeFile(path.join(scratch.dir, "other.json"), "{}");
    const refused = await run("record-published", "--file", file, path.join(scratch.dir, "other.json"));
    expect(refused.stderr).toContain(
      "other.json is not an image record (make it with proctor runtime record)",
    );

    // With models in runtime/models.yml, the record names the models image published beside the runtime,
    // by the digest a score's modelsDigest carries.
    await writeFile(
      path.join(scratch.dir, "runtime", "models.yml"),
      `models:\n  - name: mini\n    licence: CC0-1.0\n    source: { url: https://example.org/m/ }\n` +
        `    files:\n      - { path: w.npy, sha256: ${"a".repeat(64)}, size: 1 }\n`,
    );
    const withModels = await run(
      "record",
      ...args,
      "--digest",
      `sha256:${"1".repeat(64)}`,
      "--out",
      path.join(scratch.dir, "m.json"),
    );
    expect(withModels.code, withModels.stderr).toBe(0);
    const { loadModels } = await import("../runtime/models.js");
    const digest = (await loadModels(path.join(scratch.dir, "runtime", "models.yml"))).digest;
    expect(JSON.parse(await readFile(path.join(scratch.dir, "m.json"), "utf8")).models).toEqual({
      digest: `sha256:${digest}`,
      image: `org/rt:models-${digest}`,
      files: 1,
    });
  });
});
