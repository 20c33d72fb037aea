import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { writeZip } from "../../test/support/zips.js";
import { loadCompetition, type Competition } from "../config/index.js";
import { MemoryLeaderboardStore } from "../leaderboard/index.js";
import { evaluateSubmission } from "../pipeline/evaluate.js";
import { sweepExpired } from "../sandbox/cleanup.js";
import { engine } from "../sandbox/engine.js";
import { ensureImage } from "../sandbox/image.js";
import { ensureModelsVolume, MODELS_LABEL, type ModelsMount } from "../sandbox/models-volume.js";
import { startRegistry, type LocalRegistry } from "../sandbox/test-support/registry.js";
import { checkModels } from "./models-check.js";
import { packModels, pushModels } from "./models-image.js";
import { loadModels, type ModelsManifest } from "./models.js";
import { writeModelFiles } from "./test-support/model-files.js";

/**
 * The whole models path on the real engine, offline: a model listed with a file: source is checked, packed
 * into the models image, pushed to a local registry, copied into a models volume and mounted read-only in
 * a run whose program predicts with it; the volume is reused, and swept only once its own lease is over.
 */
const image = inject("baseImage");
let registry: LocalRegistry;
let dir: string;
let repository: string;
let manifest: ModelsManifest;
let competition: Competition;
/** Every models digest this file labels containers and volumes with: only these are removed after. */
const digests: string[] = [];

beforeAll(async () => {
  registry = await startRegistry();
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-models-image-"));
  repository = `${registry.address}/proctor-test/runtime-${process.pid}`;
  for (const item of ["data", "submission_format"]) await cp(item, path.join(dir, item), { recursive: true });
  const lines = await writeModelFiles(path.join(dir, "weights"), {
    "model.json": await readFile("example_submission/model.json"),
  });
  await writeFile(
    path.join(dir, "models.yml"),
    `models:\n  - name: penguins\n    licence: MIT\n    source: { url: ./weights/ }\n    files:\n      - ${lines[0]}\n`,
  );
  await writeFile(
    path.join(dir, "competition.yml"),
    `name: Models
runtime: { image: ${repository}, models: models.yml }
limits: { time: 60s, memory: 512m, cpus: 1 }
paths: { data_dir: data/test_features, ground_truth: data/ground_truth.csv, submission_format: submission_format/format.yml }
scoring: { metric: f1_macro, direction: higher }
`,
  );
  manifest = await loadModels(path.join(dir, "models.yml"));
  digests.push(manifest.digest);
});

afterAll(async () => {
  const docker = engine();
  for (const digest of digests) {
    const filters = JSON.stringify({ label: [`${MODELS_LABEL}=${digest}`] });
    for (const c of await docker.listContainers({ all: true, filters }))
      await docker.getContainer(c.Id).remove({ force: true });
    for (const v of (await docker.listVolumes({ filters })).Volumes ?? [])
      await docker.getVolume(v.Name).remove({ force: true });
  }
  if (manifest)
    await docker
      .getImage(`${repository}:models-${manifest.digest}`)
      .remove()
      .catch(() => undefined);
  await registry.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The example's predictions, from the model in the models volume (none in the zip). */
const MAIN = `import json, pathlib
import numpy as np
import pandas as pd

models = pathlib.Path("/code_execution/models")
model = json.loads((models / "penguins" / "model.json").read_text())
try:
    (models / "penguins" / "mine.txt").write_text("x")
    print("models folder: writable")
except OSError as error:
    print(f"models folder: not writable ({error.strerror})")
features = pd.read_csv("/code_execution/data/features.csv")
x = (features[model["features"]].to_numpy(dtype=float) - np.array(model["mean"])) / np.array(model["scale"])
logits = x @ np.array(model["coef"]).T + np.array(model["intercept"])
species = np.array(model["classes"])[logits.argmax(axis=1)]
pd.DataFrame({"id": features["id"], "species": species}).to_csv("/code_execution/submission/submission.csv", index=False)
`;

const readyMarkers = async (digest: string) =>
  (
    await engine().listContainers({
      all: true,
      filters: JSON.stringify({ label: [`${MODELS_LABEL}=${digest}`] }),
    })
  ).filter((c) => !c.Names.some((n) => n.includes("filling")));

describe("the models image and volume", () => {
  it("checks, packs and pushes the models image (FROM scratch, the files at /code_execution/models), which pulls back", async () => {
    const checked = await checkModels(manifest, path.join(dir, "cache"));
    const built = await packModels(manifest, checked, repository);
    expect(built.tag).toBe(`${repository}:models-${manifest.digest}`);
    const info = await engine().getImage(built.tag).inspect();
    expect(info.Config.Labels).toMatchObject({ [MODELS_LABEL]: manifest.digest });
    // One layer: the files, nothing of a base image.
    expect(info.RootFS.Layers).toHaveLength(1);
    expect(built.sizeBytes).toBe(manifest.totalBytes);
    const digest = await pushModels(repository, manifest, {
      username: registry.username,
      password: registry.password,
      serveraddress: registry.address,
    });
    const name = repository.slice(registry.address.length + 1);
    const manifestResponse = await fetch(
      `http://${registry.address}/v2/${name}/manifests/models-${manifest.digest}`,
      {
        headers: {
          authorization: `Basic ${Buffer.from(`${registry.username}:${registry.password}`).toString("base64")}`,
          accept: "application/vnd.docker.distribution.manifest.v2+json",
        },
      },
    );
    expect(manifestResponse.status).toBe(200);
    expect(manifestResponse.headers.get("docker-content-digest")).toBe(digest);
    // What the runs below mount is what the registry holds: the local copy goes, and is pulled back.
    await engine().getImage(built.tag).remove();
    const pulled = await ensureImage(built.tag, {
      auth: { username: registry.username, password: registry.password, serveraddress: registry.address },
    });
    expect(pulled).toMatchObject({ pulled: true, digest: `${repository}@${digest}` });
  });

  it("mounts it read-only in a zip run, whose program predicts with it; a second run reuses the volume", async () => {
    competition = await loadCompetition(path.join(dir, "competition.yml"));
    expect(competition.models).toEqual({
      image: `${repository}:models-${manifest.digest}`,
      digest: manifest.digest,
      files: [{ target: "penguins/model.json", size: manifest.totalBytes }],
    });
    const zip = await writeZip(path.join(dir, "submission.zip"), { "main.py": MAIN });
    const run = () =>
      evaluateSubmission({
        competition,
        zipPath: zip,
        image,
        participant: "ada",
        phase: "local",
        store: new MemoryLeaderboardStore(),
      });
    const first = await run();
    expect(first.status, `${first.reason}\n${first.run.stderr.text}`).toBe("succeeded");
    expect(first.scores.public).toBeGreaterThan(0.85);
    expect(first.run.stdout.text).toContain("models folder: not writable (Read-only file system)");
    // The entry records which models made the score (issue 21, point 4).
    expect(first.entry.modelsDigest).toBe(`sha256:${manifest.digest}`);
    const [marker] = await readyMarkers(manifest.digest);
    expect(marker).toBeDefined();
    const volume = marker!.Mounts.find((m) => m.Destination === "/code_execution/models")!.Name!;

    const second = await run();
    expect(second.status).toBe("succeeded");
    const markers = await readyMarkers(manifest.digest);
    expect(markers.map((m) => m.Id)).toEqual([marker!.Id]);
    const again = await ensureModelsVolume(competition.models!, { needMs: 60_000 });
    expect(again).toMatchObject({ name: volume, filled: false });
    // Leftovers of the runs are gone; the volume and its marker stay, within their lease.
    await sweepExpired();
    expect(await engine().getVolume(volume).inspect()).toMatchObject({ Name: volume });
  });

  it("a models volume is swept by its own lease only: kept within it, removed after it", async () => {
    const models: ModelsMount = { ...competition.models!, digest: `sweep-${process.pid}-${Date.now()}` };
    digests.push(models.digest);
    const made = await ensureModelsVolume(models, { needMs: 0, leaseMs: 3_000 });
    expect(made.filled).toBe(true);
    await sweepExpired();
    expect((await readyMarkers(models.digest)).length).toBe(1);
    await engine().getVolume(made.name).inspect();
    // A run that needs it longer than its lease gets a fresh one (and the old one stays until swept).
    const fresh = await ensureModelsVolume(models, { needMs: 60_000, leaseMs: 3_000 });
    expect(fresh.name).not.toBe(made.name);
    await new Promise((r) => setTimeout(r, Math.max(0, fresh.lease - Date.now()) + 100));
    await sweepExpired();
    expect(await readyMarkers(models.digest)).toEqual([]);
    for (const name of [made.name, fresh.name])
      await expect(engine().getVolume(name).inspect()).rejects.toThrow(/no such volume/i);
    // The competition's own volume, within its lease, is untouched.
    expect((await readyMarkers(manifest.digest)).length).toBe(1);
  });

  it("a fill that misses a listed file fails naming it, and leaves no volume or container behind", async () => {
    const models: ModelsMount = {
      ...competition.models!,
      digest: `broken-${process.pid}-${Date.now()}`,
      files: [{ target: "penguins/model.json", size: 1 }],
    };
    digests.push(models.digest);
    await expect(ensureModelsVolume(models, { needMs: 0 })).rejects.toThrow(
      /the models volume did not get penguins\/model\.json from .* \(\d+ bytes, 1 expected\)/,
    );
    const filters = JSON.stringify({ label: [`${MODELS_LABEL}=${models.digest}`] });
    expect(await engine().listContainers({ all: true, filters })).toEqual([]);
    expect((await engine().listVolumes({ filters })).Volumes ?? []).toEqual([]);
  });

  it("a models image this engine lacks (and cannot pull) is an infrastructure error, never the participant's", async () => {
    const missing: Competition = {
      ...competition,
      models: {
        ...competition.models!,
        image: `${repository}:models-${"0".repeat(64)}`,
        digest: "0".repeat(64),
      },
    };
    digests.push("0".repeat(64));
    const zip = await writeZip(path.join(dir, "missing.zip"), { "main.py": MAIN });
    const result = await evaluateSubmission({
      competition: missing,
      zipPath: zip,
      image,
      participant: "ada",
      phase: "local",
      store: new MemoryLeaderboardStore(),
    });
    expect(result.status).toBe("infrastructure_error");
    expect(result.reason).toMatch(
      /models image .* is not on this engine and could not be pulled; run make pull-models/,
    );
    expect(result.entry.modelsDigest).toBeUndefined();
  });
});
