import { describe, expect, it } from "vitest";
import { publishTags, sbomLocation } from "./publish.js";

describe("a published runtime image", () => {
  it("is tagged <flavour>-latest and <flavour>-<commit>", () => {
    expect(publishTags("gpu", "0123456789abcdef")).toEqual(["gpu-latest", "gpu-0123456789ab"]);
  });

  it("points to its SBOM on the leaderboard branch, where the runtime workflow's record job puts it", () => {
    expect(sbomLocation("https://github.com/org/comp", "cpu")).toBe(
      "https://github.com/org/comp/blob/leaderboard/runtime/sbom-cpu.cdx.json",
    );
  });
});
