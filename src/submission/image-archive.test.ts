import { execFile } from "node:child_process";
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidSubmissionError } from "./errors.js";
import { inspectImageArchive, type InspectImageOptions } from "./image-archive.js";
import {
  InvalidImageError,
  checkBaseImage,
  checkTarName,
  symlinkEscapes,
  type ImageRule,
} from "./image-rules.js";
import { tempDir } from "./test-support/fixtures.js";
import {
  device,
  dir,
  file,
  hardlink,
  imageArchive,
  imageItems,
  sha256,
  symlink,
  tarBytes,
} from "./test-support/image-tar.js";

const exec = promisify(execFile);
let root: string;
let counter = 0;
beforeAll(async () => {
  root = await tempDir("proctor-image-");
});
afterAll(() => fsp.rm(root, { recursive: true, force: true }));

async function write(bytes: Buffer, name = `algorithm-${++counter}.tar`): Promise<string> {
  const path = join(root, name);
  await fsp.writeFile(path, bytes);
  return path;
}

async function refusal(
  bytes: Buffer,
  options?: InspectImageOptions,
  name?: string,
): Promise<InvalidImageError> {
  const path = await write(bytes, name);
  const error = await inspectImageArchive(path, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidImageError);
  return error as InvalidImageError;
}

describe("inspectImageArchive accepts", () => {
  it.each(["docker", "oci", "both"] as const)(
    "a %s layout and returns what the run needs",
    async (layout) => {
      const bytes = await imageArchive({ layout });
      const image = await inspectImageArchive(await write(bytes));
      expect(image.layout).toBe(layout === "both" ? "docker+oci" : layout);
      expect(image.sha256).toBe(sha256(bytes));
      expect(image.archiveBytes).toBe(bytes.length);
      expect(image.gzipped).toBe(false);
      expect(image.platform).toEqual({ os: "linux", architecture: "amd64" });
      expect(image.config).toEqual({
        entrypoint: ["/app/run.sh"],
        cmd: ["--fast"],
        user: "1000",
        workingDir: "/app",
        env: ["PATH=/usr/bin:/bin"],
        volumes: [],
      });
      expect(image.configDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(image.repoTags).toEqual([
        layout === "oci" ? "docker.io/library/algorithm:latest" : "algorithm:latest",
      ]);
      expect(image.layers).toHaveLength(1);
      const [layer] = image.layers;
      expect(layer).toMatchObject({ compression: "none", entries: 2 });
      expect(layer!.path).toBe(`blobs/sha256/${layer!.digest.slice("sha256:".length)}`);
      expect(layer!.uncompressedBytes).toBe(layer!.storedBytes);
      expect(image.uncompressedBytes).toBe(layer!.uncompressedBytes);
    },
  );

  it("gzipped layers and a gzipped archive (algorithm.tar.gz), with unset config keys as null or empty", async () => {
    const bytes = gzipSync(
      await imageArchive({
        gzipLayers: true,
        layers: [[file("a", "1")], [file("b", "2"), symlink("lib/x", "/usr/lib/x"), symlink("c/d", "../e")]],
        config: { config: { Cmd: ["python", "main.py"] } },
      }),
    );
    const image = await inspectImageArchive(await write(bytes, "algorithm.tar.gz"));
    expect(image.gzipped).toBe(true);
    expect(image.sha256).toBe(sha256(bytes));
    expect(image.layers.map((layer) => layer.compression)).toEqual(["gzip", "gzip"]);
    expect(image.layers[1]!.uncompressedBytes).toBeGreaterThan(image.layers[1]!.storedBytes);
    expect(image.config).toEqual({
      entrypoint: null,
      cmd: ["python", "main.py"],
      user: "",
      workingDir: "",
      env: [],
      volumes: [],
    });
  });

  it("an empty layer (two zero blocks, as Docker writes one) and a legacy <id>/layer.tar layout", async () => {
    const empty = Buffer.alloc(1024);
    const layer = await tarBytes([file("main.py", "print(1)\n")]);
    const config = Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: { Entrypoint: ["python", "/main.py"] },
        rootfs: { type: "layers", diff_ids: [`sha256:${sha256(empty)}`, `sha256:${sha256(layer)}`] },
      }),
    );
    const bytes = await tarBytes([
      dir("aaa/"),
      { header: { name: "aaa/layer.tar", type: "file" }, data: empty },
      file("aaa/VERSION", "1.0"),
      dir("bbb/"),
      { header: { name: "bbb/layer.tar", type: "file" }, data: layer },
      { header: { name: `${sha256(config)}.json`, type: "file" }, data: config },
      file(
        "manifest.json",
        JSON.stringify([
          { Config: `${sha256(config)}.json`, RepoTags: null, Layers: ["aaa/layer.tar", "bbb/layer.tar"] },
        ]),
      ),
      file("repositories", "{}"),
    ]);
    const image = await inspectImageArchive(await write(bytes));
    expect(image.layout).toBe("docker");
    expect(image.configDigest).toBe(`sha256:${sha256(config)}`);
    expect(image.repoTags).toEqual([]);
    expect(image.layers.map((l) => [l.path, l.entries])).toEqual([
      ["aaa/layer.tar", 0],
      ["bbb/layer.tar", 1],
    ]);
  });

  it("a layer saved twice, the second a symbolic link to the first (docker save before Docker 25)", async () => {
    const layer = await tarBytes([file("same", "1")]);
    const config = Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        rootfs: { type: "layers", diff_ids: [`sha256:${sha256(layer)}`, `sha256:${sha256(layer)}`] },
      }),
    );
    const bytes = await tarBytes([
      dir("aaa/"),
      { header: { name: "aaa/layer.tar", type: "file" }, data: layer },
      dir("bbb/"),
      symlink("bbb/layer.tar", "../aaa/layer.tar"),
      { header: { name: "c.json", type: "file" }, data: config },
      file(
        "manifest.json",
        JSON.stringify([{ Config: "c.json", Layers: ["aaa/layer.tar", "bbb/layer.tar"] }]),
      ),
    ]);
    const image = await inspectImageArchive(await write(bytes));
    expect(image.layers.map((l) => [l.path, l.diffId])).toEqual([
      ["aaa/layer.tar", `sha256:${sha256(layer)}`],
      ["bbb/layer.tar", `sha256:${sha256(layer)}`],
    ]);
  });

  it("another platform when the runner is configured for it", async () => {
    const bytes = await imageArchive({ config: { architecture: "arm64", variant: "v8" } });
    const image = await inspectImageArchive(await write(bytes), {
      platform: { os: "linux", architecture: "arm64", variant: "v8" },
    });
    expect(image.platform).toEqual({ os: "linux", architecture: "arm64", variant: "v8" });
  });
});

interface Case {
  title: string;
  rule: ImageRule;
  layer?: boolean;
  entry?: string;
  says?: string;
  archive: () => Promise<Buffer>;
  options?: InspectImageOptions;
}

const zeros = (bytes: number): Buffer => Buffer.alloc(bytes);

const cases: Case[] = [
  {
    title: "a file that is not a tar",
    rule: "not_an_archive",
    archive: async () => Buffer.from("PK\u0003\u0004 zip"),
  },
  {
    title: "a truncated archive",
    rule: "not_an_archive",
    archive: async () => (await imageArchive()).subarray(0, 1500),
  },
  {
    title: "a corrupt gzip",
    rule: "corrupt_archive",
    archive: async () => {
      const gz = gzipSync(await imageArchive());
      gz.fill(7, 20, 60);
      return gz;
    },
  },
  {
    title: "a tar with no manifest (a plain folder tarred)",
    rule: "no_manifest",
    archive: () => tarBytes([file("main.py", "print(1)")]),
  },
  {
    title: "two images",
    rule: "multiple_images",
    entry: "manifest.json",
    archive: () => imageArchive({ images: 2 }),
  },
  {
    title: "two images in an OCI index",
    rule: "multiple_images",
    entry: "index.json",
    archive: () => imageArchive({ images: 2, layout: "oci" }),
  },
  {
    title: "no image",
    rule: "no_image",
    archive: async () => tarBytes([file("manifest.json", "[]")]),
  },
  {
    title: "a manifest that is not JSON",
    rule: "bad_manifest",
    entry: "manifest.json",
    archive: () => tarBytes([file("manifest.json", "[not json")]),
  },
  {
    title: "index.json without oci-layout",
    rule: "bad_manifest",
    entry: "oci-layout",
    archive: () => imageArchive({ layout: "oci", omit: ["oci-layout"] }),
  },
  {
    title: "a manifest naming a layer the archive lacks",
    rule: "missing_blob",
    says: "does not hold it",
    archive: async () => {
      // Items 0 and 1 are the blobs/ folders, item 2 the layer.
      return tarBytes((await imageItems({ layout: "docker" })).filter((_, i) => i !== 2));
    },
  },
  {
    title: "a blob whose content does not match its name",
    rule: "digest_mismatch",
    archive: async () => {
      const items = await imageItems({ layout: "oci" });
      const config = items.find((item) => item.data?.toString().includes('"rootfs"'))!;
      return tarBytes(
        items.map((item) => (item === config ? { ...item, data: Buffer.from(`${item.data!} `) } : item)),
      );
    },
  },
  {
    title: "a layer whose content is not the config's diff_id",
    rule: "digest_mismatch",
    layer: true,
    says: "the config says",
    archive: () =>
      imageArchive({ layers: [{ stored: Buffer.alloc(1024), diffId: `sha256:${"0".repeat(64)}` }] }),
  },
  {
    title: "manifest.json and index.json that disagree",
    rule: "inconsistent_manifests",
    archive: async () => {
      const oci = await imageItems({ layout: "oci" });
      const other = await imageItems({ layout: "docker", layers: [[file("other")]] });
      return tarBytes([
        ...other.filter((item) => item.header.type === "file"),
        ...oci.filter(
          (item) => item.header.type === "file" && !other.some((o) => o.header.name === item.header.name),
        ),
      ]);
    },
  },
  {
    title: "a wrong architecture",
    rule: "platform",
    says: "built for linux/arm64, but the runner runs linux/amd64",
    archive: () => imageArchive({ config: { architecture: "arm64" } }),
  },
  { title: "a Windows image", rule: "platform", archive: () => imageArchive({ config: { os: "windows" } }) },
  {
    title: "a config without architecture",
    rule: "bad_config",
    archive: () => imageArchive({ config: { architecture: undefined } }),
  },
  {
    title: "a layer that is not a tar",
    rule: "layer_not_tar",
    layer: true,
    archive: () => imageArchive({ layers: [{ stored: Buffer.from("just text, not a tar") }] }),
  },
  {
    title: "a corrupt gzipped layer",
    rule: "corrupt_layer",
    layer: true,
    archive: async () => {
      const gz = gzipSync(await tarBytes([file("a", "x".repeat(5000))]));
      gz.fill(9, 12, gz.length - 12);
      return imageArchive({ layers: [{ stored: gz }] });
    },
  },
  {
    title: "a character device in a layer, outside /dev",
    rule: "device_file",
    layer: true,
    entry: "app/null",
    archive: () => imageArchive({ layers: [[dir("app/"), device("app/null")]] }),
  },
  {
    title: "a block device in a gzipped layer",
    rule: "device_file",
    layer: true,
    entry: "dev/disk/sda",
    archive: () =>
      imageArchive({ gzipLayers: true, layers: [[file("ok"), device("dev/disk/sda", "block-device")]] }),
  },
  {
    title: '".." in a layer',
    rule: "parent_segment",
    layer: true,
    entry: "../../etc/cron.d/evil",
    archive: () => imageArchive({ layers: [[file("../../etc/cron.d/evil")]] }),
  },
  {
    title: '".." deeper in a layer',
    rule: "parent_segment",
    layer: true,
    entry: "app/../../x",
    archive: () => imageArchive({ layers: [[file("app/../../x")]] }),
  },
  {
    title: "an absolute path in a layer",
    rule: "absolute_path",
    layer: true,
    entry: "/etc/passwd",
    archive: () => imageArchive({ layers: [[file("/etc/passwd")]] }),
  },
  {
    title: "a symlink escaping the root",
    rule: "link_escape",
    layer: true,
    entry: "app/data",
    archive: () => imageArchive({ layers: [[symlink("app/data", "../../host")]] }),
  },
  {
    title: "a hard link to an absolute path",
    rule: "link_escape",
    layer: true,
    entry: "app/shadow",
    archive: () => imageArchive({ layers: [[hardlink("app/shadow", "/etc/shadow")]] }),
  },
  {
    title: "a symlink in the outer tar pointing out of the archive",
    rule: "link_escape",
    entry: "bbb/layer.tar",
    archive: async () => tarBytes([...(await imageItems()), symlink("bbb/layer.tar", "../../layer.tar")]),
  },
  {
    title: "a hard link in the outer tar",
    rule: "special_entry",
    entry: "bbb/layer.tar",
    archive: async () => tarBytes([...(await imageItems()), hardlink("bbb/layer.tar", "aaa/layer.tar")]),
  },
  {
    title: "a FIFO in the outer tar",
    rule: "special_entry",
    entry: "fifo",
    archive: async () => tarBytes([...(await imageItems()), { header: { name: "fifo", type: "fifo" } }]),
  },
  {
    title: "a symlink and a file of the same path in the outer tar",
    rule: "duplicate_entry",
    entry: "manifest.json",
    archive: async () => tarBytes([symlink("manifest.json", "x.json"), ...(await imageItems())]),
  },
  {
    title: "an absolute path in the outer tar",
    rule: "absolute_path",
    entry: "/manifest.json",
    archive: () => imageArchive({ extra: [file("/manifest.json", "[]")] }),
  },
  {
    title: "a duplicate entry in the outer tar",
    rule: "duplicate_entry",
    entry: "manifest.json",
    archive: async () => tarBytes([...(await imageItems()), file("manifest.json", "[]")]),
  },
  {
    title: "an archive over the compressed cap",
    rule: "archive_too_large",
    archive: () => imageArchive(),
    options: { limits: { maxArchiveBytes: 4096 } },
  },
  {
    title: "an archive over the uncompressed cap",
    rule: "uncompressed_too_large",
    archive: async () => gzipSync(await imageArchive({ layers: [[file("big", zeros(300_000))]] })),
    options: { limits: { maxUncompressedBytes: 100_000 } },
  },
  {
    title: "layers over the uncompressed cap together",
    rule: "uncompressed_too_large",
    layer: true,
    archive: () =>
      imageArchive({ gzipLayers: true, layers: [[file("a", zeros(60_000))], [file("b", zeros(60_000))]] }),
    options: { limits: { maxUncompressedBytes: 100_000 } },
  },
  {
    title: "a layer over the per-layer cap",
    rule: "layer_too_large",
    layer: true,
    archive: () => imageArchive({ gzipLayers: true, layers: [[file("big", zeros(200_000))]] }),
    options: { limits: { maxLayerBytes: 100_000 } },
  },
  {
    title: "a gzip bomb of a layer",
    rule: "compression_ratio",
    layer: true,
    says: "gzip bomb",
    archive: () => imageArchive({ gzipLayers: true, layers: [[file("zeros", zeros(4 * 1024 * 1024))]] }),
  },
  {
    title: "a gzip bomb of an archive",
    rule: "compression_ratio",
    archive: async () => gzipSync(await imageArchive({ layers: [[file("zeros", zeros(4 * 1024 * 1024))]] })),
  },
  {
    title: "too many layers",
    rule: "too_many_layers",
    archive: () => imageArchive({ layers: Array.from({ length: 5 }, (_, i) => [file(`f${i}`)]) }),
    options: { limits: { maxLayers: 4 } },
  },
  {
    title: "too many outer entries",
    rule: "too_many_entries",
    archive: () => imageArchive({ extra: Array.from({ length: 30 }, (_, i) => file(`junk/${i}`)) }),
    options: { limits: { maxEntries: 20 } },
  },
  {
    title: "too many files in the layers",
    rule: "too_many_layer_entries",
    layer: true,
    entry: "f10",
    archive: () => imageArchive({ layers: [Array.from({ length: 12 }, (_, i) => file(`f${i}`))] }),
    options: { limits: { maxLayerEntries: 10 } },
  },
  {
    title: "a huge manifest",
    rule: "metadata_too_large",
    entry: "manifest.json",
    archive: async () => tarBytes([file("manifest.json", `[${" ".repeat(70_000)}]`)]),
    options: { limits: { maxMetadataBytes: 65_536 } },
  },
  {
    title: "many JSON files past the budget of kept metadata",
    rule: "metadata_too_large",
    says: "JSON files together",
    archive: async () =>
      tarBytes([
        // Four files just under the cap fill the budget (4 × the cap) to within 24 bytes.
        ...Array.from({ length: 4 }, (_, i) => file(`pad${i}.json`, `[${" ".repeat(65_528)}]`)),
        ...(await imageItems()),
      ]),
    options: { limits: { maxMetadataBytes: 65_536 } },
  },
  {
    title: "a config that is not JSON",
    rule: "bad_manifest",
    archive: async () => {
      const items = await imageItems({ layout: "docker" });
      const manifest = JSON.parse(items.at(-1)!.data!.toString()) as { Config: string }[];
      return tarBytes([
        ...items.filter((item) => item.header.name !== manifest[0]!.Config),
        file(manifest[0]!.Config, "not json"),
      ]);
    },
  },
];

describe("inspectImageArchive refuses, before loading,", () => {
  it.each(cases)("$title ($rule)", async ({ rule, layer, entry, says, archive, options }) => {
    const error = await refusal(await archive(), options);
    expect(error).toBeInstanceOf(InvalidSubmissionError);
    expect(error.status).toBe("invalid_submission");
    expect(error.rule).toBe(rule);
    if (layer) {
      expect(error.layer).toMatch(/^blobs\/sha256\/[0-9a-f]{64}$/);
      expect(error.message).toContain(`layer "${error.layer}"`);
    } else expect(error.layer).toBeUndefined();
    if (entry !== undefined) {
      expect(error.entry).toBe(entry);
      expect(error.message).toContain(JSON.stringify(entry));
    }
    if (says !== undefined) expect(error.message).toContain(says);
    // Every message names the archive first.
    expect(error.message).toMatch(/^"algorithm-\d+\.tar"/);
  });

  it("a missing file is the caller's error, not a refusal", async () => {
    await expect(inspectImageArchive(join(root, "nope.tar"))).rejects.toThrow(/does not exist/);
  });

  it("a folder in place of the archive", async () => {
    const error = await inspectImageArchive(root).catch((e: unknown) => e);
    expect(error).toMatchObject({ rule: "not_an_archive" });
  });
});

describe("checkBaseImage", () => {
  const base = { reference: "python:3.11-slim", diffIds: ["sha256:a", "sha256:b"] };
  const cuda = { reference: "nvidia/cuda:12", diffIds: ["sha256:c"] };

  it("finds the allowed base the image's layers begin with; an empty list allows any", () => {
    expect(checkBaseImage("a.tar", ["sha256:a", "sha256:b", "sha256:mine"], [cuda, base])).toBe(base);
    expect(checkBaseImage("a.tar", ["sha256:a", "sha256:b"], [base])).toBe(base);
    expect(checkBaseImage("a.tar", ["sha256:x"], [])).toBeUndefined();
  });

  it("refuses an image on another base, or on a part of an allowed one, naming the allowed ones", () => {
    for (const layers of [["sha256:c2", "sha256:mine"], ["sha256:a", "sha256:mine"], ["sha256:a"]]) {
      const error = (() => {
        try {
          checkBaseImage("a.tar", layers, [base, cuda]);
        } catch (e) {
          return e;
        }
      })() as InvalidImageError;
      expect(error).toBeInstanceOf(InvalidImageError);
      expect(error.rule).toBe("base_image");
      expect(error.message).toContain("python:3.11-slim, nvidia/cuda:12");
    }
  });
});

describe("tar names and links", () => {
  it("checkTarName drops ./ and a trailing /, refuses absolute, .. and control characters", () => {
    expect(checkTarName("./usr/bin/")).toEqual({ segments: ["usr", "bin"] });
    expect(checkTarName("./")).toEqual({ segments: [] });
    expect(checkTarName("/etc")).toMatchObject({ rule: "absolute_path" });
    expect(checkTarName("a/../..")).toMatchObject({ rule: "parent_segment" });
    expect(checkTarName("a\nb")).toMatchObject({ rule: "bad_name" });
    expect(checkTarName("")).toMatchObject({ rule: "bad_name" });
  });

  it("symlinkEscapes: absolute targets stay in the container's root; relative ones may not climb above it", () => {
    expect(symlinkEscapes(["usr", "lib", "x"], "/etc/x")).toBe(false);
    expect(symlinkEscapes(["usr", "lib", "x"], "../../etc/x")).toBe(false);
    expect(symlinkEscapes(["usr", "lib", "x"], "../../../etc/x")).toBe(true);
    expect(symlinkEscapes(["x"], "..")).toBe(true);
    expect(symlinkEscapes(["a", "x"], "./b/../../c")).toBe(false);
  });
});

describe("a real `docker save`", () => {
  const tag = `proctor-test/image-archive-${process.pid}:latest`;
  let archive: string;

  beforeAll(async () => {
    const context = join(root, "context");
    await fsp.mkdir(context);
    await fsp.writeFile(join(context, "run.sh"), "#!/bin/sh\necho hello > /output/results.json\n", {
      mode: 0o755,
    });
    await fsp.writeFile(
      join(context, "Dockerfile"),
      'FROM scratch\nCOPY run.sh /run.sh\nUSER 1000\nWORKDIR /work\nENTRYPOINT ["/run.sh"]\n',
    );
    await exec("docker", [
      "build",
      "--quiet",
      "--label",
      "org.proctor.test=image-archive",
      "-t",
      tag,
      context,
    ]);
    archive = join(root, "algorithm.tar");
    await exec("docker", ["save", "-o", archive, tag]);
  });
  afterAll(async () => {
    await exec("docker", ["image", "rm", "--force", tag]).catch(() => undefined);
  });

  it("is accepted, with the engine's own image id, tag, config and layer", async () => {
    const image = await inspectImageArchive(archive);
    const { stdout } = await exec("docker", ["image", "inspect", "--format", "{{json .}}", tag]);
    const inspected = JSON.parse(stdout) as { Id: string; RootFS: { Layers: string[] } };
    expect(image.configDigest).toBe(inspected.Id);
    expect(image.repoTags).toEqual([tag]);
    expect(image.config).toMatchObject({ entrypoint: ["/run.sh"], user: "1000", workingDir: "/work" });
    expect(image.layers.map((layer) => layer.diffId)).toEqual(inspected.RootFS.Layers);
    expect(image.platform).toMatchObject({ os: "linux", architecture: "amd64" });
  });

  it("gzipped (docker save | gzip) too", async () => {
    const gz = join(root, "algorithm.tar.gz");
    await fsp.writeFile(gz, gzipSync(await fsp.readFile(archive)));
    const image = await inspectImageArchive(gz);
    expect(image.gzipped).toBe(true);
    const plain = await inspectImageArchive(archive);
    expect(image.configDigest).toBe(plain.configDigest);
    expect(image.layers.map((layer) => layer.diffId)).toEqual(plain.layers.map((layer) => layer.diffId));
  });
});
