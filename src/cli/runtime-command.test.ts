import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cliScratch, spawnCollected } from "../../test/support/cli.js";

/** `proctor runtime check-lock` on a repository laid out like this one, with the lock check's fixtures. */
const CLI = path.resolve("build/proctor.mjs");
const FIXTURES = path.resolve("src/runtime/test-support/locks");
const scratch = cliScratch("proctor-check-lock-");

async function repository(name: string, edit?: (gpuLock: string) => string): Promise<string> {
  const root = path.join(scratch.dir, name);
  await mkdir(path.join(root, "runtime", "lock"), { recursive: true });
  for (const flavour of ["cpu", "gpu"]) {
    await cp(
      path.join(FIXTURES, `environment-${flavour}.yml`),
      path.join(root, `environment-${flavour}.yml`),
    );
    const lock = await readFile(path.join(FIXTURES, `${flavour}.conda-lock.yml`), "utf8");
    await writeFile(
      path.join(root, "runtime", "lock", `${flavour}.conda-lock.yml`),
      flavour === "gpu" && edit ? edit(lock) : lock,
    );
  }
  return root;
}

describe("proctor runtime check-lock", () => {
  it("passes locks that satisfy their environment files and agree, saying what it checked", async () => {
    const r = await spawnCollected(process.execPath, [
      CLI,
      "runtime",
      "check-lock",
      "--root",
      await repository("ok"),
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/cpu\.conda-lock\.yml: 7 linux-64 packages; satisfies .*environment-cpu\.yml/);
    expect(r.stdout).toContain("the CPU and GPU locks agree on the packages they share");
  });

  it("fails (exit 2) a drifted or missing lock, each line naming the rule and make lock", async () => {
    const drifted = await repository("drift", (lock) =>
      lock.replace(/(name: numpy\n\s+version: )2\.2\.6/, "$12.2.5"),
    );
    const r = await spawnCollected(process.execPath, [CLI, "runtime", "check-lock", "--root", drifted]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(
      /^FAIL \[spec_not_met\] .*gpu\.conda-lock\.yml locks numpy 2\.2\.5.*make lock FLAVOUR=gpu/m,
    );
    expect(r.stdout).toMatch(/^FAIL \[cpu_gpu_drift\] numpy is 2\.2\.6 in .* but 2\.2\.5 in /m);

    const unlocked = path.join(scratch.dir, "unlocked");
    await mkdir(unlocked);
    await cp(path.join(FIXTURES, "environment-cpu.yml"), path.join(unlocked, "environment-cpu.yml"));
    const missing = await spawnCollected(process.execPath, [
      CLI,
      "runtime",
      "check-lock",
      "--root",
      unlocked,
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toMatch(
      /^FAIL \[lock_missing\] .*cpu\.conda-lock\.yml is missing; run `make lock FLAVOUR=cpu`/m,
    );
    expect(missing.stdout).toMatch(/environment-gpu\.yml does not exist: no gpu lock to check/);
  });
});
