import { execFile } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { resolveImage } from "../sandbox/index.js";
import { YamlConfigError } from "../yaml/index.js";
import { describeImportFailures, testImports } from "./image-tests.js";
import { offlineImage } from "./test-support/offline-image.js";

const exec = promisify(execFile);
let image: string;
let dir: string;

beforeAll(async () => {
  image = await offlineImage();
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-image-tests-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function envFile(name: string, deps: string[]): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `name: t\ndependencies:\n${deps.map((d) => `  - ${d}\n`).join("")}`);
  // Only we may read it: the test must not depend on the sandbox user reading our files.
  await chmod(file, 0o600);
  return file;
}

describe("the offline runtime image", () => {
  it("is built once and then found by the hash of its inputs; it runs as appuser with the entrypoint", async () => {
    const { stdout, stderr } = await exec("bash", ["scripts/build-offline-image.sh"], {
      env: { ...process.env, BASE_IMAGE: inject("baseImage"), IMAGE: image },
    });
    expect(stdout.trim().split("\n").pop()).toBe(image);
    expect(stderr).toContain("up to date");
    const resolved = await resolveImage(image);
    expect(resolved.user).toBe("appuser");
    expect(resolved.hasEntrypoint).toBe(true);
    const { stdout: labels } = await exec("docker", [
      "image",
      "inspect",
      "--format",
      "{{json .Config.Labels}}",
      image,
    ]);
    expect(JSON.parse(labels)).toMatchObject({
      "org.proctor.flavour": "offline",
      "org.proctor.inputs-hash": expect.stringMatching(/^[0-9a-f]{16}$/),
    });
  });
});

describe("testImports", () => {
  it("passes in the offline image with the image's own environment file", async () => {
    const report = await testImports(image, "runtime/environment-offline.yml");
    expect(report.problem).toBeNull();
    expect(report.ok).toBe(true);
    expect(report.run.status).toBe("succeeded");
    expect(report.python).toMatch(/^3\.11\./);
    expect(report.failed).toEqual([]);
    const byName = new Map(report.results.map((r) => [r.package, r]));
    expect(byName.get("scikit-learn")).toMatchObject({ module: "sklearn", ok: true, skipped: false });
    expect(byName.get("numpy")?.version).toMatch(/^\d+\.\d+/);
    expect(byName.get("python")).toMatchObject({ module: null, ok: true, skipped: true });
  });

  it("reports exactly the package that is not installed", async () => {
    const file = await envFile("with-lightgbm.yml", [
      "python=3.11",
      "numpy",
      "lightgbm=4.6.0",
      "scikit-learn",
      "pip:\n      - python-dateutil==2.8.2",
    ]);
    const report = await testImports(image, file);
    expect(report.problem).toBeNull();
    expect(report.ok).toBe(false);
    expect(report.run.status).toBe("failed");
    expect(report.failed.map((r) => r.package)).toEqual(["lightgbm"]);
    expect(report.failed[0]).toMatchObject({
      module: "lightgbm",
      ok: false,
      error: "ModuleNotFoundError: No module named 'lightgbm'",
    });
    expect(report.results.filter((r) => r.ok).map((r) => r.package)).toEqual([
      "python",
      "numpy",
      "scikit-learn",
      "python-dateutil",
    ]);
    expect(report.results.find((r) => r.package === "python-dateutil")).toMatchObject({
      source: "pip",
      module: "dateutil",
    });
    expect(describeImportFailures(report)).toEqual([
      "lightgbm (import lightgbm): ModuleNotFoundError: No module named 'lightgbm'",
    ]);
    expect(report.run.stdout.text).toContain("FAIL  lightgbm");
  });

  it("checks the environment file before starting anything", async () => {
    const file = await envFile("broken.yml", ["numpy", "pandas=>2"]);
    await expect(testImports(image, file)).rejects.toBeInstanceOf(YamlConfigError);
  });

  it("a missing image is a problem, not a failed import", async () => {
    const report = await testImports("proctor/no-such-image:nope", "runtime/environment-offline.yml");
    expect(report.ok).toBe(false);
    expect(report.run.status).toBe("infrastructure_error");
    expect(report.problem).toMatch(/not on this Docker engine/);
    expect(describeImportFailures(report)).toEqual([report.problem]);
  });
});
