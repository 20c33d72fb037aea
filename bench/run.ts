/**
 * Sandboxed-run benchmarks, each against a baseline measured in the same run:
 *  (a) `proctor run` of a trivial submission vs bare `docker run --rm --network none <image> python3 -c pass`
 *      (target ≤ 1.25× cold, ≤ 1.1× in-process), as a cold CLI and as the in-process call a runner makes;
 *  (c) a 1 GiB stdout flood: proctor's peak RSS (target < 150 MB);
 *  (d) gVisor's costs where the engine has runsc: the trivial run and a numpy workload, runsc vs runc.
 */
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { writeZip } from "../test/support/zips.js";
import { runSubmission } from "../src/pipeline/run-submission.js";
import { DEFAULT_LIMITS, engineRuntimes } from "../src/sandbox/index.js";
import {
  baseImage,
  mb,
  median,
  ms,
  pairedRatio,
  PEAK_RSS_PRELOAD,
  run,
  timeInterleaved,
  timeIt,
  verdict,
} from "./support.js";

const REPS = Number(process.env.BENCH_REPS ?? 9);
const CLI = path.resolve("build/proctor.mjs");

export async function benchRun(): Promise<void> {
  const image = baseImage();
  const dir = await mkdtemp(path.join(os.tmpdir(), "proctor-bench-run-"));
  try {
    const data = path.join(dir, "data");
    await mkdir(data);
    await writeFile(path.join(data, "x.csv"), "id\n1\n");
    const trivial = await writeZip(path.join(dir, "trivial.zip"), { "main.py": "pass\n" });
    let n = 0;
    const out = () => path.join(dir, `out-${++n}`);

    const proctorRun = (zip: string, nodeArgs: string[] = []) =>
      run(process.execPath, [
        ...nodeArgs,
        CLI,
        "run",
        "--submission",
        zip,
        "--image",
        image,
        "--data",
        data,
        "--output",
        out(),
        "--json",
      ]);
    // Interleaved, so a load that drifts meanwhile weighs on the baseline and proctor alike.
    const times = await timeInterleaved(
      {
        bare: () => run("docker", ["run", "--rm", "--network", "none", image, "python3", "-c", "pass"]),
        inProcess: () =>
          runSubmission({ zipPath: trivial, image, dataDir: data, outputDir: out(), limits: DEFAULT_LIMITS }),
        cli: () => proctorRun(trivial),
      },
      REPS,
    );
    const b = median(times.bare);
    const line = (what: string, t: number[], target: number) => {
      const ratio = pairedRatio(t, times.bare);
      return `    ${what.padEnd(55)}${ms(median(t))}  ${ratio.toFixed(2)}×  (target ≤ ${target}×: ${verdict(ratio <= target)})`;
    };
    console.log(
      `\n(a) trivial submission, median of ${REPS} rounds (image ${image}); ratios: median of each round's pair`,
    );
    console.log(`    bare docker run --rm --network none … python3 -c pass   ${ms(b)}`);
    console.log(line("proctor run, in-process (runner)", times.inProcess, 1.1));
    console.log(line("proctor run, cold CLI (node start + run)", times.cli, 1.25));

    const floodZip = await writeZip(path.join(dir, "flood.zip"), {
      "main.py": `import sys, os\nchunk = b"x" * 1023 + b"\\n"\nw = sys.stdout.buffer\nfor _ in range(1024 * 1024):\n    w.write(chunk)\n`,
    });
    const started = performance.now();
    const flood = await proctorRun(floodZip, ["--import", PEAK_RSS_PRELOAD]);
    const floodMs = performance.now() - started;
    const result = JSON.parse(flood.stdout) as {
      status: string;
      stdout_bytes: number;
      stdout_line_count: number;
    };
    console.log(
      `\n(c) 1 GiB stdout flood through proctor run (${result.status}, ${mb(result.stdout_bytes)} captured as head+tail, ${result.stdout_line_count} lines counted, ${ms(floodMs)})`,
    );
    console.log(
      `    proctor peak RSS                                       ${mb(flood.maxRssBytes ?? NaN)}  (target < 150 MB: ${verdict((flood.maxRssBytes ?? Infinity) < 150 * 1024 ** 2)})`,
    );

    await benchRunsc(image, data, out, trivial, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** numpy: matrix products (pure computation) and many small file writes in /tmp (system calls). */
const NUMPY_WORKLOAD = `import numpy as np, os
a = np.random.default_rng(0).random((400, 400))
for _ in range(30):
    a = (a @ a) / 400
for i in range(2000):
    with open(f"/tmp/f{i % 50}", "w") as f:
        f.write("x" * 1000)
np.savetxt("/code_execution/submission/submission.csv", a[:5], delimiter=",")
`;

async function benchRunsc(image: string, data: string, out: () => string, trivial: string, dir: string) {
  if (!(await engineRuntimes()).includes("runsc")) {
    console.log(
      "\n(d) runsc is not registered with this engine: gVisor's costs not measured (scripts/ensure-engine.sh)",
    );
    return;
  }
  const numpy = await writeZip(path.join(dir, "numpy.zip"), { "main.py": NUMPY_WORKLOAD });
  const reps = Math.max(3, Math.ceil(REPS / 2));
  const under = (zip: string, runtime: string) =>
    timeIt(async () => {
      const result = await runSubmission({
        zipPath: zip,
        image,
        dataDir: data,
        outputDir: out(),
        limits: { ...DEFAULT_LIMITS, runtime },
      });
      if (result.exitCode !== 0) throw new Error(`${runtime} run ${result.status}: ${result.reason}`);
    }, reps);
  console.log(`\n(d) gVisor (runsc, as registered with this engine) vs runc, in-process, median of ${reps}`);
  for (const [name, zip] of [
    ["trivial submission", trivial],
    ["numpy workload (matmul + 2000 small writes)", numpy],
  ] as const) {
    const runc = median(await under(zip, "runc"));
    const runsc = median(await under(zip, "runsc"));
    console.log(`    ${name.padEnd(44)} runc ${ms(runc)}  runsc ${ms(runsc)}  ${(runsc / runc).toFixed(2)}×`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchRun();
