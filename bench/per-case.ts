/**
 * Grand Challenge's per-case contract: a participant's image run once per case (CASES cases, a model
 * tarball), against the baseline of the same work by hand in the same run: `docker load` of the archive,
 * then one bare `docker run --rm --network none` per case with the case mounted at /input and a folder at
 * /output, then `docker rmi`. proctor adds per case: inputs.json, a sandboxed container with every limit,
 * an output volume held and copied out, and the collected table; per submission: the archive's inspection
 * and the model's extraction. Target: ≤ 1.5× the bare loop.
 *
 *   npm run bench per-case
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { DEFAULT_IMAGE_SUBMISSION, runImageSubmission } from "../src/pipeline/run-image.js";
import { loadSubmissionFormat } from "../src/scoring/index.js";
import { DEFAULT_LIMITS } from "../src/sandbox/index.js";
import { saveAlgorithmImage } from "../src/sandbox/test-support/algorithm-image.js";
import { baseImage, median, ms, pairedRatio, run, timeInterleaved, verdict } from "./support.js";

const CASES = Number(process.env.BENCH_CASES ?? 10);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const TARGET = 1.5;
const SCRIPT = `#!/bin/sh
read -r value < /input/value.txt
read -r bias < /opt/ml/model/bias.txt
printf '%s\\n' "$((value + bias))" > /output/rfs.json
`;

export async function benchPerCase(): Promise<void> {
  const base = baseImage();
  const dir = await mkdtemp(path.join(os.tmpdir(), "proctor-bench-per-case-"));
  const algorithm = await saveAlgorithmImage(base, { script: SCRIPT });
  try {
    const cases = path.join(dir, "cases");
    for (let i = 0; i < CASES; i++) {
      await mkdir(path.join(cases, `case-${i}`), { recursive: true });
      await writeFile(path.join(cases, `case-${i}`, "value.txt"), `${i}\n`);
    }
    await mkdir(path.join(dir, "model"));
    await writeFile(path.join(dir, "model", "bias.txt"), "2\n");
    const model = path.join(dir, "model.tar.gz");
    execFileSync("tar", ["-czf", model, "-C", path.join(dir, "model"), "."]);
    await writeFile(
      path.join(dir, "format.yml"),
      "file: predictions.csv\nid_column: case_id\ncolumns:\n  - { name: case_id, type: string }\n  - { name: rfs, type: float }\n",
    );
    const format = await loadSubmissionFormat(path.join(dir, "format.yml"));
    let n = 0;
    const out = async () => {
      const folder = path.join(dir, `out-${++n}`);
      await mkdir(folder, { mode: 0o777 });
      return folder;
    };

    const bare = async () => {
      const loaded = await run("docker", ["load", "-q", "-i", algorithm.path]);
      const id = loaded.stdout.trim().split(/\s+/).pop()!;
      try {
        for (let i = 0; i < CASES; i++) {
          const output = await out();
          await run("docker", [
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            `${path.join(cases, `case-${i}`)}:/input:ro`,
            "-v",
            `${path.join(dir, "model")}:/opt/ml/model:ro`,
            "-v",
            `${output}:/output`,
            id,
          ]);
        }
      } finally {
        await run("docker", ["rmi", "-f", id]);
      }
    };
    const proctor = async () => {
      const result = await runImageSubmission({
        archivePath: algorithm.path,
        helperImage: base,
        dataDir: cases,
        outputDir: await out(),
        limits: DEFAULT_LIMITS,
        image: {
          ...DEFAULT_IMAGE_SUBMISSION,
          perCase: { maxModelBytes: 2 ** 30, maxModelUncompressedBytes: 2 ** 30, outputs: {} },
        },
        format,
        modelPath: model,
      });
      if (result.status !== "succeeded") throw new Error(`per-case run ${result.status}: ${result.reason}`);
    };
    const times = await timeInterleaved({ bare, proctor }, REPS);
    const ratio = pairedRatio(times.proctor, times.bare);
    console.log(`  ${CASES} cases, one image, a model tarball (median of ${REPS}, interleaved)`);
    console.log(`    bare docker load + ${CASES} × docker run + rmi          ${ms(median(times.bare))}`);
    console.log(
      `    proctor per case (sandboxed, inputs.json, collected)    ${ms(median(times.proctor))}  ${ratio.toFixed(2)}×  (target ≤ ${TARGET}×: ${verdict(ratio <= TARGET)})`,
    );
    console.log(
      `    per case: bare ${ms(median(times.bare) / CASES)}, proctor ${ms(median(times.proctor) / CASES)}`,
    );
  } finally {
    await algorithm.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}
