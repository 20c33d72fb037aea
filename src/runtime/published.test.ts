import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addPublished,
  latestPublished,
  parsePublished,
  PUBLISHED_FORMAT,
  publishedByDigest,
  readPublished,
  serializePublished,
  type PublishedImage,
} from "./published.js";

const image = (flavour: "cpu" | "gpu", n: number, over: Partial<PublishedImage> = {}): PublishedImage => ({
  flavour,
  image: `org/runtime:${flavour}-${String(n).repeat(40)}`,
  digest: `sha256:${String(n).repeat(64)}`,
  commit: String(n).repeat(40),
  publishedAt: "2026-01-02T03:04:05.000Z",
  sizeBytes: 1000 * n,
  lock: { path: `runtime/lock/${flavour}.conda-lock.yml`, sha256: "a".repeat(64) },
  sbom: { path: `sbom/${flavour}.cdx.json`, sha256: "b".repeat(64) },
  signedWith: null,
  ...over,
});

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-published-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("runtime/published.json", () => {
  it("is empty before the first publish, and round-trips", async () => {
    const empty = await readPublished(path.join(dir, "missing.json"));
    expect(empty).toEqual({ format: PUBLISHED_FORMAT, images: [] });
    const record = addPublished(empty, [image("cpu", 1), image("gpu", 2)]);
    const file = path.join(dir, "published.json");
    await writeFile(file, serializePublished(record));
    expect(await readPublished(file)).toEqual(record);
  });

  it("keeps history, newest last; the newest of a flavour is the latest; a digest republished is replaced", () => {
    let record = addPublished({ format: PUBLISHED_FORMAT, images: [] }, [image("cpu", 1), image("gpu", 2)]);
    record = addPublished(record, [image("cpu", 3)]);
    expect(latestPublished(record, "cpu")?.commit).toBe("3".repeat(40));
    expect(latestPublished(record, "gpu")?.commit).toBe("2".repeat(40));
    record = addPublished(record, [image("cpu", 1, { signedWith: "cosign" })]);
    expect(record.images.map((i) => i.commit[0])).toEqual(["1", "2", "3"]);
    expect(publishedByDigest(record, `sha256:${"1".repeat(64)}`)[0]?.signedWith).toBe("cosign");
    expect(latestPublished({ format: PUBLISHED_FORMAT, images: [] }, "cpu")).toBeNull();
  });

  it("names the file, the broken field and the fix", () => {
    expect(() => parsePublished("{", "runtime/published.json")).toThrow(
      /runtime\/published\.json is not JSON .*restore it from git history/,
    );
    const bad = { format: PUBLISHED_FORMAT, images: [{ ...image("cpu", 1), digest: "latest" }] };
    expect(() => parsePublished(JSON.stringify(bad), "runtime/published.json")).toThrow(
      /images\.0\.digest: must be sha256:<64 hex digits>/,
    );
  });
});
