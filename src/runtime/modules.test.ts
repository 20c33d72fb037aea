import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { importTargetFor, MODULE_MAP, SKIP_IMPORT } from "./modules.js";

describe("the package → module map", () => {
  it("is the same data as runtime/tests/module_map.json, which the import test reads in the image", async () => {
    const json = JSON.parse(await readFile("runtime/tests/module_map.json", "utf8")) as {
      modules: Record<string, string>;
      skip: Record<string, string>;
    };
    expect(json.modules).toEqual(MODULE_MAP);
    expect(json.skip).toEqual(SKIP_IMPORT);
  });

  it("maps the usual packages to their modules", () => {
    const cases: [string, string][] = [
      ["scikit-learn", "sklearn"],
      ["pillow", "PIL"],
      ["py-opencv", "cv2"],
      ["opencv", "cv2"],
      ["pyyaml", "yaml"],
      ["pytorch", "torch"],
      ["pytorch-gpu", "torch"],
      ["python-dateutil", "dateutil"],
      ["beautifulsoup4", "bs4"],
      ["scikit-image", "skimage"],
      ["Pillow", "PIL"],
      ["scikit_learn", "sklearn"],
    ];
    for (const [name, module] of cases) expect(importTargetFor(name), name).toEqual({ module });
  });

  it("imports other packages as their name with - turned into _", () => {
    expect(importTargetFor("lightgbm")).toEqual({ module: "lightgbm" });
    expect(importTargetFor("typing-extensions")).toEqual({ module: "typing_extensions" });
    expect(importTargetFor("ruamel.yaml")).toEqual({ module: "ruamel.yaml" });
  });

  it("skips packages with no module, saying why", () => {
    for (const name of ["python", "pip", "pytorch-cuda", "cudatoolkit", "cuda-version"]) {
      const target = importTargetFor(name);
      expect(target.module, name).toBeNull();
      expect(target.skip, name).toMatch(/\w/);
    }
  });
});
