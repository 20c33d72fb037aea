import { describe, expect, it } from "vitest";
import { YamlConfigError, type YamlIssue } from "../yaml/index.js";
import { formatOf, modelsDigest, modelsImageRef, modelsMount, parseModels } from "./models.js";

const SHA = "a".repeat(64);
const REV = "0123456789abcdef0123456789abcdef01234567";

function issuesOf(text: string): YamlIssue[] {
  try {
    parseModels(text, "/repo/runtime/models.yml");
  } catch (error) {
    expect(error).toBeInstanceOf(YamlConfigError);
    return (error as YamlConfigError).issues;
  }
  throw new Error("expected a YamlConfigError");
}

describe("models.yml", () => {
  it("resolves a Hugging Face source to resolve/<revision>/<file>, and a url folder against models.yml", () => {
    const manifest = parseModels(
      `models:
  - name: minilm
    licence: Apache-2.0
    source: { huggingface: org/mini-lm, revision: ${REV} }
    files:
      - { path: onnx/model.onnx, sha256: ${SHA}, size: 10 }
      - { path: tokenizer.json, sha256: ${SHA}, size: 5, licence: MIT }
  - name: local
    licence: CC0-1.0
    source: { url: ../fixtures/models/ }
    files:
      - { path: w.npy, sha256: ${SHA}, size: 1 }
      - { path: other.safetensors, sha256: ${SHA}, size: 2, url: "https://example.org/x/y.safetensors" }
`,
      "/repo/runtime/models.yml",
    );
    expect(manifest.files.map((f) => [f.target, f.url, f.licence, f.format])).toEqual([
      [
        "minilm/onnx/model.onnx",
        `https://huggingface.co/org/mini-lm/resolve/${REV}/onnx/model.onnx`,
        "Apache-2.0",
        "onnx",
      ],
      [
        "minilm/tokenizer.json",
        `https://huggingface.co/org/mini-lm/resolve/${REV}/tokenizer.json`,
        "MIT",
        "json",
      ],
      ["local/w.npy", "file:///repo/fixtures/models/w.npy", "CC0-1.0", "npy"],
      ["local/other.safetensors", "https://example.org/x/y.safetensors", "CC0-1.0", "safetensors"],
    ]);
    expect(manifest.totalBytes).toBe(18);
    expect(manifest.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.warnings).toEqual([]);
    expect(modelsMount(manifest, "ghcr.io/o/runtime")).toEqual({
      image: `ghcr.io/o/runtime:models-${manifest.digest}`,
      digest: manifest.digest,
      files: manifest.files.map((f) => ({ target: f.target, size: f.size })),
    });
  });

  it("an empty list is valid and mounts nothing", () => {
    const manifest = parseModels("models: []\n", "m.yml");
    expect(manifest.files).toEqual([]);
    expect(modelsMount(manifest, "proctor/runtime")).toBeNull();
  });

  it("the digest is what the image holds: targets, checksums and sizes, whatever the order or source", () => {
    const a = { target: "m/a.npy", sha256: SHA, size: 1 };
    const b = { target: "m/b.npy", sha256: "b".repeat(64), size: 2 };
    expect(modelsDigest([a, b])).toBe(modelsDigest([b, a]));
    expect(modelsDigest([a, b])).not.toBe(modelsDigest([a, { ...b, size: 3 }]));
    expect(modelsDigest([a, b])).not.toBe(modelsDigest([a, { ...b, target: "n/b.npy" }]));
    expect(modelsImageRef("proctor/runtime", "d")).toBe("proctor/runtime:models-d");
  });

  it("refuses a pickle unless allow_formats lists pickle, then warns of it", () => {
    const text = (allow: string) => `allow_formats: ${allow}
models:
  - name: torch
    licence: MIT
    source: { url: "https://example.org/m/" }
    files:
      - { path: model.pt, sha256: ${SHA}, size: 1 }
`;
    const [issue] = issuesOf(text("[]"));
    expect(issue).toMatchObject({ line: 7, key: "models[0].files[0].path", rule: "format" });
    expect(issue!.message).toMatch(
      /is a pickle \(\.pt\).*can run code.*safetensors.*allow_formats: \[pickle\]/,
    );
    const allowed = parseModels(text("[pickle]"), "m.yml");
    expect(allowed.files[0]).toMatchObject({ format: "pickle", allowed: true });
    expect(allowed.warnings).toEqual([expect.stringMatching(/torch\/model\.pt is a pickle.*allow_formats/)]);
  });

  it("refuses unknown formats, naming the safe ones, unless their extension is allowed", () => {
    expect(formatOf("model.h5", [])).toMatchObject({
      ok: false,
      message: expect.stringMatching(/\.h5.*\.safetensors.*allow_formats: \[h5\]/),
    });
    expect(formatOf("model.h5", ["h5"])).toEqual({ ok: true, format: "h5", allowed: true });
    expect(formatOf("README", [])).toMatchObject({
      ok: false,
      message: expect.stringMatching(/no extension/),
    });
    expect(formatOf("weights.SafeTensors", [])).toEqual({ ok: true, format: "safetensors", allowed: false });
    // A pickle is allowed by its group's name only: listing its extension is not enough.
    expect(formatOf("model.bin", ["bin"]).ok).toBe(false);
  });

  it("names the line, key and fix of each mistake", () => {
    const mistakes = (firstPath: string, firstSha: string) => `models:
  - name: a
    licence: MIT
    source: { huggingface: org/repo, revision: main }
    files:
      - { path: ${firstPath}, sha256: ${firstSha}, size: 1 }
  - name: a
    licence: MIT
    source: { url: "http://example.org/m/" }
    files:
      - { path: y.onnx, sha256: ${SHA}, size: 1 }
  - name: b
    licence: MIT
    source: { url: "https://example.org/m" }
    files:
      - { path: y.onnx, sha256: ${SHA}, size: 1 }
      - { path: y.onnx, sha256: ${SHA}, size: 1 }
  - name: c
    licence: MIT
    source: {}
    files:
      - { path: z.onnx, sha256: ${SHA}, size: 1 }
`;
    // The schema's issues come first (and stop the semantic checks).
    const issues = issuesOf(mistakes("../x.onnx", "ABC"));
    expect(issues.map((i) => [i.line, i.key])).toEqual([
      [6, "models[0].files[0].path"],
      [6, "models[0].files[0].sha256"],
    ]);
    expect(issues[1]!.message).toMatch(/64 lowercase hex digits \(sha256sum/);
    const semantic = issuesOf(mistakes("x.onnx", SHA));
    expect(semantic.map((i) => [i.line, i.key, i.rule])).toEqual([
      [4, "models[0].source.revision", "pinned"],
      [7, "models[1].name", "duplicate"],
      [9, "models[1].source.url", "source"],
      [14, "models[2].source.url", "source"],
      [17, "models[2].files[1].path", "duplicate"],
      [22, "models[3].files[0]", "source"],
    ]);
    expect(semantic[0]!.message).toMatch(/40-hex sha.*branch/);
    expect(semantic[2]!.message).toMatch(/must be https:.*got http:/);
    expect(semantic[3]!.message).toMatch(/folder URL ending in \//);
  });

  it("fails above max_size and warns above warn_size", () => {
    const text = (limits: string) => `${limits}
models:
  - name: big
    licence: MIT
    source: { url: "https://example.org/m/" }
    files:
      - { path: w.safetensors, sha256: ${SHA}, size: 3000 }
`;
    const [issue] = issuesOf(text("max_size: 2k"));
    expect(issue).toMatchObject({ key: "max_size", rule: "size_cap", line: 1 });
    expect(issue!.message).toMatch(/2\.0 KiB.*total 2\.9 KiB.*raise max_size/);
    expect(parseModels(text("warn_size: 1k"), "m.yml").warnings).toEqual([
      expect.stringMatching(/total 2\.9 KiB, above warn_size \(1\.0 KiB\)/),
    ]);
  });
});
