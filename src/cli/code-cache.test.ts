import { chmod, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnCollected } from "../../test/support/cli.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-code-cache-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const LOADER = path.resolve("src/cli/code-cache.ts");

/** Loads `bundle` as the executable does, in a process of its own (the cache is written as it exits). */
async function load(bundle: string, cacheDir: string, name = "run") {
  const script = `import { requireWithCodeCache } from ${JSON.stringify(LOADER)};
const outcome = requireWithCodeCache(${JSON.stringify(bundle)}, ${JSON.stringify(cacheDir)}, ${JSON.stringify(name)});
console.log("outcome " + outcome);`;
  const ran = await spawnCollected(process.execPath, [
    "--import",
    "tsx",
    "--input-type=module",
    "-e",
    script,
  ]);
  expect(ran.stderr).toBe("");
  return ran.stdout.trim().split("\n");
}

describe("the CLI's code cache", () => {
  it("compiles once: later starts use the cache, and the bundle runs the same", async () => {
    const bundle = path.join(dir, "a.cjs");
    const cache = path.join(dir, "cache-a");
    await writeFile(
      bundle,
      `const add = (a, b) => a + b;\nconsole.log("sum " + add(2, 3), typeof require, __filename === ${JSON.stringify(bundle)});\n`,
    );
    expect(await load(bundle, cache)).toEqual(["sum 5 function true", "outcome miss"]);
    expect(await readdir(cache)).toHaveLength(1);
    expect(await load(bundle, cache)).toEqual(["sum 5 function true", "outcome hit"]);
    expect(await readdir(cache)).toHaveLength(1);
  });

  it("never runs an old cache for a rebuilt bundle, even one of the same length", async () => {
    const bundle = path.join(dir, "b.cjs");
    const cache = path.join(dir, "cache-b");
    await writeFile(bundle, `console.log("result " + (7 - 2));\n`);
    expect(await load(bundle, cache)).toEqual(["result 5", "outcome miss"]);
    // Same length, other code: V8 itself would only compare the lengths.
    await writeFile(bundle, `console.log("result " + (7 + 2));\n`);
    await utimes(bundle, new Date(), new Date(Date.now() + 5000));
    expect(await load(bundle, cache)).toEqual(["result 9", "outcome miss"]);
    expect(await load(bundle, cache)).toEqual(["result 9", "outcome hit"]);
    // The old bundle's cache went when the new one's was written.
    expect(await readdir(cache)).toHaveLength(1);
  });

  it("keeps one cache per command, and runs without one where it cannot write", async () => {
    const bundle = path.join(dir, "c.cjs");
    const cache = path.join(dir, "cache-c");
    await writeFile(bundle, `console.log("ok");\n`);
    await load(bundle, cache, "run");
    await load(bundle, cache, "score");
    expect((await readdir(cache)).map((name) => name.split("@")[0]).sort()).toEqual(["run", "score"]);

    const blocked = path.join(dir, "not-a-folder");
    await writeFile(blocked, "");
    await chmod(blocked, 0o444);
    expect(await load(bundle, path.join(blocked, "cache"))).toEqual(["ok", "outcome miss"]);
    expect(await load(bundle, path.join(blocked, "cache"))).toEqual(["ok", "outcome miss"]);
  });
});
