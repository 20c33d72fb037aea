import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newSubmissionId } from "./secrets.js";
import { LocalDirectoryStorage, StorageNotFoundError } from "./storage.js";

let dir: string;
let storage: LocalDirectoryStorage;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-storage-"));
  storage = new LocalDirectoryStorage(path.join(dir, "zips"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("LocalDirectoryStorage", () => {
  it("keeps zips as <id>.zip with mode 0600 in a 0700 folder, and opens and removes them", async () => {
    const id = newSubmissionId();
    expect(await storage.put(id, Readable.from([Buffer.from("PK"), Buffer.from("data")]))).toEqual({
      bytes: 6,
    });
    const file = path.join(dir, "zips", `${id}.zip`);
    expect(await readFile(file, "utf8")).toBe("PKdata");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir, "zips"))).mode & 0o777).toBe(0o700);
    const opened = await storage.open(id);
    expect(opened.bytes).toBe(6);
    expect(await text(opened.stream)).toBe("PKdata");
    await storage.remove(id);
    await expect(storage.open(id)).rejects.toBeInstanceOf(StorageNotFoundError);
    await storage.remove(id); // nothing there: fine
  });

  it("keeps an image's model tarball beside it, opened on its own and removed with it", async () => {
    const id = newSubmissionId();
    await storage.put(id, Readable.from([Buffer.from("image")]));
    await expect(storage.open(id, "model")).rejects.toThrow(`no stored model for submission ${id}`);
    await storage.put(id, Readable.from([Buffer.from("weights")]), "model");
    expect(await readFile(path.join(dir, "zips", `${id}.model.tar`), "utf8")).toBe("weights");
    expect(await text((await storage.open(id, "model")).stream)).toBe("weights");
    expect(await text((await storage.open(id)).stream)).toBe("image");
    await storage.remove(id);
    expect((await readdir(path.join(dir, "zips"))).filter((name) => name.startsWith(id))).toEqual([]);
  });

  it("refuses keys that are not submission ids, so no path can be smuggled in", async () => {
    for (const key of ["../escape", "/etc/passwd", "sub-../../x", "", "a/b"]) {
      await expect(storage.put(key, Readable.from([]))).rejects.toThrow(/not a submission id/);
      expect(() => storage.localPath(key)).toThrow(RangeError);
      await expect(storage.remove(key)).rejects.toThrow(RangeError);
    }
    expect(await readdir(dir)).toEqual(["zips"]);
  });

  it("leaves nothing when the stream fails part way", async () => {
    const id = newSubmissionId();
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1024));
        this.destroy(new Error("client went away"));
      },
    });
    await expect(storage.put(id, failing)).rejects.toThrow("client went away");
    expect((await readdir(path.join(dir, "zips"))).filter((f) => f.startsWith(id))).toEqual([]);
  });

  it("never overwrites a partial file another upload is writing, and clears partials on request", async () => {
    const id = newSubmissionId();
    await writeFile(path.join(dir, "zips", `${id}.zip.partial`), "half");
    await expect(storage.put(id, Readable.from([Buffer.from("x")]))).rejects.toThrow(/EEXIST/);
    expect(await storage.removePartials()).toBeGreaterThanOrEqual(1);
    expect((await readdir(path.join(dir, "zips"))).filter((f) => f.endsWith(".partial"))).toEqual([]);
  });
});
