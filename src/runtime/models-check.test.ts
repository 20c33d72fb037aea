import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeZip } from "../../test/support/zips.js";
import { checkModels, formatProblem, ModelsCheckError, npyProblem } from "./models-check.js";
import { loadModels } from "./models.js";
import {
  float32Npy,
  npy,
  PICKLE_BYTES,
  safetensors,
  sha256Of,
  writeModelFiles,
} from "./test-support/model-files.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-models-check-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

let n = 0;
/** A models.yml in a folder of its own, whose model `m` reads files from its sibling folder src/. */
async function modelsYml(files: string[]): Promise<{ file: string; cache: string; src: string }> {
  const root = path.join(dir, `case-${++n}`);
  const src = path.join(root, "src");
  const file = path.join(root, "models.yml");
  await mkdir(src, { recursive: true });
  await writeFile(
    file,
    `models:
  - name: m
    licence: MIT
    source: { url: ./src/ }
    files:
${files.map((f) => `      - ${f}\n`).join("")}`,
  );
  return { file, cache: path.join(root, "cache"), src };
}

describe("checkModels (file: sources)", () => {
  it("verifies every file into the cache, once: a second check fetches nothing", async () => {
    const { file, cache, src } = await modelsYml(
      await writeModelFiles(path.join(dir, "good"), {
        "w.npy": float32Npy([1, 2, 3]),
        "w.safetensors": safetensors([0.5]),
        "sub/w.gguf": Buffer.concat([Buffer.from("GGUF"), Buffer.alloc(20)]),
        "tokenizer.json": Buffer.from('{"a": 1}'),
      }),
    );
    await cp(path.join(dir, "good"), src, { recursive: true });
    const manifest = await loadModels(file);
    const said: string[] = [];
    const checked = await checkModels(manifest, cache, (line) => said.push(line));
    expect(checked.map((c) => [c.file.target, c.fetched])).toEqual([
      ["m/w.npy", true],
      ["m/w.safetensors", true],
      ["m/sub/w.gguf", true],
      ["m/tokenizer.json", true],
    ]);
    expect(said.every((l) => l.startsWith("ok "))).toBe(true);
    expect((await readdir(cache)).sort()).toEqual(manifest.files.map((f) => f.sha256).sort());
    const again = await checkModels(manifest, cache);
    expect(again.every((c) => !c.fetched)).toBe(true);
  });

  it("a wrong checksum fails naming the file, its line and both digests, and leaves nothing in the cache", async () => {
    const content = float32Npy([1]);
    const { file, cache, src } = await modelsYml([
      `{ path: w.npy, sha256: ${"f".repeat(64)}, size: ${content.length} }`,
    ]);
    await writeFile(path.join(src, "w.npy"), content);
    const said: string[] = [];
    const error = await checkModels(await loadModels(file), cache, (l) => said.push(l)).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ModelsCheckError);
    const message = (error as Error).message;
    expect(message).toContain(`${file}:6:`);
    expect(message).toContain("models[0].files[0].sha256");
    expect(message).toContain(
      `m/w.npy: sha256 differs: models.yml pins ${"f".repeat(64)}, the file from file://`,
    );
    expect(message).toContain(`has ${sha256Of(content)}`);
    expect(said).toEqual([expect.stringMatching(/^FAIL m\/w\.npy: sha256 differs/)]);
    expect(await readdir(cache)).toEqual([]);
  });

  it("a wrong size fails at the size key without reading past it; a missing file names its path", async () => {
    const content = float32Npy([1, 2, 3, 4]);
    const { file, cache, src } = await modelsYml([
      `{ path: w.npy, sha256: ${sha256Of(content)}, size: 10 }`,
      `{ path: gone.npy, sha256: ${sha256Of(content)}, size: ${content.length} }`,
    ]);
    await writeFile(path.join(src, "w.npy"), content);
    const message = await checkModels(await loadModels(file), cache).then(
      () => "",
      (e: Error) => e.message,
    );
    expect(message).toMatch(
      /:6:\d+: models\[0\]\.files\[0\]\.size m\/w\.npy: size is 10 bytes in models\.yml, but .* has more/,
    );
    expect(message).toMatch(
      /:7:\d+: models\[0\]\.files\[1\]\.path m\/gone\.npy: file:.*gone\.npy is not a file/,
    );
  });

  it("refuses a pickle renamed .safetensors, and object arrays in .npy and .npz", async () => {
    const objectNpy = npy("|O", "(1,)", PICKLE_BYTES);
    const npzPath = path.join(dir, "objects.npz");
    await writeZip(npzPath, { "a.npy": float32Npy([1]), "b.npy": objectNpy });
    const npzContent = await readFile(npzPath);
    const files = { "w.safetensors": PICKLE_BYTES, "o.npy": objectNpy, "o.npz": npzContent };
    const { file, cache, src } = await modelsYml(await writeModelFiles(path.join(dir, "bad"), files));
    await cp(path.join(dir, "bad"), src, { recursive: true });
    const message = await checkModels(await loadModels(file), cache).then(
      () => "",
      (e: Error) => e.message,
    );
    expect(message).toMatch(/files\[0\]\.path m\/w\.safetensors: is not safetensors/);
    expect(message).toMatch(
      /files\[1\]\.path m\/o\.npy: holds an object array, which numpy stores as a pickle/,
    );
    expect(message).toMatch(/files\[2\]\.path m\/o\.npz: has b\.npy, which holds an object array/);
  });

  it("formatProblem: plain arrays pass, a structured dtype holding objects does not", async () => {
    expect(npyProblem(float32Npy([1]))).toBeNull();
    expect(npyProblem(npy("[('a', '<f4'), ('b', '|O')]", "(1,)", Buffer.alloc(12)))).toMatch(/object array/);
    expect(npyProblem(Buffer.from("not numpy at all"))).toMatch(/no NUMPY magic/);
    const plainNpz = path.join(dir, "plain.npz");
    await writeZip(plainNpz, { "a.npy": float32Npy([1, 2]) });
    expect(await formatProblem(plainNpz, "npz")).toBeNull();
    const notZip = path.join(dir, "not.npz");
    await writeFile(notZip, "hello");
    expect(await formatProblem(notZip, "npz")).toMatch(/not a zip/);
  });
});
