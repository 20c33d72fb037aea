import { execFile, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { offlineImage } from "./test-support/offline-image.js";

/**
 * The offline flavour's lock (runtime/lock/offline.lock, scripts/offline-lock.sh): the image holds exactly
 * the locked packages, and the script refuses a tree, a mirror or an environment file the lock does not fit,
 * naming `make lock FLAVOUR=offline`.
 */
const exec = promisify(execFile);
const root = path.join(import.meta.dirname, "..", "..");
const lockFile = path.join(root, "runtime", "lock", "offline.lock");
const locked = readFileSync(lockFile, "utf8")
  .split("\n")
  .filter((line) => line !== "" && !line.startsWith("#"))
  .map((line) => line.split("\t"));
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "proctor-offline-lock-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(args: string[], lock = lockFile) {
  return spawnSync("bash", [path.join(root, "scripts", "offline-lock.sh"), ...args], {
    env: { ...process.env, OFFLINE_LOCK: lock },
    encoding: "utf8",
  });
}

describe("runtime/lock/offline.lock", () => {
  it("locks every package with its version, architecture, the .deb's SHA256 and its file on the mirror", () => {
    expect(locked.length).toBeGreaterThan(100);
    for (const fields of locked) {
      expect(fields, fields[0]).toHaveLength(5);
      expect(fields[3], fields[0]).toMatch(/^[0-9a-f]{64}$/);
      expect(fields[4], fields[0]).toMatch(/^pool\/main\/.+\.deb$/);
    }
    expect(locked.map((f) => f[0])).toEqual(
      expect.arrayContaining(["python3-numpy", "python3-sklearn", "tzdata"]),
    );
  });

  it("is exactly what the offline image holds (dpkg-query -W)", async () => {
    const image = await offlineImage();
    const { stdout } = await exec("docker", [
      "run",
      "--rm",
      "--network",
      "none",
      "--entrypoint",
      "dpkg-query",
      image,
      "-W",
      "-f",
      "${Package}\t${Version}\t${Architecture}\n",
    ]);
    expect(stdout.trim().split("\n").sort()).toEqual(locked.map((f) => f.slice(0, 3).join("\t")).sort());
  }, 300_000);

  it("verify refuses a tree that lacks a locked package or holds another version, naming make lock", () => {
    const tree = path.join(dir, "tree");
    mkdirSync(path.join(tree, "var", "lib", "dpkg"), { recursive: true });
    const status = locked
      .slice(1)
      .map(([name, version, arch], i) =>
        [
          `Package: ${name}`,
          "Status: install ok installed",
          "Maintainer: t <t@t>",
          "Description: t",
          `Architecture: ${arch}`,
          `Version: ${i === 0 ? "0.0-tampered" : version}`,
        ].join("\n"),
      )
      .join("\n\n");
    writeFileSync(path.join(tree, "var", "lib", "dpkg", "status"), `${status}\n`);
    const r = script(["verify", tree]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`locked only: ${locked[0]!.slice(0, 3).join("\t")}`);
    expect(r.stderr).toContain(`installed only: ${locked[1]![0]}\t0.0-tampered`);
    expect(r.stderr).toMatch(/run `make lock FLAVOUR=offline`/);
  });

  it("check refuses a lock made for other packages than runtime/environment-offline.yml asks for", () => {
    const other = path.join(dir, "other.lock");
    writeFileSync(other, readFileSync(lockFile, "utf8").replace(/^# include\t.*$/m, "# include\tpython3"));
    const r = script(["check"], other);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /was made for "python3" but runtime\/environment-offline\.yml now asks for "ca-certificates tzdata python3 /,
    );
    expect(r.stderr).toContain("make lock FLAVOUR=offline");
  });

  // Resolves on Debian's mirror (debootstrap --print-debs, as root): the one test here that needs it.
  it("check says when the mirror has moved past the lock, naming each package and make lock", () => {
    const moved = path.join(dir, "moved.lock");
    const numpy = locked.find((f) => f[0] === "python3-numpy")!;
    writeFileSync(
      moved,
      readFileSync(lockFile, "utf8").replace(`python3-numpy\t${numpy[1]}`, "python3-numpy\t1:0.1-1"),
    );
    const r = script(["check"], moved);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toContain(`python3-numpy: locked 1:0.1-1, mirror ${numpy[1]}`);
    expect(r.stderr).toMatch(/has moved past .*moved\.lock/);
    expect(r.stderr).toContain("make lock FLAVOUR=offline");
  }, 300_000);
});
