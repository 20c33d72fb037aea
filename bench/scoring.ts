/**
 * Benchmark: validate + score a 1M-row multi-class submission (macro F1, public and private) with proctor,
 * against pandas + scikit-learn doing the same job, both in child processes, in the same run.
 *
 *   npx tsx bench/scoring.ts            (or through npm run bench, which calls benchScoring())
 *
 * The data (1M-row predictions and ground truth with a Usage column) is generated once and cached in
 * os.tmpdir(). The baseline needs Debian's /usr/bin/python3 with python3-pandas and python3-sklearn.
 * Target: proctor / pandas ≤ 1.0× (median wall time, process start included on both sides).
 */
import { spawn } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROWS = 1_000_000;
const CLASSES = ["adelie", "chinstrap", "gentoo", "emperor", "king"];
const REPS = 3;
const PYTHON = "/usr/bin/python3";
const DATA_DIR = join(tmpdir(), `proctor-bench-scoring-v1-${ROWS}`);

const FORMAT_YAML = `id_column: id
columns:
  - {name: id, type: string}
  - {name: species, type: category, categories: [${CLASSES.join(", ")}]}
`;

const PANDAS_SCRIPT = String.raw`
import json, resource, sys, time
import pandas as pd
from sklearn.metrics import f1_score

predictions_path, truth_path = sys.argv[1], sys.argv[2]
categories = json.loads(sys.argv[3])
start = time.perf_counter()
p = pd.read_csv(predictions_path, dtype={"id": str})
g = pd.read_csv(truth_path, dtype={"id": str})
# The same checks as proctor: header, no empty/NaN cells, types, categories, id set equality.
assert list(p.columns) == ["id", "species"], "header"
assert not p.isna().any().any(), "empty cells"
assert p["id"].dtype == object and p["species"].dtype == object, "dtypes"
assert p["species"].isin(categories).all(), "categories"
assert not p["id"].duplicated().any(), "duplicate ids"
assert set(p["id"]) == set(g["id"]), "id set"
m = g.merge(p, on="id", suffixes=("_true", "_pred"))
usage = m["Usage"].str.lower()
scores = {}
for part in ("public", "private"):
    rows = usage == part
    scores[part] = f1_score(m["species_true"][rows], m["species_pred"][rows], average="macro")
scores["inner_ms"] = (time.perf_counter() - start) * 1000
scores["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(scores))
`;

/** Small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function writeLines(
  path: string,
  header: string,
  line: (i: number) => string,
  n: number,
): Promise<void> {
  const out = createWriteStream(`${path}.part`);
  const write = async (text: string): Promise<void> => {
    if (!out.write(text)) await once(out, "drain");
  };
  await write(header + "\n");
  let batch: string[] = [];
  for (let i = 0; i < n; i++) {
    batch.push(line(i));
    if (batch.length === 10_000) {
      await write(batch.join("\n") + "\n");
      batch = [];
    }
  }
  if (batch.length > 0) await write(batch.join("\n") + "\n");
  out.end();
  await once(out, "finish");
  await rename(`${path}.part`, path);
}

export interface BenchData {
  predictionsPath: string;
  groundTruthPath: string;
  formatPath: string;
}

/** Generates (once; cached in the OS temp folder) the 1M-row predictions and ground truth. */
export async function benchData(): Promise<BenchData> {
  const data = {
    predictionsPath: join(DATA_DIR, "submission.csv"),
    groundTruthPath: join(DATA_DIR, "ground_truth.csv"),
    formatPath: join(DATA_DIR, "format.yml"),
  };
  if (existsSync(join(DATA_DIR, "done"))) return data;
  await mkdir(DATA_DIR, { recursive: true });
  const random = prng(42);
  const id = (i: number): string => `id_${i.toString(36).padStart(5, "0")}`;
  const truth = new Uint8Array(ROWS);
  const usage = new Uint8Array(ROWS);
  for (let i = 0; i < ROWS; i++) {
    truth[i] = Math.floor(random() * CLASSES.length);
    usage[i] = random() < 0.3 ? 0 : 1;
  }
  const order = Int32Array.from({ length: ROWS }, (_, i) => i);
  for (let i = ROWS - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const predicted = Uint8Array.from(truth, (t) =>
    random() < 0.7 ? t : Math.floor(random() * CLASSES.length),
  );
  await writeLines(
    data.groundTruthPath,
    "id,species,Usage",
    (i) => `${id(i)},${CLASSES[truth[i]!]},${usage[i] === 0 ? "Public" : "Private"}`,
    ROWS,
  );
  await writeLines(
    data.predictionsPath,
    "id,species",
    (k) => `${id(order[k]!)},${CLASSES[predicted[order[k]!]!]}`,
    ROWS,
  );
  await writeFile(data.formatPath, FORMAT_YAML);
  await writeFile(join(DATA_DIR, "done"), "");
  return data;
}

interface RunResult {
  wallMs: number;
  innerMs: number;
  maxRssMb: number;
  public: number;
  private: number;
}

function runChild(command: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const wallMs = performance.now() - started;
      if (code !== 0) {
        reject(new Error(`${command} ${args.join(" ")} exited ${code}: ${stderr.slice(-2000)}`));
        return;
      }
      const out = JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, number>;
      resolve({
        wallMs,
        innerMs: out.inner_ms!,
        maxRssMb: out.max_rss_mb!,
        public: out.public!,
        private: out.private!,
      });
    });
  });
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** The proctor side, run in the child process: load the format, validate + score in one pass. */
async function child(dir: string): Promise<void> {
  const started = performance.now();
  const { loadSubmissionFormat, scorePredictions } = await import("../src/scoring/index.js");
  const format = await loadSubmissionFormat(join(dir, "format.yml"));
  const result = await scorePredictions({
    predictionsPath: join(dir, "submission.csv"),
    groundTruthPath: join(dir, "ground_truth.csv"),
    format,
    metric: "f1_macro",
  });
  const innerMs = performance.now() - started;
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(
    JSON.stringify({
      public: result.public,
      private: result.private,
      inner_ms: innerMs,
      max_rss_mb: maxRssMb,
    }),
  );
}

export async function benchScoring(): Promise<void> {
  const data = await benchData();
  const self = fileURLToPath(import.meta.url);
  const proctorArgs = ["--import", "tsx", self, "--child", DATA_DIR];
  const pandasArgs = [
    "-c",
    PANDAS_SCRIPT,
    data.predictionsPath,
    data.groundTruthPath,
    JSON.stringify(CLASSES),
  ];
  const proctor: RunResult[] = [];
  const pandas: RunResult[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    proctor.push(await runChild(process.execPath, proctorArgs));
    pandas.push(await runChild(PYTHON, pandasArgs));
  }
  for (const part of ["public", "private"] as const) {
    const a = proctor[0]![part];
    const b = pandas[0]![part];
    if (Math.abs(a - b) > 1e-9 * Math.abs(b))
      throw new Error(`${part} macro F1 differs: proctor ${a}, sklearn ${b}`);
  }
  const row = (name: string, runs: RunResult[]): string =>
    `  ${name.padEnd(26)} wall ${median(runs.map((r) => r.wallMs))
      .toFixed(0)
      .padStart(6)} ms` +
    `   in-process ${median(runs.map((r) => r.innerMs))
      .toFixed(0)
      .padStart(6)} ms` +
    `   peak RSS ${median(runs.map((r) => r.maxRssMb))
      .toFixed(0)
      .padStart(5)} MiB`;
  const ratio = median(proctor.map((r) => r.wallMs)) / median(pandas.map((r) => r.wallMs));
  const innerRatio = median(proctor.map((r) => r.innerMs)) / median(pandas.map((r) => r.innerMs));
  console.log(
    `scoring: validate + macro F1 (public/private) of ${ROWS.toLocaleString("en")} rows, median of ${REPS}`,
  );
  console.log(row("proctor (node, tsx)", proctor));
  console.log(row("pandas + scikit-learn", pandas));
  console.log(
    `  ratio proctor/pandas: ${ratio.toFixed(2)}x wall, ${innerRatio.toFixed(2)}x in-process (target <= 1.00x) ` +
      (ratio <= 1 ? "OK" : "MISSED"),
  );
  console.log(
    `  scores agree: public ${proctor[0]!.public.toFixed(12)}, private ${proctor[0]!.private.toFixed(12)}`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const at = process.argv.indexOf("--child");
  const run = at >= 0 ? child(process.argv[at + 1]!) : benchScoring();
  run.catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
