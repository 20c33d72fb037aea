import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { gzipSync } from "node:zlib";
import { extract } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectImageArchive } from "./image-archive.js";
import { loadableArchive } from "./image-loadable.js";
import { InvalidImageError } from "./image-rules.js";
import { hostileArchives } from "./test-support/hostile-archives.js";
import { imageArchive, imageItems, symlink, tarBytes } from "./test-support/image-tar.js";

const REF = "proctor-loaded/run-1:lease";
const VICTIM = "proctor/runtime:cpu-offline";
let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), "proctor-loadable-"));
});
afterAll(() => rm(work, { recursive: true, force: true }));

/** Every entry of the tar the engine would get: name, type, bytes. */
async function entriesOf(stream: Readable): Promise<{ name: string; type: string; data: Buffer }[]> {
  const out: { name: string; type: string; data: Buffer }[] = [];
  const tar = extract();
  // The tar ends with the stream, also when the stream fails.
  void pipeline(stream, tar).catch(() => undefined);
  for await (const entry of tar) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry as AsyncIterable<Buffer>) chunks.push(chunk);
    out.push({ name: entry.header.name, type: entry.header.type ?? "", data: Buffer.concat(chunks) });
  }
  return out;
}

async function written(bytes: Buffer, name: string): Promise<string> {
  const file = path.join(work, `${name.replace(/\W+/g, "-")}.tar`);
  await writeFile(file, bytes);
  return file;
}

describe("loadableArchive: the engine gets what was checked, under our name only", () => {
  const cases = hostileArchives(VICTIM);
  it("writes the config, the layers and a manifest.json of ours, nothing else", async () => {
    const file = await written(await imageArchive({ layout: "both", tags: [VICTIM] }), "both");
    const inspected = await inspectImageArchive(file);
    const archive = loadableArchive(file, inspected, REF);
    const entries = await entriesOf(archive.stream);
    expect(await archive.finish()).toBeUndefined();
    expect(entries.map((e) => e.name)).toEqual([
      ...[inspected.load.config, ...inspected.load.layers].sort((a, b) =>
        // In the archive's order: the layer blob comes first in imageItems.
        a === inspected.load.config ? 1 : b === inspected.load.config ? -1 : 0,
      ),
      "manifest.json",
    ]);
    expect(entries.every((e) => e.type === "file")).toBe(true);
    expect(JSON.parse(entries.at(-1)!.data.toString())).toEqual([
      { Config: inspected.load.config, RepoTags: [REF], Layers: inspected.load.layers },
    ]);
  });

  it("reads gzipped archives and follows a layer's link to the file that holds it", async () => {
    const items = await imageItems({ layout: "docker" });
    const manifest = JSON.parse(items.at(-1)!.data!.toString()) as { Layers: string[] }[];
    const layer = manifest[0]!.Layers[0]!;
    manifest[0]!.Layers = ["linked/layer.tar"];
    const bytes = gzipSync(
      await tarBytes([
        ...items.slice(0, -1),
        symlink("linked/layer.tar", `../${layer}`),
        { header: { name: "manifest.json", type: "file" }, data: Buffer.from(JSON.stringify(manifest)) },
      ]),
    );
    const file = await written(bytes, "linked.tar.gz");
    const inspected = await inspectImageArchive(file);
    expect(inspected.load.layers).toEqual([layer]);
    const archive = loadableArchive(file, inspected, REF);
    const entries = await entriesOf(archive.stream);
    expect(await archive.finish()).toBeUndefined();
    expect(entries.map((e) => e.name)).toContain(layer);
    expect(entries.map((e) => e.name)).not.toContain("linked/layer.tar");
  });

  it("fails, and says so, when a file changed after its inspection", async () => {
    const file = await written(await imageArchive({ layout: "docker" }), "changed");
    const inspected = await inspectImageArchive(file);
    const tampered = { ...inspected, configDigest: `sha256:${"0".repeat(64)}` };
    const archive = loadableArchive(file, tampered, REF);
    await entriesOf(archive.stream).catch(() => undefined);
    expect((await archive.finish())?.message).toMatch(/changed after it was checked/);
  });

  it("every hostile archive is refused, or loads with our tag alone", async () => {
    for (const { title, items } of await cases) {
      const file = await written(await tarBytes(items), title);
      let inspected;
      try {
        inspected = await inspectImageArchive(file);
      } catch (error) {
        expect(error, title).toBeInstanceOf(InvalidImageError);
        continue;
      }
      const archive = loadableArchive(file, inspected, REF);
      const entries = await entriesOf(archive.stream);
      expect(await archive.finish(), title).toBeUndefined();
      const names = entries.map((e) => e.name);
      expect(
        names.filter((n) => /manifest|index|repositories|oci-layout/i.test(n)),
        title,
      ).toEqual(["manifest.json"]);
      expect(names.at(-1), title).toBe("manifest.json");
      expect(
        entries.every((e) => e.type === "file"),
        title,
      ).toBe(true);
      const text = entries.at(-1)!.data.toString();
      expect(text, title).not.toContain(VICTIM);
      expect(JSON.parse(text)[0].RepoTags, title).toEqual([REF]);
    }
  });

  it("refuses what Docker would read another way, naming the rule", async () => {
    const outcome: Record<string, string> = {};
    for (const { title, items } of await cases) {
      const file = await written(await tarBytes(items), title);
      outcome[title] = await inspectImageArchive(file).then(
        () => "loads",
        (error: InvalidImageError) => error.rule,
      );
    }
    expect(outcome).toEqual({
      "the archive's own RepoTags": "loads",
      "manifest.json named .//manifest.json": "loads",
      "manifest.json named ./manifest.json": "loads",
      "a ./ folder entry before the manifest": "loads",
      "a second key repotags beside an empty RepoTags": "duplicate_key",
      "a key RepoTagſ (Go folds ſ to s)": "loads",
      "a repositories file": "loads",
      "a second manifest, Manifest.json": "loads",
      "index.json naming the victim": "loads",
      "manifest.json a link to another file": "bad_manifest",
      "a folder link to the archive's root, then a manifest through it": "link_escape",
      "manifest.json twice": "duplicate_entry",
      "a manifest through ..": "parent_segment",
    });
  });
});
