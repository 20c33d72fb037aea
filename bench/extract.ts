/**
 * Extraction speed and memory: `unzip -q` against extractSubmission (in a child process, for its peak RSS)
 * on a ~200 MB, ~10k-file zip, side by side in the same run. Targets: time ≤ 1.5× unzip, peak RSS < 100 MB.
 *
 *   npx tsx bench/extract.ts
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, promises as fsp } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import yazl from "yazl";
import { median, textLike, verdict } from "./support.js";

const ZIP_PATH = join(tmpdir(), "proctor-bench-extract-v1.zip");
const FILES = 10_000;
const REPETITIONS = Number(process.env.BENCH_REPETITIONS ?? 5);
const GNU_TIME = "/usr/bin/time";
const TIME_TARGET = 1.5;
const RSS_TARGET_MB = 100;
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Builds (once, cached in the temp folder) ~200 MB in 10k files: half random bytes, half text. */
async function ensureZip(): Promise<void> {
  if (
    await fsp.stat(ZIP_PATH).then(
      (s) => s.size > 0,
      () => false,
    )
  )
    return;
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from("print('hello')\n"), "main.py");
  for (let i = 0; i < FILES - 1; i++) {
    // 1 file in 100 is ~1 MiB, the others 1–20 KiB: about 100 MB each way.
    const size = i % 100 === 0 ? 1024 * 1024 : 1024 * (1 + (i % 20));
    const random = i % 2 === 0;
    const name = `pkg/d${String(i % 100).padStart(2, "0")}/f${i}.${random ? "bin" : "csv"}`;
    zip.addReadStreamLazy(name, { size }, (cb) =>
      cb(null, Readable.from([random ? randomBytes(size) : textLike(size, i)])),
    );
  }
  zip.end();
  const partial = `${ZIP_PATH}.${process.pid}.partial`;
  await pipeline(zip.outputStream, createWriteStream(partial));
  await fsp.rename(partial, ZIP_PATH);
}

interface Sample {
  /** Wall time of the extraction. */
  ms: number;
  /** User + system CPU time of the process. */
  cpuMs?: number;
  maxRssMb?: number;
}

function run(command: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve({ stdout, stderr })
        : reject(new Error(`${command} ${args.join(" ")} exited ${code}: ${stderr}`)),
    );
  });
}

/** unzip under GNU time when there is one, for its CPU time and peak RSS too. */
async function timeUnzip(dest: string): Promise<Sample> {
  const timed = await fsp.access(GNU_TIME).then(
    () => true,
    () => false,
  );
  const start = process.hrtime.bigint();
  const args = ["-q", "-d", dest, ZIP_PATH];
  const { stderr } = timed
    ? await run(GNU_TIME, ["-f", "TIME %U %S %M", "unzip", ...args])
    : await run("unzip", args);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const match = /TIME ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
  if (!match) return { ms };
  return { ms, cpuMs: (Number(match[1]) + Number(match[2])) * 1000, maxRssMb: Number(match[3]) / 1024 };
}

/**
 * The child runs plain JavaScript, as proctor does in production (a TypeScript loader alone would add
 * tens of MB to its RSS): the submission room and what it imports, transpiled into a temp folder that
 * resolves packages from this repository's node_modules.
 */
async function compileRoom(): Promise<string> {
  const out = join(tmpdir(), "proctor-bench-extract-js");
  await fsp.rm(out, { recursive: true, force: true });
  await fsp.mkdir(out, { recursive: true });
  await fsp.symlink(join(REPO, "node_modules"), join(out, "node_modules"), "dir");
  await fsp.writeFile(join(out, "package.json"), '{ "type": "module" }\n');
  const queue = [join(REPO, "src/submission/index.ts")];
  const done = new Set<string>();
  while (queue.length > 0) {
    const source = queue.pop()!;
    if (done.has(source)) continue;
    done.add(source);
    const text = await fsp.readFile(source, "utf8");
    for (const [, spec] of text.matchAll(/from "(\.{1,2}\/[^"]+)\.js"/g))
      queue.push(resolve(dirname(source), `${spec}.ts`));
    const { outputText } = ts.transpileModule(text, {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
    });
    const target = join(out, relative(REPO, source)).replace(/\.ts$/, ".js");
    await fsp.mkdir(dirname(target), { recursive: true });
    await fsp.writeFile(target, outputText);
  }
  const child = join(out, "child.mjs");
  await fsp.writeFile(
    child,
    `import { readFileSync } from "node:fs";
import { extractWith } from "./src/submission/extract.js";
const [mode, zip, dest] = process.argv.slice(2);
const start = process.hrtime.bigint();
if (mode !== "idle") await extractWith(zip, dest, undefined, { portable: mode === "portable" });
const ms = Number(process.hrtime.bigint() - start) / 1e6;
const usage = process.resourceUsage();
// VmHWM, not maxRSS: after fork and exec, maxRSS also counts the parent's pages the fork shared.
const hwmKb = Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]);
process.stdout.write(JSON.stringify({ ms, maxRssMb: hwmKb / 1024, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000 }));
`,
  );
  return child;
}

type Mode = "default" | "portable" | "idle";

/** extractSubmission in a fresh node process; it reports its own timing, CPU time and peak RSS. */
async function timeProctor(child: string, dest: string, mode: Mode): Promise<Sample> {
  return JSON.parse((await run(process.execPath, [child, mode, ZIP_PATH, dest])).stdout) as Sample;
}

export async function benchExtract(): Promise<void> {
  await ensureZip();
  const child = await compileRoom();
  const zipMb = (await fsp.stat(ZIP_PATH)).size / 1e6;
  const work = await fsp.mkdtemp(join(tmpdir(), "proctor-bench-extract-"));
  const contenders: Record<string, (dest: string) => Promise<Sample>> = {
    "unzip -q": timeUnzip,
    extractSubmission: (dest) => timeProctor(child, dest, "default"),
    "  portable writer (fallback)": (dest) => timeProctor(child, dest, "portable"),
  };
  const samples = new Map<string, Sample[]>(Object.keys(contenders).map((name) => [name, []]));
  try {
    // Warm the page cache so no one pays for the first read of the zip.
    for (const time of Object.values(contenders)) {
      await time(join(work, "warm"));
      await fsp.rm(join(work, "warm"), { recursive: true, force: true });
    }
    for (let i = 0; i < REPETITIONS; i++) {
      // Rotate who goes first, so no one always runs right after the same other's deletes.
      const names = Object.keys(contenders);
      for (let k = 0; k < names.length; k++) {
        const name = names[(i + k) % names.length]!;
        const dest = join(work, `run-${i}-${k}`);
        samples.get(name)!.push(await contenders[name]!(dest));
        await fsp.rm(dest, { recursive: true, force: true });
      }
    }
    const idle = await timeProctor(child, join(work, "idle"), "idle");
    const stat = (name: string, key: keyof Sample): number =>
      median(samples.get(name)!.map((sample) => sample[key] ?? NaN));
    const peak = (name: string): number =>
      Math.max(...samples.get(name)!.map((sample) => sample.maxRssMb ?? NaN));
    const unzipMs = stat("unzip -q", "ms");
    const fmt = (value: number, unit: string): string =>
      Number.isFinite(value) ? `${value.toFixed(0)} ${unit}` : "-";
    const rows = [["", "time (median)", "CPU (median)", "peak RSS", "time vs unzip", "target"]];
    for (const name of Object.keys(contenders)) {
      const ratio = stat(name, "ms") / unzipMs;
      const target =
        name === "extractSubmission"
          ? `≤ ${TIME_TARGET}×: ${verdict(ratio <= TIME_TARGET)}; < ${RSS_TARGET_MB} MB: ${verdict(peak(name) < RSS_TARGET_MB)}`
          : "";
      rows.push([
        name,
        fmt(stat(name, "ms"), "ms"),
        fmt(stat(name, "cpuMs"), "ms"),
        fmt(peak(name), "MB"),
        `${ratio.toFixed(2)}×`,
        target,
      ]);
    }
    rows.push(["  node, idle (baseline)", "", "", fmt(idle.maxRssMb ?? NaN, "MB"), "", ""]);
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    console.log(
      `extract: ${FILES} files, ${zipMb.toFixed(0)} MB zip, ${REPETITIONS} runs each, into ${tmpdir()}; ` +
        `peak RSS = VmHWM of the child`,
    );
    for (const cells of rows)
      console.log(
        cells
          .map((cell, c) => cell.padEnd(widths[c]!))
          .join("  ")
          .trimEnd(),
      );
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchExtract();
