/**
 * A Grand Challenge algorithm and its model tarball, from `proctor submit --model` to a score: uploaded
 * through a real gateway on 127.0.0.1, claimed by a pull runner on the real engine, run once per case with
 * the model at /opt/ml/model. The same image without its model fails as it would on Grand Challenge.
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadCompetition } from "../config/index.js";
import { createGateway, type Gateway } from "../gateway/index.js";
import { getSubmission, uploadSubmission, type SubmissionView } from "../gateway-api/index.js";
import { labelledContainers, removeLabelled } from "../sandbox/index.js";
import { saveAlgorithmImage, type AlgorithmArchive } from "../sandbox/test-support/algorithm-image.js";
import { CLAIM_LABEL, PullRunner } from "./index.js";

/** Reads its case's value and the model's bias; writes their sum as the one output socket (rfs.json). */
const CASE_SCRIPT = `#!/bin/sh
read -r bias < /opt/ml/model/weights/bias.txt || { echo "no model" >&2; exit 4; }
read -r value < /input/value.txt
printf '%s\\n' "$((value + bias))" > /output/rfs.json
`;

const base = inject("baseImage");
let work: string;
let gateway: Gateway;
let algorithm: AlgorithmArchive;
let model: string;
const made: string[] = [];

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), "proctor-runner-model-"));
  const rows = ["case_id,rfs,usage"];
  for (const [id, value] of [
    ["case-a", 3],
    ["case-b", 5],
  ] as const) {
    await mkdir(path.join(work, "cases", id), { recursive: true });
    await writeFile(path.join(work, "cases", id, "value.txt"), `${value}\n`);
    rows.push(`${id},${value + 2},Public`);
  }
  await writeFile(path.join(work, "ground_truth.csv"), rows.join("\n") + "\n");
  await writeFile(
    path.join(work, "format.yml"),
    "file: predictions.csv\nid_column: case_id\ncolumns:\n  - { name: case_id, type: string }\n  - { name: rfs, type: float }\n",
  );
  await writeFile(
    path.join(work, "competition.yml"),
    `name: Per case
runtime: { image: proctor/runtime }
limits: { time: 120s, memory: 256m, cpus: 1 }
submission: { kind: image, image: { contract: grand-challenge, case_time: 60s, outputs: { rfs: rfs.json } } }
paths: { data_dir: cases, ground_truth: ground_truth.csv, submission_format: format.yml }
scoring: { metric: mae, direction: lower, usage_column: usage }
logs: { evaluation: full }
`,
  );
  await mkdir(path.join(work, "model", "weights"), { recursive: true });
  await writeFile(path.join(work, "model", "weights", "bias.txt"), "2\n");
  model = path.join(work, "model.tar.gz");
  execFileSync("tar", ["-czf", model, "-C", path.join(work, "model"), "."]);
  algorithm = await saveAlgorithmImage(base, { script: CASE_SCRIPT, gzip: true });

  const competition = await loadCompetition(path.join(work, "competition.yml"));
  gateway = createGateway({ competition, dataDir: path.join(work, "gateway"), rateLimit: false });
  await gateway.app.listen({ port: 0, host: "127.0.0.1" });
});

afterAll(async () => {
  await gateway?.close();
  await algorithm?.cleanup();
  for (const c of await labelledContainers(CLAIM_LABEL))
    if (made.some((id) => c.value.startsWith(`${id}.`))) await removeLabelled(CLAIM_LABEL, c.value);
  await rm(work, { recursive: true, force: true });
});

describe("a pull runner and a model tarball", () => {
  it(
    "runs the image once per case with the model it was uploaded with, and scores it",
    { timeout: 600_000 },
    async () => {
      const participant = { server: gateway.publicUrl(), token: gateway.intake.tokens.add("ada").token };
      const withModel = await uploadSubmission(participant, { zipPath: algorithm.path, modelPath: model });
      const without = await uploadSubmission(participant, { zipPath: algorithm.path });
      const ids = [withModel.submission.submission_id, without.submission.submission_id];
      made.push(...ids);

      const runner = new PullRunner({
        gateway: { server: gateway.publicUrl(), token: gateway.intake.runners.add("model-runner").token },
        kind: "cpu",
        slots: 1,
        competition: gateway.intake.competition,
        image: base,
        local: true,
        name: "model-runner",
        waitMs: 1000,
        log: (event) => events.push(JSON.stringify(event)),
      });
      const events: string[] = [];
      void runner.start();
      const finals: SubmissionView[] = [];
      try {
        for (const id of ids) {
          for (;;) {
            const view = await getSubmission(participant, id);
            if (view.state === "final") {
              finals.push(view);
              break;
            }
            await new Promise((resolve) => setTimeout(resolve, 500));
          }
        }
      } finally {
        await runner.drain();
      }
      expect(finals[0], events.join("\n")).toMatchObject({ status: "succeeded", public_score: 0 });
      // Without the model, the algorithm finds nothing at /opt/ml/model, as on Grand Challenge.
      expect(finals[1]).toMatchObject({ status: "failed" });
      expect(finals[1]!.reason).toMatch(/exit(ed)?( with)?( code)? 4|code 4/);
    },
  );
});
