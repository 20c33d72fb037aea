/**
 * Image-archive inspection speed and memory: inspectImageArchive (in a child process, for its peak RSS)
 * against the shell tools that read the same bytes, side by side in the same run, on a ~200 MB docker-save
 * style archive (5 layers, half random, half text-like files) as algorithm.tar and as algorithm.tar.gz.
 *
 * Baselines: `sha256sum` of the .tar (one pass reading and hashing every byte; inspection also hashes every
 * entry and every layer's content, and parses the layers' tars); `gzip -t` of the .tar.gz (one pass
 * inflating every byte). Targets: time ≤ 3× the baseline, peak RSS < 100 MB whatever the archive's size.
 *
 *   npm run bench image
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, promises as fsp } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { createGzip } from "node:zlib";
import { build } from "esbuild";
import { pack } from "tar-stream";
import { median, run, textLike, verdict } from "./support.js";

const TAR = join(tmpdir(), "proctor-bench-image-v1.tar");
const TGZ = `${TAR}.gz`;
const LAYERS = 5;
const LAYER_BYTES = 40 * 1024 * 1024;
const REPETITIONS = Number(process.env.BENCH_REPETITIONS ?? 3);
const TIME_TARGET = 3;
const RSS_TARGET_MB = 100;
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");

async function tarOf(entries: { name: string; data: Buffer }[]): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve) => {
    tar.on("data", (chunk) => chunks.push(chunk as Buffer));
    tar.on("end", () => resolve(Buffer.concat(chunks)));
  });
  for (const { name, data } of entries) tar.entry({ name, type: "file", mode: 0o644 }, data);
  tar.finalize();
  return done;
}

const sha = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

async function ensureArchives(): Promise<void> {
  const present = await fsp.stat(TGZ).then(
    (s) => s.size > 0,
    () => false,
  );
  if (present) return;
  const outer = pack();
  const partial = `${TAR}.${process.pid}.partial`;
  const writing = pipeline(outer, createWriteStream(partial));
  const diffIds: string[] = [];
  const layers: string[] = [];
  for (let l = 0; l < LAYERS; l++) {
    const files: { name: string; data: Buffer }[] = [];
    for (let size = 0, i = 0; size < LAYER_BYTES; i++) {
      const bytes = i % 50 === 0 ? 1024 * 1024 : 4096 * (1 + (i % 16));
      files.push({
        name: `opt/layer${l}/f${i}.${i % 2 ? "bin" : "csv"}`,
        data: i % 2 ? randomBytes(bytes) : textLike(bytes, i),
      });
      size += bytes;
    }
    const layer = await tarOf(files);
    diffIds.push(`sha256:${sha(layer)}`);
    layers.push(`blobs/sha256/${sha(layer)}`);
    outer.entry({ name: layers.at(-1)!, type: "file" }, layer);
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Entrypoint: ["/opt/run"] },
      rootfs: { type: "layers", diff_ids: diffIds },
    }),
  );
  outer.entry({ name: `blobs/sha256/${sha(config)}`, type: "file" }, config);
  outer.entry(
    { name: "manifest.json", type: "file" },
    JSON.stringify([{ Config: `blobs/sha256/${sha(config)}`, RepoTags: ["bench:latest"], Layers: layers }]),
  );
  outer.finalize();
  await writing;
  await pipeline(createReadStream(partial), createGzip({ level: 6 }), createWriteStream(`${TGZ}.partial`));
  await fsp.rename(partial, TAR);
  await fsp.rename(`${TGZ}.partial`, TGZ);
}

interface Sample {
  ms: number;
  maxRssMb?: number;
}

async function output(command: string, args: string[]): Promise<string> {
  const result = await run(command, args);
  if (result.code !== 0) throw new Error(`${command} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

async function timeTool(command: string, args: string[]): Promise<Sample> {
  const start = process.hrtime.bigint();
  await output(command, args);
  return { ms: Number(process.hrtime.bigint() - start) / 1e6 };
}

/** The submission room bundled to plain JavaScript (no TypeScript loader in the child's RSS). */
async function childScript(): Promise<string> {
  const out = join(tmpdir(), "proctor-bench-image-js");
  await fsp.mkdir(out, { recursive: true });
  await build({
    entryPoints: [join(REPO, "src/submission/image-archive.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    packages: "external",
    outfile: join(out, "image-archive.mjs"),
    logLevel: "error",
  });
  await fsp.rm(join(out, "node_modules"), { force: true });
  await fsp.symlink(join(REPO, "node_modules"), join(out, "node_modules"), "dir");
  const child = join(out, "child.mjs");
  await fsp.writeFile(
    child,
    `import { readFileSync } from "node:fs";
import { inspectImageArchive } from "./image-archive.mjs";
const start = process.hrtime.bigint();
const image = await inspectImageArchive(process.argv[2]);
const ms = Number(process.hrtime.bigint() - start) / 1e6;
if (image.layers.length !== ${LAYERS}) throw new Error("wrong layer count");
const hwmKb = Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]);
process.stdout.write(JSON.stringify({ ms, maxRssMb: hwmKb / 1024 }));
`,
  );
  return child;
}

export async function benchImage(): Promise<void> {
  await ensureArchives();
  const child = await childScript();
  const proctor = async (archive: string): Promise<Sample> =>
    JSON.parse(await output(process.execPath, [child, archive])) as Sample;
  const pairs: [string, string, () => Promise<Sample>, () => Promise<Sample>][] = [
    ["algorithm.tar", "sha256sum", () => timeTool("sha256sum", [TAR]), () => proctor(TAR)],
    ["algorithm.tar.gz", "gzip -t", () => timeTool("gzip", ["-t", TGZ]), () => proctor(TGZ)],
  ];
  for (const [label, baselineName, baseline, inspect] of pairs) {
    const size = (await fsp.stat(label.endsWith(".gz") ? TGZ : TAR)).size / 1e6;
    await baseline();
    await inspect(); // warm the page cache for both
    const base: Sample[] = [];
    const ours: Sample[] = [];
    for (let i = 0; i < REPETITIONS; i++) {
      base.push(await baseline());
      ours.push(await inspect());
    }
    const baseMs = median(base.map((s) => s.ms));
    const oursMs = median(ours.map((s) => s.ms));
    const rss = Math.max(...ours.map((s) => s.maxRssMb ?? NaN));
    const ratio = oursMs / baseMs;
    console.log(
      `${label} (${size.toFixed(0)} MB): ${baselineName} ${baseMs.toFixed(0)} ms, inspectImageArchive ` +
        `${oursMs.toFixed(0)} ms = ${ratio.toFixed(2)}× (target ≤ ${TIME_TARGET}×: ${verdict(ratio <= TIME_TARGET)}); ` +
        `peak RSS ${rss.toFixed(0)} MB (target < ${RSS_TARGET_MB} MB: ${verdict(rss < RSS_TARGET_MB)})`,
    );
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await benchImage();
