import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { YamlConfigError } from "../yaml/index.js";
import { readEnvironment } from "./environment.js";
import {
  checkLock,
  compareVersions,
  lockDrift,
  parseCondaLock,
  readCondaLock,
  satisfies,
  topLevel,
} from "./lock.js";

/** Fixture locks (test-support/locks): a CPU and a GPU environment file, each with a lock that satisfies it. */
const dir = path.join(import.meta.dirname, "test-support", "locks");
const fixture = (name: string) => path.join(dir, name);
const text = (name: string) => readFileSync(fixture(name), "utf8");
const env = (flavour: "cpu" | "gpu") => readEnvironment(fixture(`environment-${flavour}.yml`));
/** A fixture lock with its text edited (each edit must apply). */
function edited(name: string, ...edits: [string | RegExp, string][]) {
  let body = text(name);
  for (const [from, to] of edits) {
    const next = body.replace(from, to);
    expect(next, `edit ${String(from)}`).not.toBe(body);
    body = next;
  }
  return parseCondaLock(body, name);
}
const rules = (issues: { rule: string }[]) => issues.map((i) => i.rule);

describe("checkLock", () => {
  it("passes the fixture locks: every spec met, nothing extra at top level, conda-forge only", async () => {
    expect(checkLock(await env("cpu"), await readCondaLock(fixture("cpu.conda-lock.yml")), "cpu")).toEqual(
      [],
    );
    expect(checkLock(await env("gpu"), await readCondaLock(fixture("gpu.conda-lock.yml")), "gpu")).toEqual(
      [],
    );
  });

  it("fails a lock whose version does not meet the spec, naming both and make lock", async () => {
    const lock = edited("cpu.conda-lock.yml", [/(name: numpy\n\s+version: )2\.2\.6/, "$12.2.5"]);
    const issues = checkLock(await env("cpu"), lock, "cpu");
    expect(rules(issues)).toEqual(["spec_not_met"]);
    expect(issues[0]!.message).toMatch(
      /cpu\.conda-lock\.yml locks numpy 2\.2\.5, but .*environment-cpu\.yml asks for numpy=2\.2\.6; run `make lock FLAVOUR=cpu`/,
    );
  });

  it("fails a spec the lock lacks (a package added to the file, not locked)", async () => {
    const environment = await env("cpu");
    environment.packages.push({
      ...environment.packages[1]!,
      name: "scipy",
      spec: "scipy=1.15.2",
      version: "1.15.2",
      key: "dependencies[9]",
    });
    const issues = checkLock(environment, await readCondaLock(fixture("cpu.conda-lock.yml")), "cpu");
    expect(rules(issues)).toEqual(["spec_not_locked"]);
    expect(issues[0]!.message).toMatch(
      /scipy=1\.15\.2 \(.*environment-cpu\.yml dependencies\[9\]\) is not in/,
    );
  });

  it("fails a package at top level that the file does not ask for (a package removed from the file, still locked)", async () => {
    const environment = await env("cpu");
    environment.packages = environment.packages.filter((p) => p.name !== "pytorch-cpu");
    const issues = checkLock(environment, await readCondaLock(fixture("cpu.conda-lock.yml")), "cpu");
    expect(rules(issues)).toEqual(["extra_top_level"]);
    expect(issues[0]!.message).toContain("has pytorch-cpu 2.6.0 at top level (nothing else needs it)");
  });

  it("fails a URL from a channel the file does not list, and a solve with a foreign channel", async () => {
    const lock = edited(
      "cpu.conda-lock.yml",
      [
        "https://conda.anaconda.org/conda-forge/linux-64/numpy",
        "https://repo.example.org/evil/linux-64/numpy",
      ],
      [/(\n(\s*)- url: conda-forge\n\s+used_env_vars: \[\])/, "$1\n$2- url: https://repo.example.org/evil"],
    );
    const issues = checkLock(await env("cpu"), lock, "cpu");
    expect(rules(issues)).toEqual(["foreign_channel", "foreign_channel"]);
    expect(issues[0]!.message).toMatch(
      /takes numpy 2\.2\.6 from https:\/\/repo\.example\.org\/evil\/.*not one of the channels of .*\(conda-forge\)/,
    );
    expect(issues[1]!.message).toContain("was solved with the channel https://repo.example.org/evil");
  });

  it("fails a package without a checksum, and a lock without the runtime's platform", async () => {
    const noHash = edited("cpu.conda-lock.yml", [
      /(name: numpy[\s\S]*?)hash:\n\s+md5: \w+\n\s+sha256: \w+/,
      "$1hash: {}",
    ]);
    expect(rules(checkLock(await env("cpu"), noHash, "cpu"))).toEqual(["no_checksum"]);
    const osx = edited("cpu.conda-lock.yml", [/platforms:\n(\s+)- linux-64/, "platforms:\n$1- osx-arm64"]);
    const issues = checkLock(await env("cpu"), osx, "cpu");
    expect(rules(issues)).toEqual(["wrong_platform"]);
    expect(issues[0]!.message).toContain("has no linux-64 packages (it locks osx-arm64)");
  });

  it("matches conda's fuzzy `=` (cuda-version=12.6 takes 12.6 and 12.6.x), build strings and constraints", async () => {
    const environment = await env("gpu");
    const lock = await readCondaLock(fixture("gpu.conda-lock.yml"));
    const withBuild = {
      ...environment,
      packages: environment.packages.map((p) => (p.name === "pytorch" ? { ...p, build: "cuda126*" } : p)),
    };
    expect(checkLock(withBuild, lock, "gpu")).toEqual([]);
    const cpuBuild = {
      ...environment,
      packages: environment.packages.map((p) => (p.name === "pytorch" ? { ...p, build: "cpu*" } : p)),
    };
    expect(checkLock(cpuBuild, lock, "gpu")[0]!.message).toMatch(
      /locks pytorch 2\.6\.0 build cuda126_generic/,
    );
    expect(satisfies("1.15.2", ">=1.10,<2")).toBe(true);
    expect(satisfies("2.0.0", ">=1.10,<2")).toBe(false);
    expect(satisfies("1.2.3", "1.2.*")).toBe(true);
    expect(compareVersions("1.10", "1.9")).toBe(1);
  });

  it("refuses a file that is not a conda-lock v1 file, at its line", () => {
    expect(() => parseCondaLock("version: 2\nmetadata: {}\npackage: []\n", "x.conda-lock.yml")).toThrow(
      YamlConfigError,
    );
    expect(() =>
      parseCondaLock(
        "version: 1\nmetadata: {channels: [], platforms: [linux-64]}\npackage:\n- name: numpy\n",
        "x.yml",
      ),
    ).toThrow(/x\.yml:4:3: package\[0\]/);
  });
});

describe("lockDrift", () => {
  it("passes CPU and GPU locks that agree (the GPU bits and what only they pull in aside)", async () => {
    const [cpu, gpu] = await Promise.all([
      readCondaLock(fixture("cpu.conda-lock.yml")),
      readCondaLock(fixture("gpu.conda-lock.yml")),
    ]);
    expect(lockDrift(cpu, gpu)).toEqual([]);
  });

  it("fails a package the two locks hold at different versions, saying how to align them", async () => {
    const cpu = await readCondaLock(fixture("cpu.conda-lock.yml"));
    const gpu = edited("gpu.conda-lock.yml", [/(name: numpy\n\s+version: )2\.2\.6/, "$12.2.5"]);
    const issues = lockDrift(cpu, gpu);
    expect(rules(issues)).toEqual(["cpu_gpu_drift"]);
    expect(issues[0]!.message).toMatch(
      /numpy is 2\.2\.6 in .*cpu\.conda-lock\.yml but 2\.2\.5 in .*gpu\.conda-lock\.yml: pin it in both/,
    );
  });

  it("lets a GPU-only package differ (cuda-version in both at two versions is not drift)", async () => {
    const cpu = edited("cpu.conda-lock.yml", [
      /^package:\n(\s*)- /m,
      "package:\n$1- name: cuda-version\n$1  version: '11.8'\n$1  manager: conda\n$1  platform: linux-64\n$1  url: https://conda.anaconda.org/conda-forge/noarch/cuda-version-11.8-0.conda\n$1  hash: {md5: abc}\n$1- ",
    ]);
    expect(lockDrift(cpu, await readCondaLock(fixture("gpu.conda-lock.yml")))).toEqual([]);
  });
});

describe("topLevel", () => {
  it("is what nothing else depends on", async () => {
    const lock = await readCondaLock(fixture("gpu.conda-lock.yml"));
    expect(
      topLevel(lock.package)
        .map((p) => p.name)
        .sort(),
    ).toEqual(["pytorch-gpu"]);
  });
});
