import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { YamlConfigError, type YamlIssue } from "../yaml/index.js";
import { alignmentIssues, parseEnvironment, readEnvironment, type EnvPackage } from "./environment.js";

const env = (deps: string) => `name: t\nchannels:\n  - conda-forge\ndependencies:\n${deps}`;

/** The first issue of the YamlConfigError `fn` throws, with the error's message. */
function errorOf(fn: () => unknown): YamlIssue & { text: string } {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(YamlConfigError);
    const { issues, message } = error as YamlConfigError;
    return { ...issues[0]!, text: message };
  }
  throw new Error("expected a YamlConfigError");
}

const only = (pkg: EnvPackage) => {
  const { key: _key, spec: _spec, ...rest } = pkg;
  return rest;
};

describe("the repository's environment files", () => {
  it("pin every package, and the CPU and GPU files differ only by the GPU bits", async () => {
    const cpu = await readEnvironment("environment-cpu.yml", { requirePinned: true });
    const gpu = await readEnvironment("environment-gpu.yml", { requirePinned: true });
    expect(cpu.channels).toEqual(["conda-forge"]);
    expect(gpu.channels).toEqual(["conda-forge"]);
    expect(alignmentIssues(cpu, gpu)).toEqual([]);
    const names = cpu.packages.map((p) => p.name);
    for (const name of [
      "python",
      "numpy",
      "pandas",
      "scipy",
      "scikit-learn",
      "pytorch",
      "torchvision",
      "lightgbm",
      "xgboost",
      "pillow",
      "py-opencv",
      "pyyaml",
      "tqdm",
      "joblib",
      "loguru",
      "pyarrow",
      "statsmodels",
    ]) {
      expect(names, name).toContain(name);
    }
    expect(cpu.packages.find((p) => p.name === "python")?.version).toMatch(/^3\.11\./);
    expect(gpu.packages.map((p) => p.name)).toEqual(expect.arrayContaining(["pytorch-gpu", "cuda-version"]));
    expect(names).not.toContain("pytorch-gpu");
  });

  it("the offline file lists what the offline image has, unpinned", async () => {
    const offline = await readEnvironment("runtime/environment-offline.yml");
    expect(offline.packages.map((p) => p.name)).toEqual(
      expect.arrayContaining(["python", "numpy", "pandas", "scipy", "scikit-learn"]),
    );
    expect(offline.packages.every((p) => p.version === undefined)).toBe(true);
  });
});

describe("parseEnvironment: package specs", () => {
  it("reads conda specs: exact pins, build strings, channels, constraints, the space form", () => {
    const parsed = parseEnvironment(
      env(
        [
          "  - python=3.11.11",
          "  - numpy==2.2.6",
          "  - pytorch=2.6.0=cuda126*",
          "  - conda-forge::pandas=2.2.3",
          "  - scipy>=1.10,<2",
          "  - tqdm 4.67.1 pyhd8ed1ab_0",
          "  - joblib >=1.2",
          "  - pyarrow=19.*",
          "  - Pillow",
          "  - 'pyyaml=6.0.2'  # quoted, with a comment",
        ].join("\n"),
      ),
      "env.yml",
    );
    expect(parsed.name).toBe("t");
    expect(parsed.packages.map(only)).toEqual([
      { name: "python", source: "conda", version: "3.11.11" },
      { name: "numpy", source: "conda", version: "2.2.6" },
      { name: "pytorch", source: "conda", version: "2.6.0", build: "cuda126*" },
      { name: "pandas", source: "conda", version: "2.2.3", channel: "conda-forge" },
      { name: "scipy", source: "conda", constraint: ">=1.10,<2" },
      { name: "tqdm", source: "conda", version: "4.67.1", build: "pyhd8ed1ab_0" },
      { name: "joblib", source: "conda", constraint: ">=1.2" },
      { name: "pyarrow", source: "conda", constraint: "19.*" },
      { name: "pillow", source: "conda" },
      { name: "pyyaml", source: "conda", version: "6.0.2" },
    ]);
    expect(parsed.packages.map((p) => p.key)).toEqual(parsed.packages.map((_, i) => `dependencies[${i}]`));
  });

  it("reads pip requirements: pins, extras, markers, constraints, name @ url", () => {
    const parsed = parseEnvironment(
      env(
        [
          "  - pip=25.0.1",
          "  - pip:",
          "      - timm==1.0.15",
          "      - uvicorn[standard]==0.34.0",
          '      - tomli==2.2.1; python_version < "3.11"',
          "      - rich>=13,<14",
          "      - mylib @ https://example.org/mylib-1.0.tar.gz",
        ].join("\n"),
      ),
      "env.yml",
    );
    expect(parsed.packages.map(only)).toEqual([
      { name: "pip", source: "conda", version: "25.0.1" },
      { name: "timm", source: "pip", version: "1.0.15" },
      { name: "uvicorn", source: "pip", version: "0.34.0" },
      { name: "tomli", source: "pip", version: "2.2.1" },
      { name: "rich", source: "pip", constraint: ">=13,<14" },
      { name: "mylib", source: "pip" },
    ]);
    expect(parsed.packages[1]!.key).toBe("dependencies[1].pip[0]");
  });
});

describe("parseEnvironment: errors name the file, the key, the rule and the line", () => {
  it("a bad spec", () => {
    const error = errorOf(() => parseEnvironment(env("  - numpy=2.2.6\n  - pandas=>2\n"), "env.yml"));
    expect(error.rule).toBe("bad_spec");
    expect(error.key).toBe("dependencies[1]");
    expect(error.line).toBe(6);
    expect(error.text).toMatch(
      /\n {2}env\.yml:6:5: dependencies\[1\] "pandas=>2" is not a conda package spec/,
    );
    expect(error.text).toContain("write name=version");
  });

  it("a package listed twice points at the second entry", () => {
    const error = errorOf(() =>
      parseEnvironment(env("  - numpy=2.2.6\n  - scipy=1.15.2\n  - numpy=2.2.6\n"), "env.yml"),
    );
    expect(error.rule).toBe("duplicate_package");
    expect(error.key).toBe("dependencies[2]");
    expect(error.line).toBe(7);
    expect(error.message).toContain("already at dependencies[0]");
  });

  it("pip names are compared the PEP 503 way", () => {
    const error = errorOf(() =>
      parseEnvironment(
        env("  - pip:\n      - typing_extensions==4.0\n      - Typing-Extensions==4.1\n"),
        "e.yml",
      ),
    );
    expect(error.rule).toBe("duplicate_package");
    expect(error.key).toBe("dependencies[0].pip[1]");
  });

  it("an unpinned package, when pins are required", () => {
    const text = env("  - numpy=2.2.6\n  - pandas>=2\n");
    expect(parseEnvironment(text, "env.yml").packages).toHaveLength(2);
    const error = errorOf(() => parseEnvironment(text, "env.yml", { requirePinned: true }));
    expect(error.rule).toBe("not_pinned");
    expect(error.key).toBe("dependencies[1]");
    expect(error.message).toContain("write pandas=<version>");
  });

  it("invalid YAML, with its line", () => {
    const error = errorOf(() => parseEnvironment("dependencies:\n  - numpy\n bad: [\n", "env.yml"));
    expect(error.rule).toBe("yaml_syntax");
    expect(error.line).not.toBeNull();
    expect(error.text).toMatch(/\n {2}env\.yml:\d+:\d+: \(top level\) is not valid YAML/);
  });

  it("structure: not a mapping, an unknown key, no dependencies, a bad entry, bad channels", () => {
    expect(errorOf(() => parseEnvironment("- numpy\n", "e.yml")).rule).toBe("not_a_mapping");
    const unknown = errorOf(() => parseEnvironment("name: x\ndependencis:\n  - numpy\n", "e.yml"));
    expect([unknown.rule, unknown.key, unknown.line]).toEqual(["unknown_key", "dependencis", 2]);
    expect(errorOf(() => parseEnvironment("name: x\n", "e.yml")).rule).toBe("missing_dependencies");
    expect(errorOf(() => parseEnvironment("dependencies: []\n", "e.yml")).rule).toBe("missing_dependencies");
    const entry = errorOf(() => parseEnvironment("dependencies:\n  - numpy\n  - conda: [x]\n", "e.yml"));
    expect([entry.rule, entry.key]).toEqual(["bad_dependency", "dependencies[1]"]);
    const channels = errorOf(() =>
      parseEnvironment("channels: conda-forge\ndependencies: [numpy]\n", "e.yml"),
    );
    expect([channels.rule, channels.key]).toEqual(["bad_channels", "channels"]);
    const pipUrl = errorOf(() =>
      parseEnvironment("dependencies:\n  - pip:\n    - git+https://x/y.git\n", "e.yml"),
    );
    expect([pipUrl.rule, pipUrl.key]).toEqual(["bad_spec", "dependencies[0].pip[0]"]);
  });

  it("a missing file", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "proctor-env-"));
    try {
      const file = path.join(dir, "nope.yml");
      await expect(readEnvironment(file)).rejects.toMatchObject({
        file,
        issues: [{ rule: "unreadable", file }],
      });
      await writeFile(path.join(dir, "ok.yml"), "dependencies:\n  - numpy\n");
      expect((await readEnvironment(path.join(dir, "ok.yml"))).packages).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("alignmentIssues", () => {
  it("names packages in one file only and version mismatches, but allows the flavour's own bits", () => {
    const cpu = parseEnvironment(env("  - numpy=2.2.6\n  - tqdm=4.67.1\n  - pytorch-cpu=2.6.0\n"), "cpu.yml");
    const gpu = parseEnvironment(
      env("  - numpy=2.2.5\n  - lightgbm=4.6.0\n  - pytorch-gpu=2.6.0\n  - cuda-version=12.6\n"),
      "gpu.yml",
    );
    expect(alignmentIssues(cpu, gpu)).toEqual([
      "tqdm is in cpu.yml but not in gpu.yml: add it there at the same version",
      "lightgbm is in gpu.yml but not in cpu.yml: add it there at the same version",
      "numpy is 2.2.6 in cpu.yml but 2.2.5 in gpu.yml: use one version in both",
    ]);
  });
});
