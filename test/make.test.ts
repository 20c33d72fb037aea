import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
let dir: string;

/** The participant's side of the repository in a temp folder, with the CLI this checkout built. */
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-make-"));
  for (const item of ["Makefile", "data", "example_submission", "submission_format"])
    await cp(item, path.join(dir, item), { recursive: true });
  for (const item of ["build", "scripts", "node_modules"])
    await symlink(path.resolve(item), path.join(dir, item));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function make(target: string) {
  // -o: the CLI is built already (the pretest build); make must not rebuild it here.
  return run("make", ["-s", "-o", "build/proctor.mjs", target], { cwd: dir }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

describe("make", () => {
  it("test-submission names a misspelt key of competition.yml, its line and the likely fix, and stops", async () => {
    const text = await readFile("competition.yml", "utf8");
    await writeFile(path.join(dir, "competition.yml"), text.replace(/^ {2}memory: /m, "  memroy: "));
    const result = await make("test-submission");
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(
      /competition\.yml:\d+:\d+: limits\.memroy is not a known key \(did you mean "memory"\?\)/,
    );
    expect(result.stderr).not.toMatch(/cannot be pulled/);
  });
});
