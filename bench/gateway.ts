/**
 * The upload gateway under load: the real `proctor serve` (the built CLI) in a child process, so its
 * memory is its own, dispatching to a fake GitHub on 127.0.0.1.
 *
 * - 20 concurrent uploads of a 50 MB zip: median and slowest time to an accepted (stored, hashed,
 *   inspected, recorded, dispatched) submission, aggregate throughput.
 * - One 1 GB upload, streamed.
 * - The server's peak RSS (VmHWM from /proc, and getrusage at exit) against the target of 150 MB.
 * It runs the server twice: with the node option docs/gateway.md recommends, and with node's defaults.
 * Baseline, measured in the same run with the same client and files: a bare node:http server that only
 * streams each request body through sha256 to a file (no parsing, checks, database or dispatch), the
 * floor for an upload through node on this machine.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import yazl from "yazl";
import { startFakeGitHub } from "../src/github/test-support/fake-github.js";
import { uploadSubmission } from "../src/gateway-api/index.js";
import { IntakeDb, TokenRegistry } from "../src/intake/index.js";
import { mb, median, ms, PEAK_RSS_PRELOAD, row, verdict } from "./support.js";

const MB = 1024 * 1024;
const CONCURRENT = 20;
const SMALL_BYTES = 50 * MB;
const LARGE_BYTES = 1000 * MB;
const RSS_TARGET = 150 * MB;
const CLI = path.resolve("build/proctor.mjs");

/** A zip with main.py and one stored (uncompressed) blob of `bytes` random-looking bytes. */
async function makeZip(file: string, bytes: number): Promise<void> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from("print('hello')\n"), "main.py", { mode: 0o100644 });
  const block = randomBytes(4 * MB);
  let left = bytes;
  const blob = new Readable({
    read() {
      if (left <= 0) return void this.push(null);
      const n = Math.min(left, block.length);
      left -= n;
      this.push(n === block.length ? block : block.subarray(0, n));
    },
  });
  zip.addReadStream(blob, "model.bin", { compress: false, size: bytes, mode: 0o100644 });
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(file));
}

/** VmHWM (peak resident set) of a process, from /proc; null when not available. */
async function vmHwm(pid: number): Promise<number | null> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => null);
  const kb = status && /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : null;
}

/** `--max-semi-space-size=1`: what docs/gateway.md recommends for the gateway (a smaller young generation). */
export const RECOMMENDED_NODE_OPTIONS = "--max-semi-space-size=1";

/** The baseline server: streams each body through sha256 into a file, answers like the gateway. */
const BARE_SERVER = `
import http from "node:http"; import fs from "node:fs"; import crypto from "node:crypto";
import { pipeline } from "node:stream/promises"; import { Transform } from "node:stream";
let n = 0;
const server = http.createServer(async (req, res) => {
  const hash = crypto.createHash("sha256"); let bytes = 0;
  const meter = new Transform({ transform(c, e, cb) { bytes += c.length; hash.update(c); cb(null, c); } });
  const file = process.env.BARE_DIR + "/" + (n++) + ".bin";
  await pipeline(req, meter, fs.createWriteStream(file));
  hash.digest("hex"); fs.rmSync(file);
  res.writeHead(202, { "content-type": "application/json" });
  res.end(JSON.stringify({ submission: { zip_bytes: bytes } }));
});
server.listen(0, "127.0.0.1", () => process.stderr.write("listening on http://127.0.0.1:" + server.address().port + "\\n"));
process.on("SIGTERM", () => server.close());
`;

interface Started {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

async function startChild(args: string[], env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(process.execPath, args, { env: { ...process.env, NODE_OPTIONS: "", ...env } });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  child.stdout!.resume();
  for (;;) {
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1];
    if (url) return { child, url, stderr: () => stderr };
    if (child.exitCode !== null) throw new Error(`proctor serve did not start:\n${stderr}`);
    await sleep(50);
  }
}

function startGateway(
  work: string,
  dataDir: string,
  githubUrl: string,
  token: string,
  nodeOptions: string[],
): Promise<Started> {
  return startChild(
    [
      ...nodeOptions,
      "--import",
      PEAK_RSS_PRELOAD,
      CLI,
      "serve",
      "--config",
      path.join(work, "competition.yml"),
      "--data-dir",
      dataDir,
      "--port",
      "0",
      "--repo",
      "org/comp",
      "--github-api-url",
      githubUrl,
      "--log-level",
      "warn",
    ],
    { GITHUB_TOKEN: token },
  );
}

interface ServerRun {
  /** Per-upload times of the concurrent uploads (ms). */
  times: number[];
  wallMs: number;
  largeMs: number;
  /** Peak RSS: the larger of VmHWM (read before stopping it) and getrusage at exit. */
  peakRss: number;
  /** RSS once warm (after one upload and its dispatch), before the load. */
  warmRss: number | null;
}

/**
 * One server (the gateway, or the bare baseline when `github` is null): a warm-up upload, `CONCURRENT`
 * concurrent uploads of `small`, then one upload of `large`.
 */
async function serverRun(
  work: string,
  github: { url: string; token: string } | null,
  nodeOptions: string[],
  small: string,
  large: string,
): Promise<ServerRun> {
  const dataDir = await mkdtemp(path.join(work, "server-"));
  let tokens: string[];
  let server: Started;
  if (github) {
    // Tokens, made the way `proctor tokens add` does, before the server opens the same database.
    const db = new IntakeDb(path.join(dataDir, "intake.sqlite"));
    const registry = new TokenRegistry(db, "participant");
    tokens = Array.from({ length: CONCURRENT + 2 }, (_, i) => registry.add(`bench-${i}`).token);
    db.close();
    server = await startGateway(work, dataDir, github.url, github.token, nodeOptions);
  } else {
    tokens = Array.from({ length: CONCURRENT + 2 }, () => "none");
    server = await startChild(
      [...nodeOptions, "--import", PEAK_RSS_PRELOAD, "--input-type=module", "-e", BARE_SERVER],
      { BARE_DIR: dataDir },
    );
  }
  const pid = server.child.pid!;
  try {
    // Warm up: one upload (and so one dispatch: Octokit's fetch loads undici on first use).
    await uploadSubmission({ server: server.url, token: tokens[CONCURRENT + 1]! }, { zipPath: small });
    await sleep(1500);
    const warmRss = await vmRss(pid);

    const times: number[] = [];
    const wallStart = performance.now();
    await Promise.all(
      tokens.slice(0, CONCURRENT).map(async (token) => {
        const start = performance.now();
        await uploadSubmission({ server: server.url, token }, { zipPath: small });
        times.push(performance.now() - start);
      }),
    );
    const wallMs = performance.now() - wallStart;

    const start = performance.now();
    const big = await uploadSubmission(
      { server: server.url, token: tokens[CONCURRENT]! },
      { zipPath: large },
    );
    const largeMs = performance.now() - start;
    if (big.submission.zip_bytes < (await stat(large)).size) {
      throw new Error("the large upload was not stored whole");
    }
    const hwm = await vmHwm(pid);
    const exited = new Promise<void>((resolve) => server.child.on("close", () => resolve()));
    server.child.kill("SIGTERM");
    await exited;
    const kb = /PEAK_RSS_KB=(\d+)/.exec(server.stderr())?.[1];
    const peakRss = Math.max(hwm ?? 0, kb ? Number(kb) * 1024 : 0);
    return { times, wallMs, largeMs, peakRss, warmRss };
  } finally {
    if (server.child.exitCode === null) server.child.kill("SIGKILL");
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function vmRss(pid: number): Promise<number | null> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => null);
  const kb = status && /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : null;
}

export async function benchGateway(): Promise<void> {
  if (!existsSync(CLI))
    throw new Error(`${CLI} is missing: run \`npm run build\` first (npm run bench does)`);
  const work = await mkdtemp(path.join(os.tmpdir(), "proctor-bench-gateway-"));
  const fake = await startFakeGitHub();
  fake.addRepo("org", "comp");
  try {
    await writeFile(
      path.join(work, "competition.yml"),
      [
        "name: Gateway bench",
        "runtime: { image: proctor/runtime }",
        "limits: { zip: { max_size: 2g, max_total: 4g } }",
        "paths: { data_dir: data, ground_truth: gt.csv, submission_format: format.yml }",
        "scoring: { metric: accuracy, direction: higher }",
        "",
      ].join("\n"),
    );
    const small = path.join(work, "small.zip");
    const large = path.join(work, "large.zip");
    await makeZip(small, SMALL_BYTES);
    await makeZip(large, LARGE_BYTES);
    const smallBytes = (await stat(small)).size;
    const largeBytes = (await stat(large)).size;

    const github = { url: fake.url, token: fake.token };
    const bare = await serverRun(work, null, [], small, large);
    const tuned = await serverRun(work, github, [RECOMMENDED_NODE_OPTIONS], small, large);
    const plain = await serverRun(work, github, [], small, large);

    const mbps = (bytes: number, millis: number) => `${(bytes / MB / (millis / 1000)).toFixed(0)} MB/s`;
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
    const w = [46, 26, 26, 28];
    console.log(
      `${CONCURRENT} concurrent uploads of ${mb(smallBytes)}, then one of ${mb(largeBytes)}; ` +
        `baseline: a bare node:http server streaming bodies through sha256 to disk`,
    );
    console.log(row(["proctor serve", "value", "baseline (bare)", "ratio / target"], w));
    for (const [label, r] of [
      [`node ${RECOMMENDED_NODE_OPTIONS} (recommended)`, tuned],
      ["node defaults", plain],
    ] as const) {
      console.log(`${label}:`);
      console.log(
        row(
          [
            "  concurrent: median per upload (slowest)",
            `${ms(median(r.times))} (${ms(Math.max(...r.times))})`,
            `${ms(median(bare.times))} (${ms(Math.max(...bare.times))})`,
            `${ratio(median(r.times), median(bare.times))} the baseline's time`,
          ],
          w,
        ),
      );
      console.log(
        row(
          [
            "  concurrent: throughput",
            mbps(smallBytes * CONCURRENT, r.wallMs),
            mbps(smallBytes * CONCURRENT, bare.wallMs),
            `${ratio(bare.wallMs, r.wallMs)} the baseline's`,
          ],
          w,
        ),
      );
      console.log(
        row(
          [
            `  one ${mb(largeBytes)} upload, streamed`,
            `${ms(r.largeMs)} (${mbps(largeBytes, r.largeMs)})`,
            `${ms(bare.largeMs)} (${mbps(largeBytes, bare.largeMs)})`,
            `${ratio(bare.largeMs, r.largeMs)} the baseline's speed`,
          ],
          w,
        ),
      );
      console.log(
        row(
          [
            "  server peak RSS (VmHWM, getrusage)",
            `${mb(r.peakRss)} (warm ${r.warmRss === null ? "?" : mb(r.warmRss)})`,
            `${mb(bare.peakRss)} (warm ${bare.warmRss === null ? "?" : mb(bare.warmRss)})`,
            `< ${mb(RSS_TARGET)}: ${verdict(r.peakRss > 0 && r.peakRss < RSS_TARGET)}`,
          ],
          w,
        ),
      );
    }
  } finally {
    await fake.close();
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  await benchGateway();
}
