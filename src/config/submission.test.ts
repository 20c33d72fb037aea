import { describe, expect, it } from "vitest";
import { loadCompetition } from "./competition.js";
import { competitionFiles, MINIMAL_COMPETITION } from "./test-support/competition-files.js";

const files = competitionFiles("proctor-config-submission-");
const load = async (text: string) => loadCompetition(await files.write(MINIMAL_COMPETITION + text));
const issuesOf = (text: string) => files.issuesOf(MINIMAL_COMPETITION + text);

describe("competition.yml submission:", () => {
  it("defaults to zips in the shared runtime", async () => {
    expect((await load("")).submission).toEqual({ kind: "zip" });
    expect((await loadCompetition("competition.yml")).submission).toEqual({ kind: "zip" });
  });

  it("kind: image takes Grand Challenge's defaults", async () => {
    expect((await load("submission:\n  kind: image\n")).submission).toEqual({
      kind: "image",
      image: {
        limits: {},
        inputDir: "/input",
        outputDir: "/output",
        platform: { os: "linux", architecture: "amd64" },
        allowedBaseImages: [],
      },
    });
  });

  it("reads caps with units, paths, the platform and the allow-list", async () => {
    const c = await load(
      [
        "submission:",
        "  kind: image",
        "  image:",
        "    max_size: 1g",
        "    max_uncompressed: 6g",
        "    max_layer: 3g",
        "    max_layers: 40",
        "    max_ratio: 50",
        "    input_dir: /data/in",
        "    output_dir: /data/out",
        "    platform: linux/arm64/v8",
        "    allowed_base_images: [python:3.11-slim, 'nvidia/cuda@sha256:" + "a".repeat(64) + "']",
        "",
      ].join("\n"),
    );
    expect(c.submission).toEqual({
      kind: "image",
      image: {
        limits: {
          maxArchiveBytes: 1024 ** 3,
          maxUncompressedBytes: 6 * 1024 ** 3,
          maxLayerBytes: 3 * 1024 ** 3,
          maxLayers: 40,
          maxCompressionRatio: 50,
        },
        inputDir: "/data/in",
        outputDir: "/data/out",
        platform: { os: "linux", architecture: "arm64", variant: "v8" },
        allowedBaseImages: ["python:3.11-slim", `nvidia/cuda@sha256:${"a".repeat(64)}`],
      },
    });
  });

  it("contract: grand-challenge runs per case, with its time, model caps and output files", async () => {
    const c = await load(
      "submission:\n  kind: image\n  image:\n    contract: grand-challenge\n    case_time: 90s\n    max_model: 1g\n    outputs: { rfs: rfs.json, mask: images/mask.json }\n",
    );
    expect(c.submission.kind === "image" && c.submission.image.perCase).toEqual({
      caseTimeMs: 90_000,
      maxModelBytes: 1024 ** 3,
      maxModelUncompressedBytes: 10 * 1024 ** 3,
      outputs: { rfs: "rfs.json", mask: "images/mask.json" },
    });
    const plain = await load("submission:\n  kind: image\n");
    expect(plain.submission.kind === "image" && plain.submission.image.perCase).toBeUndefined();
  });

  it("contract: grand-challenge takes the phase's input sockets, as inputs.json names them", async () => {
    const c = await load(
      "submission:\n  kind: image\n  image:\n    contract: grand-challenge\n    inputs:\n" +
        "      - { slug: ct-image, relative_path: images/ct, kind: Image }\n" +
        "      - { slug: electronic-health-record, relative_path: ehr.json }\n" +
        "      - { slug: report, relative_path: docs/report.pdf, kind: PDF, super_kind: File }\n",
    );
    expect(c.submission.kind === "image" && c.submission.image.perCase?.inputs).toEqual([
      { slug: "ct-image", relativePath: "images/ct", kind: "Image" },
      { slug: "electronic-health-record", relativePath: "ehr.json" },
      { slug: "report", relativePath: "docs/report.pdf", kind: "PDF", superKind: "File" },
    ]);
  });

  it.each<[string, string, RegExp]>([
    [
      "submission:\n  kind: image\n  image:\n    case_time: 1m\n",
      "submission.image.case_time",
      /only applies to contract: grand-challenge/,
    ],
    [
      "submission:\n  kind: image\n  image:\n    contract: per-case\n",
      "submission.image.contract",
      /"plain", "grand-challenge"/,
    ],
    ...["/rfs.json", "../rfs.json", "a/../b.json", "out/", ".", "a\\\\b.json"].map(
      (file) =>
        [
          `submission:\n  kind: image\n  image:\n    contract: grand-challenge\n    outputs: { rfs: "${file}" }\n`,
          "submission.image.outputs.rfs",
          /normalised file path inside the output folder/,
        ] as [string, string, RegExp],
    ),
    [
      "submission:\n  kind: image\n  image:\n    inputs: [{ slug: ct-image, relative_path: images/ct }]\n",
      "submission.image.inputs",
      /only applies to contract: grand-challenge/,
    ],
    [
      "submission:\n  kind: image\n  image:\n    contract: grand-challenge\n    inputs: [{ slug: CT Image, relative_path: images/ct }]\n",
      "submission.image.inputs[0].slug",
      /must be a socket's slug as Grand Challenge writes it/,
    ],
    [
      "submission:\n  kind: image\n  image:\n    contract: grand-challenge\n    inputs: [{ slug: ct, relative_path: /input/images/ct }]\n",
      "submission.image.inputs[0].relative_path",
      /must be a normalised path inside a case folder/,
    ],
    [
      "submission:\n  kind: image\n  image:\n    contract: grand-challenge\n    inputs: [{ slug: ct, relative_path: images/ct }, { slug: ct, relative_path: images/pet }]\n",
      "submission.image.inputs[1].slug",
      /"ct" names two input sockets/,
    ],
    [
      "submission:\n  kind: image\n  image:\n    contract: grand-challenge\n    inputs: [{ slug: ct, path: images/ct }]\n",
      "submission.image.inputs[0].path",
      /not a known key.*relative_path/,
    ],
    ["submission:\n  kind: docker\n", "submission.kind", /"zip", "image"/],
    ["submission:\n  image:\n    input_dir: /in\n", "submission.image", /only applies to kind: image/],
    ["submission:\n  kind: image\n  image:\n    input_dir: in\n", "submission.image.input_dir", /absolute/],
    [
      "submission:\n  kind: image\n  image:\n    output_dir: /tmp\n",
      "submission.image.output_dir",
      /needs for itself/,
    ],
    [
      "submission:\n  kind: image\n  image:\n    input_dir: /x\n    output_dir: /x/out\n",
      "submission.image.output_dir",
      /overlap/,
    ],
    [
      "submission:\n  kind: image\n  image:\n    platform: amd64\n",
      "submission.image.platform",
      /linux\/amd64/,
    ],
    ["submission:\n  kind: image\n  image:\n    max_size: 2 gallons\n", "submission.image.max_size", /./],
    [
      "submission:\n  kind: image\n  image:\n    max_layer: 1g\n    max_layrs: 3\n",
      "submission.image.max_layrs",
      /not a known key/,
    ],
    [
      "submission:\n  kind: image\n  image:\n    allowed_base_images: ['python 3']\n",
      "submission.image.allowed_base_images[0]",
      /image reference/,
    ],
  ])("refuses %j at %s", async (text, key, message) => {
    const issues = await issuesOf(text);
    const issue = issues.find((i) => i.key === key);
    expect(issue, JSON.stringify(issues)).toBeDefined();
    expect(issue!.message).toMatch(message);
    expect(issue!.line).toBeGreaterThan(10);
  });
});
