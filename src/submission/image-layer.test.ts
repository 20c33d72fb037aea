import { execFile } from "node:child_process";
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { GiB, MiB } from "../units/index.js";
import { newPass, type ImageLayer, type Pass } from "./image-archive.js";
import { MAX_ACCOUNT_FILE_BYTES, scanLayer } from "./image-layer.js";
import { InvalidImageError, resolveImageLimits, type ImageLimits } from "./image-rules.js";
import { tempDir } from "./test-support/fixtures.js";
import {
  device,
  dir,
  file,
  hardlink,
  sha256,
  symlink,
  tarBytes,
  type TarItem,
} from "./test-support/image-tar.js";

const exec = promisify(execFile);
const LAYER = "blobs/sha256/layer";

const newTestPass = (limits: Partial<ImageLimits> = {}): Pass =>
  newPass("algorithm.tar", resolveImageLimits(limits));

async function* chunks(bytes: Buffer): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += 64 * 1024) yield bytes.subarray(at, at + 64 * 1024);
}

type Scanned = Omit<ImageLayer, "path" | "digest">;

async function scan(layer: TarItem[] | Buffer, pass = newTestPass()): Promise<Scanned> {
  const bytes = Buffer.isBuffer(layer) ? layer : await tarBytes(layer);
  return scanLayer(chunks(bytes), false, LAYER, pass);
}

async function refusal(layer: TarItem[] | Buffer, pass = newTestPass()): Promise<InvalidImageError> {
  const error = await scan(layer, pass).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidImageError);
  const refused = error as InvalidImageError;
  expect(refused.layer).toBe(LAYER);
  expect(refused.message).toMatch(/^"algorithm\.tar", layer "blobs\/sha256\/layer"/);
  return refused;
}

/** One PAX record: "<length> key=value\n", the length counting itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length++;
  return `${length}${body}`;
}

const paxData = (records: [string, string][]): Buffer =>
  Buffer.from(records.map(([key, value]) => paxRecord(key, value)).join(""));

/**
 * One entry as raw tar bytes (a USTAR header, then its data padded to 512), for what tar-stream's pack will
 * not write: PAX headers with repeated keys, global PAX headers, typeflag S, data after a link's header.
 */
function rawEntry(name: string, typeflag: string, data: Buffer = Buffer.alloc(0), gnu = false): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, "latin1");
  header.write("0000644\0", 100, "latin1");
  header.write("0000000\0", 108, "latin1");
  header.write("0000000\0", 116, "latin1");
  header.write(`${data.length.toString(8).padStart(11, "0")}\0`, 124, "latin1");
  header.write("00000000000\0", 136, "latin1");
  header.write(typeflag, 156, "latin1");
  header.write(gnu ? "ustar  \0" : "ustar\x0000", 257, "latin1");
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return Buffer.concat([header, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

/** A tar of raw entries (rawEntry) and tar-stream items, in order. */
async function mixedTar(parts: (Buffer | TarItem)[]): Promise<Buffer> {
  const out: Buffer[] = [];
  for (const part of parts) {
    // tarBytes ends a tar with two zero blocks: keep only the entry.
    out.push(Buffer.isBuffer(part) ? part : (await tarBytes([part])).subarray(0, -1024));
  }
  return Buffer.concat([...out, Buffer.alloc(1024)]);
}

/** GNU tar's PAX sparse format 1.0: the map (count, then offset/size pairs) in the data's first block. */
function sparse10(name: string, realSize: number, data: Buffer): TarItem {
  const map = Buffer.alloc(512);
  map.write(`1\n${realSize - data.length}\n${data.length}\n`);
  return {
    header: {
      name: `GNUSparseFile.0/${name}`,
      type: "file",
      mode: 0o644,
      pax: {
        "GNU.sparse.major": "1",
        "GNU.sparse.minor": "0",
        "GNU.sparse.name": name,
        "GNU.sparse.realsize": String(realSize),
      },
    },
    data: Buffer.concat([map, data]),
  };
}

/** Format 0.1: the map in one GNU.sparse.map record. */
const sparse01 = (name: string, realSize: number, data: Buffer): TarItem => ({
  header: {
    name: `GNUSparseFile.0/${name}`,
    type: "file",
    pax: {
      "GNU.sparse.numblocks": "1",
      "GNU.sparse.map": `${realSize - data.length},${data.length}`,
      "GNU.sparse.size": String(realSize),
      "GNU.sparse.name": name,
    },
  },
  data,
});

/** Format 0.0: repeated GNU.sparse.offset/numbytes records (pack cannot repeat a key), the name in `path`. */
const sparse00 = (name: string, realSize: number, data: Buffer): Promise<Buffer> =>
  mixedTar([
    rawEntry(
      "PaxHeader",
      "x",
      paxData([
        ["path", name],
        ["GNU.sparse.size", String(realSize)],
        ["GNU.sparse.numblocks", "2"],
        ["GNU.sparse.offset", "0"],
        ["GNU.sparse.numbytes", "0"],
        ["GNU.sparse.offset", String(realSize - data.length)],
        ["GNU.sparse.numbytes", String(data.length)],
      ]),
    ),
    rawEntry("GNUSparseFile.0/x", "0", data),
  ]);

const GiB3 = 3 * GiB;
const tail = Buffer.from("end of a mostly empty file\n");

describe("scanLayer counts every entry at its size once extracted", () => {
  it("a plain layer: its tar stream, as before", async () => {
    const raw = await tarBytes([dir("app/"), file("app/run.sh", "#!/bin/sh\n")]);
    const layer = await scan(raw);
    expect(layer.uncompressedBytes).toBe(raw.length);
    expect(layer.storedBytes).toBe(raw.length);
    expect(layer.diffId).toBe(`sha256:${sha256(raw)}`);
  });

  it("refuses a PAX 1.0 sparse file of 3 GiB stored in a few KiB, under a 2 GiB layer cap", async () => {
    const raw = await tarBytes([dir("data/"), sparse10("data/big", GiB3, tail)]);
    expect(raw.length).toBeLessThan(8 * 1024);
    const error = await refusal(raw, newTestPass({ maxLayerBytes: 2 * GiB }));
    expect(error.rule).toBe("layer_too_large");
    expect(error.entry).toBe("data/big");
    expect(error.message).toContain('entry "data/big"');
    expect(error.message).toContain("sparse file of 3.0 GiB once extracted");
  });

  it("counts the layers' real sizes together under the image's cap", async () => {
    const pass = newTestPass({ maxUncompressedBytes: 2 * GiB });
    const first = await scan([sparse10("a", 1.5 * GiB, tail)], pass);
    expect(first.uncompressedBytes).toBeGreaterThan(1.5 * GiB);
    const error = await refusal([sparse10("b", 1.5 * GiB, tail)], pass);
    expect(error.rule).toBe("uncompressed_too_large");
    expect(error.entry).toBe("b");
  });

  it.each([
    ["1.0", (real: number) => tarBytes([sparse10("big", real, tail)]), 512 + tail.length],
    ["0.1", (real: number) => tarBytes([sparse01("big", real, tail)]), tail.length],
    ["0.0", (real: number) => sparse00("big", real, tail), tail.length],
  ])(
    "PAX sparse format %s: refused over the cap, else counted at its real size",
    async (_, build, stored) => {
      const error = await refusal(await build(GiB3), newTestPass({ maxLayerBytes: 2 * GiB }));
      expect(error).toMatchObject({ rule: "layer_too_large", entry: "big" });
      const raw = await build(64 * MiB);
      const layer = await scan(raw);
      expect(layer.uncompressedBytes).toBe(raw.length + 64 * MiB - stored);
      expect(layer.diffId).toBe(`sha256:${sha256(raw)}`);
    },
  );

  it("checks the name Docker reads: a sparse file's GNU.sparse.name", async () => {
    const error = await refusal([sparse10("../../etc/cron.d/x", MiB, tail)]);
    expect(error).toMatchObject({ rule: "parent_segment", entry: "../../etc/cron.d/x" });
  });

  it("refuses GNU sparse records of a form Go may read otherwise (an unknown version)", async () => {
    const item = sparse10("big", GiB3, tail);
    (item.header.pax as Record<string, string>)["GNU.sparse.major"] = "2";
    expect((await refusal([item])).rule).toBe("unsupported_entry");
  });

  it("refuses an old GNU sparse file (typeflag S), whose real size tar-stream cannot give", async () => {
    const raw = await mixedTar([rawEntry("big", "S", tail, true)]);
    const error = await refusal(raw);
    expect(error).toMatchObject({ rule: "unsupported_entry", entry: "big" });
    expect(error.message).toContain("typeflag S");
    expect(error.message).toContain("without sparse files");
  });

  it("refuses sparse headers on an entry that is not a file", async () => {
    const item = sparse01("big", GiB3, Buffer.alloc(0));
    item.header.type = "directory";
    expect((await refusal([item])).rule).toBe("corrupt_layer");
  });

  it("counts a hard link at the size of the file it links to, through chains and to sparse files", async () => {
    const data = Buffer.alloc(MiB, 7);
    const raw = await tarBytes([
      file("./a", data),
      hardlink("b", "a"),
      hardlink("c", "./b"),
      sparse01("s", 10 * MiB, tail),
      hardlink("t", "s"),
      hardlink("u", "missing"),
    ]);
    const layer = await scan(raw);
    expect(layer.uncompressedBytes).toBe(raw.length + 2 * MiB + (10 * MiB - tail.length) + 10 * MiB);
  });

  it("refuses hard links that take the layer over its cap, naming the link", async () => {
    const error = await refusal(
      [file("a", Buffer.alloc(MiB, 1)), hardlink("b", "a"), hardlink("c", "a"), hardlink("d", "a")],
      newTestPass({ maxLayerBytes: 3.5 * MiB }),
    );
    expect(error).toMatchObject({ rule: "layer_too_large", entry: "d" });
    expect(error.message).toContain("hard link to a file of 1.0 MiB");
  });

  it.each([
    ["a hard link", "1"],
    ["a symbolic link", "2"],
    ["a character device", "3"],
    ["a FIFO", "6"],
  ])("refuses %s header that carries data (Go reads none after it)", async (_, typeflag) => {
    const hidden = (await tarBytes([device("usr/bin/mem")])).subarray(0, -1024);
    const raw = await mixedTar([file("a"), rawEntry("x", typeflag, hidden)]);
    const error = await refusal(raw);
    expect(error).toMatchObject({ rule: "unsupported_entry", entry: "x" });
    expect(error.message).toContain("further entries");
  });

  it("refuses a contiguous file (typeflag 7), which `docker load` refuses", async () => {
    const raw = await tarBytes([{ header: { name: "cont", type: "contiguous-file" }, data: tail }]);
    expect(await refusal(raw)).toMatchObject({ rule: "unsupported_entry", entry: "cont" });
  });

  it("refuses a layer with a global PAX header (tar-stream would apply its path, Go ignores it)", async () => {
    const raw = await mixedTar([
      rawEntry("GlobalHead", "g", paxData([["path", "harmless"]])),
      { header: { name: "etc/passwd", type: "file", pax: { mtime: "1" } }, data: Buffer.from("x") },
    ]);
    const error = await refusal(raw);
    expect(error.rule).toBe("unsupported_entry");
    expect(error.message).toContain("global PAX header");
  });
});

describe("scanLayer and device files", () => {
  it.each(["dev/null", "./dev/full", "dev//full", "./dev/sda"])(
    "ignores %s, a node directly in /dev (the engine mounts its own)",
    async (name) => {
      const layer = await scan([dir("dev/"), device(name), device("dev/sdb", "block-device")]);
      expect(layer.entries).toBe(3);
    },
  );

  it.each(["usr/dev/null", "dev/sub/x", "dev", "null", "./usr/lib/dev/x"])(
    "refuses a device node at %s",
    async (name) => {
      const error = await refusal([device(name)]);
      expect(error).toMatchObject({ rule: "device_file", entry: name });
      expect(error.message).toContain("outside /dev");
    },
  );

  it("refuses a device in /dev when the layer makes /dev a symbolic link", async () => {
    const error = await refusal([symlink("dev", "usr/bin"), device("dev/null")]);
    expect(error).toMatchObject({ rule: "device_file", entry: "dev" });
    expect(error.message).toContain("/dev is a symlink");
  });
});

const passwd = "root:x:0:0:root:/root:/bin/sh\nrunner:x:1000:1000::/home/runner:/bin/sh\n";
const group = "root:x:0:\nrunner:x:1000:\n";

describe("scanLayer reads what a layer does to /etc/passwd and /etc/group", () => {
  it("leaves them alone when the layer does not touch them", async () => {
    expect((await scan([dir("etc/"), file("etc/hosts", "127.0.0.1 localhost\n")])).accounts).toEqual({});
  });

  it("reads their text, whatever the spelling of the name", async () => {
    const layer = await scan([dir("./etc/"), file("./etc/passwd", passwd), file("etc//group", group)]);
    expect(layer.accounts).toEqual({ passwd, group });
  });

  it("a whiteout removes one; the layer's later write brings it back", async () => {
    expect((await scan([file("etc/.wh.passwd", "")])).accounts).toEqual({ passwd: null });
    expect((await scan([file("etc/passwd", passwd), file("etc/.wh.passwd", "")])).accounts).toEqual({
      passwd: null,
    });
    expect((await scan([file("etc/.wh.group", ""), file("etc/group", group)])).accounts).toEqual({
      group,
    });
  });

  it("an opaque /etc removes both, except what the layer itself writes, before or after the marker", async () => {
    const opaque = file("etc/.wh..wh..opq", "");
    expect((await scan([dir("etc/"), opaque])).accounts).toEqual({ passwd: null, group: null });
    expect((await scan([dir("etc/"), opaque, file("etc/group", group)])).accounts).toEqual({
      passwd: null,
      group,
    });
    expect((await scan([dir("etc/"), file("etc/passwd", passwd), opaque])).accounts).toEqual({
      passwd,
      group: null,
    });
    expect((await scan([file("./.wh..wh..opq", "")])).accounts).toEqual({ passwd: null, group: null });
  });

  it("a whiteout of /etc removes both", async () => {
    expect((await scan([file("./.wh.etc", "")])).accounts).toEqual({ passwd: null, group: null });
    expect((await scan([file("etc/passwd", passwd), file(".wh.etc", "")])).accounts).toEqual({
      passwd: null,
      group: null,
    });
  });

  it.each([
    ["etc/passwd a symbolic link", [dir("etc/"), symlink("etc/passwd", "/tmp/passwd")], "account_file_link"],
    ["etc/group a hard link", [file("tmp/g", group), hardlink("etc/group", "tmp/g")], "account_file_link"],
    ["etc a symbolic link", [symlink("etc", "tmp")], "account_file_link"],
    ["etc a file", [file("etc", "x")], "account_file_type"],
    ["etc/passwd a folder", [dir("etc/passwd/")], "account_file_type"],
    ["a file below etc/passwd", [file("etc/passwd/x", "x")], "account_file_type"],
    ["etc/passwd a FIFO", [{ header: { name: "etc/passwd", type: "fifo" } }], "account_file_type"],
    ["etc/passwd a sparse file", [sparse01("etc/passwd", MiB, tail)], "account_file_type"],
    [
      "etc/passwd over the cap",
      [file("etc/passwd", Buffer.alloc(MAX_ACCOUNT_FILE_BYTES + 1, 0x61))],
      "account_file_too_large",
    ],
  ] as [string, TarItem[], string][])("refuses %s", async (_, items, rule) => {
    const error = await refusal(items);
    expect(error.rule).toBe(rule);
    expect(error.message).toMatch(/\/etc/);
  });
});

describe("the engine reads a PAX sparse file as we do", () => {
  const base = inject("baseImage");
  const label = `org.proctor.test=image-layer-${process.pid}`;
  let root: string;
  let imageId: string | undefined;

  beforeAll(async () => {
    root = await tempDir("proctor-image-layer-");
  });
  afterAll(async () => {
    if (imageId !== undefined) await exec("docker", ["image", "rm", imageId]).catch(() => undefined);
    await fsp.rm(root, { recursive: true, force: true });
  });

  it("`docker load` writes it at the real size we count", async () => {
    const realSize = 64 * MiB;
    const raw = await tarBytes([dir("data/"), sparse10("data/big", realSize, tail)]);
    const layer = await scan(raw);
    expect(layer.uncompressedBytes).toBe(raw.length + realSize - 512 - tail.length);
    // An archive on top of the base image, whose layer the engine already has: its file is not needed.
    const { stdout } = await exec("docker", [
      "image",
      "inspect",
      "--format",
      "{{json .RootFS.Layers}}",
      base,
    ]);
    const baseLayers = JSON.parse(stdout) as string[];
    const config = Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: { Labels: { "org.proctor.test": label } },
        rootfs: { type: "layers", diff_ids: [...baseLayers, layer.diffId] },
      }),
    );
    const configName = `${sha256(config)}.json`;
    const archive = await tarBytes([
      { header: { name: configName, type: "file" }, data: config },
      { header: { name: "sparse/layer.tar", type: "file" }, data: raw },
      file(
        "manifest.json",
        JSON.stringify([
          {
            Config: configName,
            RepoTags: [],
            Layers: [...baseLayers.map((_, i) => `base${i}/layer.tar`), "sparse/layer.tar"],
          },
        ]),
      ),
    ]);
    const path = join(root, "sparse.tar");
    await fsp.writeFile(path, archive);
    await exec("docker", ["load", "--input", path]);
    imageId = `sha256:${sha256(config)}`;
    const { stdout: stat } = await exec("docker", [
      "run",
      "--rm",
      "--network",
      "none",
      "--label",
      label,
      imageId,
      "stat",
      "-c",
      "%s %b %B",
      "/data/big",
    ]);
    const [size, blocks, blockSize] = stat.trim().split(" ").map(Number);
    expect(size).toBe(realSize);
    // Written out, holes and all: the disk holds the real size, not the few KiB stored.
    expect(blocks! * blockSize!).toBeGreaterThanOrEqual(realSize);
  });
});
