import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cliScratch, spawnCollected } from "../../test/support/cli.js";
import { offlineImage } from "../runtime/test-support/offline-image.js";

/** `proctor runtime sbom` (what `make sbom` runs) on the offline flavour, under the repository's competition.yml. */
const CLI = path.resolve("build/proctor.mjs");
const scratch = cliScratch("proctor-sbom-cli-");

describe("proctor runtime sbom", () => {
  it("writes the CycloneDX SBOM and the licence report beside it, and passes under the default policy", async () => {
    const image = await offlineImage();
    const out = path.join(scratch.dir, "sbom", "offline.cdx.json");
    const r = await spawnCollected(process.execPath, [
      CLI,
      "runtime",
      "sbom",
      "--image",
      image,
      "--out",
      out,
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /offline\.cdx\.json: \d{3} packages; .*offline\.licences\.md: \d+ unknown, 0 denied licence\(s\)/,
    );
    const sbom = JSON.parse(await readFile(out, "utf8")) as { bomFormat: string; components: unknown[] };
    expect(sbom.bomFormat).toBe("CycloneDX");
    expect(sbom.components.length).toBeGreaterThan(100);
    const report = await readFile(path.join(scratch.dir, "sbom", "offline.licences.md"), "utf8");
    expect(report).toContain(`### Licences of ${image}`);
    expect(report).toContain("denied by competition.yml `runtime.licences.deny`: AGPL-1.0-only");
  }, 300_000);

  it("names the image when it cannot list it (exit 3 for an image the engine does not have)", async () => {
    const r = await spawnCollected(process.execPath, [
      CLI,
      "runtime",
      "sbom",
      "--image",
      "proctor-test/no-such-image:never",
      "--out",
      path.join(scratch.dir, "x.json"),
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      'proctor runtime sbom: image "proctor-test/no-such-image:never" is not on this Docker engine; pull it (make pull / docker pull proctor-test/no-such-image:never) or build it (make build-offline)\n',
    );
  });
});
