import { describe, expect, it } from "vitest";
import { packageId, parsePackageSpec } from "./package-spec.js";

describe("parsePackageSpec", () => {
  it("reads a conda spec with channel, version and build", () => {
    expect(parsePackageSpec(" conda-forge::PyTorch=2.6.0=cuda126* ", "conda")).toEqual({
      ok: true,
      package: {
        name: "pytorch",
        source: "conda",
        version: "2.6.0",
        build: "cuda126*",
        channel: "conda-forge",
        spec: "conda-forge::PyTorch=2.6.0=cuda126*",
      },
    });
  });

  it("reads a pip requirement's pin, ignoring extras and markers", () => {
    expect(parsePackageSpec('uvicorn[standard]==0.34.0; python_version < "3.13"', "pip")).toMatchObject({
      ok: true,
      package: { name: "uvicorn", source: "pip", version: "0.34.0" },
    });
  });

  it("says what is wrong and how to write it", () => {
    expect(parsePackageSpec("pandas=>2", "conda")).toEqual({
      ok: false,
      problem:
        '"pandas=>2" is not a conda package spec: ">2" is not a version; write name=version, e.g. numpy=2.2.6',
    });
    expect(parsePackageSpec("git+https://x/y.git", "pip")).toEqual({
      ok: false,
      problem:
        '"git+https://x/y.git" is not a pip requirement: it must start with the package name; write name==version (or name @ url), e.g. timm==1.0.15',
    });
  });
});

describe("packageId", () => {
  it("compares pip names the PEP 503 way and conda names case-insensitively", () => {
    expect(packageId({ name: "Typing_Extensions", source: "pip" })).toBe(
      packageId({ name: "typing-extensions", source: "pip" }),
    );
    expect(packageId({ name: "NumPy" })).toBe("conda:numpy");
    expect(packageId({ name: "numpy", source: "pip" })).not.toBe(packageId({ name: "numpy" }));
  });
});
