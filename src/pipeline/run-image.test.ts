import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadCompetition, type Competition } from "../config/index.js";
import { MemoryLeaderboardStore } from "../leaderboard/index.js";
import { ImageLoadError, LOADED_REPOSITORY, loadImageArchive, newRunId } from "../sandbox/index.js";
import {
  engineHasImage,
  PREDICT_SH,
  saveAlgorithmImage,
  tagsIn,
  type AlgorithmArchive,
} from "../sandbox/test-support/algorithm-image.js";
import { TEST_LIMITS } from "../sandbox/test-support/fixtures.js";
import { engine } from "../sandbox/engine.js";
import { inspectImageArchive, loadableArchive } from "../submission/index.js";
import { hostileArchives } from "../submission/test-support/hostile-archives.js";
import {
  device,
  dir as tarDir,
  file as tarFile,
  imageArchive,
  tarBytes,
} from "../submission/test-support/image-tar.js";
import { evaluateSubmission } from "./evaluate.js";
import { runImageSubmission } from "./run-image.js";

const base = inject("baseImage");
let work: string;
let competition: Competition;
let algorithm: AlgorithmArchive;
let rootAlgorithm: AlgorithmArchive;

/** The example competition as a Grand Challenge one: the participant's image writes /output/results.json. */
beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), "proctor-run-image-"));
  await cp("data", path.join(work, "data"), { recursive: true });
  await writeFile(
    path.join(work, "format.yml"),
    `file: results.json
id_column: id
columns:
  - { name: id, type: string }
  - { name: species, type: category, categories: [adelie, chinstrap, gentoo] }
`,
  );
  await writeFile(
    path.join(work, "competition.yml"),
    `name: Images
runtime: { image: proctor/runtime }
limits: { time: 60s, memory: 256m, cpus: 1 }
submission: { kind: image }
paths: { data_dir: data/test_features, ground_truth: data/ground_truth.csv, submission_format: format.yml }
scoring: { metric: accuracy, direction: higher }
logs: { local: full }
`,
  );
  competition = await loadCompetition(path.join(work, "competition.yml"));
  [algorithm, rootAlgorithm] = await Promise.all([
    saveAlgorithmImage(base),
    saveAlgorithmImage(base, { user: "", gzip: true, volume: "/scratch", script: ROOT_SCRIPT }),
  ]);
});
afterAll(async () => {
  await Promise.all([algorithm?.cleanup(), rootAlgorithm?.cleanup()]);
  await rm(work, { recursive: true, force: true });
});

/** Writes into the image's VOLUME folder (a capped tmpfs: the root filesystem stays read-only), then predicts. */
const ROOT_SCRIPT = `echo from-scratch > /scratch/note && read -r note < /scratch/note && echo "$note" >&2
while read -r dev mnt type rest; do if [ "$mnt" = /scratch ]; then echo "/scratch is $type" >&2; fi; done < /proc/mounts
if echo x > /opt/algorithm/x 2>/dev/null; then echo "root filesystem writable" >&2; exit 9; fi
${PREDICT_SH}`;

const request = async (archivePath: string) => ({
  archivePath,
  helperImage: base,
  dataDir: path.join(work, "data/test_features"),
  outputDir: await mkdtemp(path.join(work, "out-")),
  limits: TEST_LIMITS,
  expectedOutput: "results.json",
});

describe("an algorithm image, saved with docker save", () => {
  it("is loaded, run with its own entrypoint, validated, scored and removed from the engine", async () => {
    const evaluation = await evaluateSubmission({
      competition,
      zipPath: algorithm.path,
      image: base,
      participant: "grace",
      phase: "local",
      store: new MemoryLeaderboardStore(),
    });
    expect(evaluation.run.stderr.text).toContain("predicting as uid 1000");
    expect(evaluation).toMatchObject({
      status: "succeeded",
      reason: "scored",
      expectedOutput: "results.json",
    });
    expect(evaluation.scores.public).toEqual(expect.any(Number));
    // Pinned by the id the engine gave it, which is the config digest of the archive.
    expect(evaluation.run.image?.id).toBe(algorithm.id);
    expect(evaluation.entry.imageDigest).toBe(algorithm.id);
    expect(evaluation.run.image?.ref).toBe(algorithm.tag);
    // USER 1000 with no passwd entry: the engine would give it gid 0.
    expect(evaluation.run.notes).toEqual([expect.stringContaining("it ran as 1000:65534 instead")]);
    expect(evaluation.run.submissionSha256).toBe((await inspectImageArchive(algorithm.path)).sha256);
    expect(await engineHasImage(algorithm.id)).toBe(false);
    expect(await tagsIn(LOADED_REPOSITORY)).not.toContainEqual(expect.stringContaining(evaluation.run.runId));
  });

  it("runs an image whose USER is unset (root) as 65534, and says so; gzipped archives too", async () => {
    const run = await runImageSubmission(await request(rootAlgorithm.path));
    expect(run.status).toBe("succeeded");
    expect(run.stderr.text).toContain("predicting as uid 65534");
    expect(run.stderr.text).toContain("from-scratch");
    expect(run.stderr.text).toContain("/scratch is tmpfs");
    expect(run.notes).toEqual([expect.stringContaining("it ran as 65534:65534 instead")]);
    expect(run.output?.files.map((f) => f.path)).toEqual(["results.json"]);
    expect(await engineHasImage(rootAlgorithm.id)).toBe(false);
  });

  it("runs an image built FROM the whole offline base (its /etc/passwd, no device files), USER unset", async () => {
    const honest = await saveAlgorithmImage(base, { wholeBase: true, user: "" });
    try {
      const run = await runImageSubmission(await request(honest.path));
      expect(run.status, run.reason).toBe("succeeded");
      expect(run.stderr.text).toContain("predicting as uid 65534");
      expect(run.notes).toEqual([expect.stringContaining("it ran as 65534:65534 instead")]);
      expect(await engineHasImage(honest.id)).toBe(false);
    } finally {
      await honest.cleanup();
    }
  });

  it("runs under gVisor where the competition says runsc", async () => {
    const run = await runImageSubmission({
      ...(await request(algorithm.path)),
      limits: { ...TEST_LIMITS, runtime: "runsc" },
    });
    expect(run).toMatchObject({ status: "succeeded", runtime: "runsc" });
    expect(run.output?.files.map((f) => f.path)).toEqual(["results.json"]);
    expect(await engineHasImage(algorithm.id)).toBe(false);
  });

  it("never applies the archive's own tags: an image of that name on the engine keeps it", async () => {
    const victim = `proctor-test-victim/${newRunId()}:latest`;
    const tagged = await saveAlgorithmImage(base, { tag: victim });
    const [repo, tag] = victim.split(":");
    const { execFile } = await import("node:child_process");
    const docker = (...args: string[]) =>
      new Promise<string>((resolve, reject) =>
        execFile("docker", args, (error, stdout) => (error ? reject(error) : resolve(stdout.trim()))),
      );
    await docker("tag", base, `${repo}:${tag}`);
    try {
      const run = await runImageSubmission(await request(tagged.path));
      expect(run.status).toBe("succeeded");
      expect(await docker("image", "inspect", "--format", "{{.Id}}", victim)).toBe(
        await docker("image", "inspect", "--format", "{{.Id}}", base),
      );
    } finally {
      await docker("rmi", victim).catch(() => undefined);
      await tagged.cleanup();
    }
  });

  it("a program that fails is failed, and its image is removed all the same", async () => {
    const failing = await saveAlgorithmImage(base, { script: "echo no model >&2\nexit 4\n" });
    try {
      const run = await runImageSubmission(await request(failing.path));
      expect(run).toMatchObject({ status: "failed", exitCode: 4 });
      expect(await engineHasImage(failing.id)).toBe(false);
    } finally {
      await failing.cleanup();
    }
  });
});

describe("hostile archives never move a tag on the engine", () => {
  it("loads each under the run's lease tag alone, or refuses it; the victim keeps its image", async () => {
    const victim = `proctor-test-victim/${newRunId()}:latest`;
    const baseId = (await engine().getImage(base).inspect()).Id;
    await engine()
      .getImage(base)
      .tag({ repo: victim.split(":")[0]!, tag: "latest" });
    try {
      const outcomes: string[] = [];
      for (const { title, items } of await hostileArchives(victim)) {
        const file = path.join(work, `hostile-${title.replace(/\W+/g, "-")}.tar`);
        await writeFile(file, await tarBytes(items));
        const inspected = await inspectImageArchive(file).catch(() => undefined);
        if (inspected === undefined) {
          outcomes.push(`${title}: refused`);
          continue;
        }
        const loaded = await loadImageArchive((ref) => loadableArchive(file, inspected, ref), {
          expectedId: inspected.configDigest,
          runId: newRunId(),
          limits: TEST_LIMITS,
        });
        const tags = (await engine().getImage(loaded.id).inspect()).RepoTags;
        await loaded.remove();
        expect(tags, title).toEqual([loaded.ref]);
        expect((await engine().getImage(victim).inspect()).Id, title).toBe(baseId);
        expect(await engineHasImage(inspected.configDigest), title).toBe(false);
        outcomes.push(`${title}: loaded`);
      }
      expect(outcomes.filter((o) => o.endsWith("loaded")).length).toBeGreaterThan(5);
      // The harness has teeth: the same archive given to the engine as it is moves the victim's tag.
      const raw = path.join(work, "hostile-the-archive-s-own-RepoTags.tar");
      const answer = await engine().loadImage(raw, { quiet: true });
      for await (const _ of answer as AsyncIterable<unknown>);
      const moved = (await engine().getImage(victim).inspect()).Id;
      expect(moved).not.toBe(baseId);
      await engine().getImage(victim).remove({ force: true });
    } finally {
      await engine()
        .getImage(victim)
        .remove({ noprune: true })
        .catch(() => undefined);
    }
  });
});

/** An image config the engine would run, but for the one setting a case changes. */
const RUNNABLE = { Entrypoint: ["/app/run.sh"], User: "1000:1000", WorkingDir: "/app" };

describe("archives refused before anything is loaded", () => {
  const cases: { title: string; archive: () => Promise<Buffer>; says: RegExp }[] = [
    {
      title: "a corrupt archive",
      archive: async () => Buffer.from("not a tar at all\n".repeat(64)),
      says: /tar/,
    },
    { title: "two images", archive: () => imageArchive({ images: 2 }), says: /images?/ },
    {
      title: "a layer with a device file",
      archive: () => imageArchive({ layers: [[tarDir("opt/"), device("opt/null")]] }),
      says: /character device/,
    },
    {
      title: "a layer with ../",
      archive: () => imageArchive({ layers: [[tarFile("app/../../etc/passwd", "root::0:0::/:/bin/sh\n")]] }),
      says: /\.\./,
    },
    // Each was an engine failure at start (infrastructure_error, never counted) before the config check knew it.
    {
      title: "a WORKDIR in the read-only input folder",
      archive: () => imageArchive({ config: { config: { ...RUNNABLE, WorkingDir: "/input/newdir" } } }),
      says: /WORKDIR "\/input\/newdir" is inside \/input/,
    },
    {
      title: "a WORKDIR in /sys",
      archive: () => imageArchive({ config: { config: { ...RUNNABLE, WorkingDir: "/sys/newdir" } } }),
      says: /inside \/sys/,
    },
    {
      title: "a WORKDIR longer than the kernel takes",
      archive: () => imageArchive({ config: { config: { ...RUNNABLE, WorkingDir: `/${"a".repeat(300)}` } } }),
      says: /a name longer than 255 bytes/,
    },
    {
      title: "a VOLUME on the engine's /etc/hostname",
      archive: () => imageArchive({ config: { config: { ...RUNNABLE, Volumes: { "/etc/hostname": {} } } } }),
      says: /a file the engine provides/,
    },
  ];
  for (const { title, archive, says } of cases) {
    it(`refuses ${title} as invalid_submission`, async () => {
      const file = path.join(work, `${title.replace(/\W+/g, "-")}.tar`);
      await writeFile(file, await archive());
      const before = await tagsIn(LOADED_REPOSITORY);
      const run = await runImageSubmission(await request(file));
      expect(run).toMatchObject({ status: "invalid_submission", image: null, metrics: null });
      expect(run.reason).toMatch(says);
      expect(run.submissionSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(await tagsIn(LOADED_REPOSITORY)).toEqual(before);
    });
  }

  it("refuses an image not built on an allowed base image", async () => {
    const image = { ...competitionImage(), allowedBaseImages: [base] };
    const file = path.join(work, "unrelated.tar");
    await writeFile(file, await imageArchive());
    const run = await runImageSubmission({ ...(await request(file)), image });
    expect(run.status).toBe("invalid_submission");
    expect(run.reason).toContain("not built on an allowed base image");
  });
});

describe("loadImageArchive", () => {
  it("refuses an archive whose image is not the one inspected, and leaves nothing", async () => {
    const runId = newRunId();
    const inspected = await inspectImageArchive(algorithm.path);
    const error = await loadImageArchive((ref) => loadableArchive(algorithm.path, inspected, ref), {
      expectedId: `sha256:${"0".repeat(64)}`,
      runId,
      limits: TEST_LIMITS,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageLoadError);
    expect((error as Error).message).toContain(algorithm.id);
    expect(await engineHasImage(algorithm.id)).toBe(false);
  });

  it("says the engine refused an archive it cannot load (the participant's), and leaves nothing", async () => {
    const file = path.join(work, "missing-layer.tar");
    const items = await imageArchive({ layout: "docker" });
    await writeFile(file, items);
    const inspected = await inspectImageArchive(file);
    // Corrupt the one layer after inspection: same size, other bytes.
    const bytes = await readFile(file);
    const layer = inspected.layers[0]!;
    const at = bytes.indexOf(Buffer.from("echo hi"));
    bytes.write("echo HI", at);
    await writeFile(file, bytes);
    const error = await loadImageArchive((ref) => loadableArchive(file, inspected, ref), {
      expectedId: inspected.configDigest,
      runId: newRunId(),
      limits: TEST_LIMITS,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageLoadError);
    expect(layer.diffId).toMatch(/^sha256:/);
    expect(await engineHasImage(inspected.configDigest)).toBe(false);
  });
});

describe("loadImageArchive, an archive cut short after its inspection", () => {
  it("is the archive's fault (ImageLoadError), and leaves nothing", async () => {
    const file = path.join(work, "cut.tar.gz");
    await writeFile(file, await readFile(rootAlgorithm.path));
    const inspected = await inspectImageArchive(file);
    const bytes = await readFile(file);
    await writeFile(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const error = await loadImageArchive((ref) => loadableArchive(file, inspected, ref), {
      expectedId: inspected.configDigest,
      runId: newRunId(),
      limits: TEST_LIMITS,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageLoadError);
    expect((error as Error).message).toMatch(/could not be read while loading it|refused to load/);
    expect(await engineHasImage(inspected.configDigest)).toBe(false);
  });
});

function competitionImage() {
  if (competition.submission.kind !== "image") throw new Error("the test competition takes images");
  return competition.submission.image;
}
