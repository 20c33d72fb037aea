import { describe, expect, it } from "vitest";
import { ScoringError } from "./errors.js";
import { readGroundTruth, USAGE_IGNORED, USAGE_PRIVATE, USAGE_PUBLIC } from "./ground-truth.js";
import { tempFile } from "./test-support/files.js";

const csv = (lines: string[]): string => lines.join("\n") + "\n";

describe("readGroundTruth", () => {
  it("reads ids, labels and usage", async () => {
    const path = tempFile(csv(["id,y,Usage", "1,cat,Public", "2,dog,Private", "3,cat,Ignored"]), "truth.csv");
    const truth = await readGroundTruth(path, { idColumn: "id", targetColumn: "y" });
    expect(truth.ids.ids()).toEqual(["1", "2", "3"]);
    expect(truth.target).toMatchObject({ kind: "label", classes: ["cat", "dog"] });
    expect(truth.target!.kind === "label" && [...truth.target!.codes]).toEqual([0, 1, 0]);
    expect([...truth.usage!]).toEqual([USAGE_PUBLIC, USAGE_PRIVATE, USAGE_IGNORED]);
    expect(truth.usageColumn).toBe("Usage");
  });

  it("reads the ids alone", async () => {
    const path = tempFile(csv(["id,y", "1,cat", "2,dog"]), "truth.csv");
    const truth = await readGroundTruth(path, { idColumn: "id" });
    expect(truth).toMatchObject({ target: null, usage: null, usageColumn: null, columns: ["id", "y"] });
    expect(truth.ids.size).toBe(2);
  });

  it("reads numeric targets and integer ids by value", async () => {
    const path = tempFile(csv(["id,y", "007,1.5", "8,-2e3"]), "truth.csv");
    const truth = await readGroundTruth(path, {
      idColumn: "id",
      idType: "integer",
      targetColumn: "y",
      targetKind: "number",
    });
    expect(truth.ids.row("7")).toBe(0);
    expect(truth.target!.kind === "number" && [...truth.target!.values]).toEqual([1.5, -2000]);
  });

  it("names the file and line of invalid UTF-8", async () => {
    const path = tempFile(
      Buffer.concat([Buffer.from("id,y\n1,a\n2,"), Buffer.from([0xe9]), Buffer.from("\n")]),
    );
    const error = await readGroundTruth(path, { idColumn: "id" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScoringError);
    expect((error as Error).message).toMatch(/^ground truth .*:3: byte 11 is not valid UTF-8/);
  });
});
