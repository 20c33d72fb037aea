import { cp, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { cliScratch, spawnCollected } from "../../test/support/cli.js";
import { PICKLE_BYTES, sha256Of, writeModelFiles } from "../runtime/test-support/model-files.js";
import { checkModels } from "../runtime/models-check.js";
import { packModels } from "../runtime/models-image.js";
import { loadModels } from "../runtime/models.js";
import { engine } from "../sandbox/engine.js";
import { MODELS_LABEL } from "../sandbox/models-volume.js";
import { startRegistry } from "../sandbox/test-support/registry.js";

/** `proctor runtime models`, the PR's check: file: sources only, never the network. */
const CLI = path.resolve("build/proctor.mjs");
const scratch = cliScratch("proctor-models-cli-");

let n = 0;
/** A folder with models.yml whose model `m` lists `files` (read from its src/ folder). */
async function modelsFolder(files: Record<string, Buffer>, lines?: string[], head = ""): Promise<string> {
  const root = path.join(scratch.dir, `case-${++n}`);
  await mkdir(root);
  const listed = await writeModelFiles(path.join(root, "src"), files);
  await writeFile(
    path.join(root, "models.yml"),
    `${head}models:\n  - name: m\n    licence: MIT\n    source: { url: ./src/ }\n    files:\n${(lines ?? listed).map((l) => `      - ${l}\n`).join("")}`,
  );
  return root;
}

const models = (root: string, ...args: string[]) =>
  spawnCollected(process.execPath, [
    CLI,
    "runtime",
    "models",
    ...args,
    "--file",
    path.join(root, "models.yml"),
    "--cache",
    path.join(root, "cache"),
  ]);

describe("proctor runtime models", () => {
  it("passes verified files, a line each, and prints the models digest", async () => {
    const root = await modelsFolder({ "model.json": Buffer.from('{"w": [1, 2]}') });
    const r = await models(root, "check");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok {3}m\/model\.json \(json, 13 bytes\)$/m);
    expect(r.stdout).toMatch(/models\.yml: 1 file\(s\), 13 bytes, models digest [0-9a-f]{64}$/m);
  });

  it("fails (exit 2) a wrong checksum, naming the file, its line and both digests", async () => {
    const content = Buffer.from("[1, 2, 3]");
    const root = await modelsFolder({ "w.json": content }, [
      `{ path: w.json, sha256: ${"e".repeat(64)}, size: ${content.length} }`,
    ]);
    const r = await models(root, "check");
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^FAIL m\/w\.json: sha256 differs/m);
    expect(r.stderr).toContain(`models.yml:6:`);
    expect(r.stderr).toContain(
      `models[0].files[0].sha256 m/w.json: sha256 differs: models.yml pins ${"e".repeat(64)}`,
    );
    expect(r.stderr).toContain(`has ${sha256Of(content)}`);
  });

  it("refuses a pickle (exit 2) unless models.yml allows pickles, then warns of each", async () => {
    const refused = await models(await modelsFolder({ "model.pt": PICKLE_BYTES }), "check");
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /models\[0\]\.files\[0\]\.path is a pickle \(\.pt\).*allow_formats: \[pickle\]/,
    );
    const allowed = await models(
      await modelsFolder({ "model.pt": PICKLE_BYTES }, undefined, "allow_formats: [pickle]\n"),
      "check",
    );
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toMatch(
      /^WARNING .*models\.yml: m\/model\.pt is a pickle, taken only because allow_formats/m,
    );
  });

  it("ref prints the models image of competition.yml's runtime.models, and nothing without it", async () => {
    const root = await modelsFolder({ "model.json": Buffer.from("{}") });
    const competition = (extra: string) => `name: T
runtime: { image: ghcr.io/org/runtime${extra} }
paths: { data_dir: data, ground_truth: gt.csv, submission_format: format.yml }
scoring: { metric: accuracy, direction: higher }
`;
    await writeFile(path.join(root, "with.yml"), competition(", models: models.yml"));
    await writeFile(path.join(root, "without.yml"), competition(""));
    const ref = (file: string) =>
      spawnCollected(process.execPath, [CLI, "runtime", "models", "ref", "--config", path.join(root, file)]);
    const checked = await models(root, "check");
    const digest = /models digest ([0-9a-f]{64})/.exec(checked.stdout)![1];
    expect(await ref("with.yml")).toMatchObject({
      code: 0,
      stdout: `ghcr.io/org/runtime:models-${digest}\n`,
    });
    expect(await ref("without.yml")).toMatchObject({ code: 0, stdout: "" });
  });

  it("push checks, packs and pushes the models image with the password from the environment", async () => {
    const registry = await startRegistry();
    const root = await modelsFolder({ "model.json": Buffer.from('{"pushed": true}') });
    const repository = `${registry.address}/proctor-test/models-cli-${process.pid}`;
    const pushed: string[] = [];
    try {
      const push = (password: string) =>
        spawnCollected(
          process.execPath,
          [
            CLI,
            "runtime",
            "models",
            "push",
            "--file",
            path.join(root, "models.yml"),
            "--cache",
            path.join(root, "cache"),
            "--repository",
            repository,
            "--username",
            registry.username,
          ],
          { env: { PROCTOR_REGISTRY_PASSWORD: password } },
        );
      const r = await push(registry.password);
      const ref = /^built (\S+) /m.exec(r.stdout)?.[1];
      if (ref) pushed.push(ref);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(ref).toMatch(new RegExp(`^${repository}:models-[0-9a-f]{64}$`));
      expect(r.stdout).toMatch(new RegExp(`^pushed ${ref} \\(sha256:[0-9a-f]{64}\\)$`, "m"));
      // The registry's refusal is the infrastructure's (exit 3), in one line with no stack.
      const refused = await push("wrong");
      expect(refused.code).toBe(3);
      expect(refused.stderr).toMatch(
        /^proctor runtime models: pushing .* failed: .*(unauthorized|authentication required)/im,
      );
      expect(refused.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await registry.stop();
      for (const ref of pushed)
        await engine()
          .getImage(ref)
          .remove()
          .catch(() => undefined);
    }
  });

  it("proctor interact shows the models read-only, as a run does", async () => {
    const root = await modelsFolder({ "model.json": Buffer.from('{"shell": "yes"}') });
    for (const item of ["data", "submission_format", "example_submission"])
      await cp(item, path.join(root, item), { recursive: true });
    const repository = `proctor-test/models-interact-${process.pid}`;
    await writeFile(
      path.join(root, "competition.yml"),
      `name: T
runtime: { image: ${repository}, models: models.yml }
limits: { time: 60s, memory: 512m, cpus: 1 }
paths: { data_dir: data/test_features, ground_truth: data/ground_truth.csv, submission_format: submission_format/format.yml }
scoring: { metric: f1_macro, direction: higher }
`,
    );
    const manifest = await loadModels(path.join(root, "models.yml"));
    const built = await packModels(
      manifest,
      await checkModels(manifest, path.join(root, "cache")),
      repository,
    );
    try {
      const shell = spawnCollected("bash", [
        "-c",
        'printf "%s\\n" "cat /code_execution/models/m/model.json" "touch /code_execution/models/m/x || echo refused" "exit" | "$@"',
        "bash",
        process.execPath,
        CLI,
        "interact",
        "--config",
        path.join(root, "competition.yml"),
        "--from",
        path.join(root, "example_submission"),
        "--image",
        inject("baseImage"),
      ]);
      const r = await shell;
      expect(r.stdout).toContain('{"shell": "yes"}');
      expect(r.stdout).toMatch(/refused\n$/);
      expect(r.stderr).toContain("touch: cannot touch '/code_execution/models/m/x': Read-only file system");
      expect(r.stderr).toContain(`/code_execution/models      ${built.tag}, read-only`);
    } finally {
      const filters = JSON.stringify({ label: [`${MODELS_LABEL}=${manifest.digest}`] });
      for (const c of await engine().listContainers({ all: true, filters }))
        await engine().getContainer(c.Id).remove({ force: true });
      for (const v of (await engine().listVolumes({ filters })).Volumes ?? [])
        await engine().getVolume(v.Name).remove({ force: true });
      await engine().getImage(built.tag).remove();
    }
  });
});
