/**
 * The submit page of a competition that takes images, in a real headless Chromium against a real gateway:
 * an image and its model tarball go up together through the page's form (CSRF token and all), in the order
 * the gateway reads them; a hostile model is refused in the page with the rule, keeping nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../../../test/support/chromium.js";
import { file, imageArchive, symlink, tarBytes } from "../../submission/test-support/image-tar.js";
import { COMPETITION_YML, startHarness, type Harness } from "../test-support/harness.js";

const IMAGE_YML =
  `${COMPETITION_YML}submission: { kind: image, image: { max_size: 64k, contract: grand-challenge, ` +
  `max_model: 8k } }\n`;

let h: Harness;
let browser: Browser;
let work: string;
let image: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "proctor-web-model-"));
  image = join(work, "algorithm.tar.gz");
  writeFileSync(image, gzipSync(await imageArchive()));
  [h, browser] = await Promise.all([startHarness({}, IMAGE_YML), launchChromium()]);
}, 120_000);
afterAll(async () => {
  await Promise.all([browser?.close(), h?.close()]);
  rmSync(work, { recursive: true, force: true });
});

/** A signed-in page on the submit form, loading nothing but the gateway. */
async function submitForm(participant: string): Promise<Page> {
  const context = await browser.newContext();
  await context.route("**/*", (route) =>
    route.request().url().startsWith(`${h.url}/`) ? route.continue() : route.abort(),
  );
  const page = await context.newPage();
  await page.goto(`${h.url}/signin`);
  await page.getByLabel("Token").fill(h.token(participant));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForLoadState();
  await page.goto(`${h.url}/submit`);
  return page;
}

describe("the submit page of an image competition", () => {
  it("uploads the image with its model tarball, kept as the same bytes", async () => {
    const model = gzipSync(await tarBytes([file("weights.bin", "0.5")]));
    writeFileSync(join(work, "model.tar.gz"), model);
    const page = await submitForm("gc-participant");
    await page.getByLabel(/Image archive/).setInputFiles(image);
    await page.getByLabel(/Model tarball/).setInputFiles(join(work, "model.tar.gz"));
    await page.getByRole("button", { name: "Upload" }).click();
    await page.waitForURL(/\/submissions#sub-/);
    const id = decodeURIComponent(new URL(page.url()).hash.slice(1));
    expect(await readFile(join(h.dataDir, "submissions", `${id}.model.tar`))).toEqual(model);
    await page.context().close();
  });

  it("takes the image alone when no model is chosen", async () => {
    const page = await submitForm("gc-no-model");
    await page.getByLabel(/Image archive/).setInputFiles(image);
    await page.getByRole("button", { name: "Upload" }).click();
    await page.waitForURL(/\/submissions#sub-/);
    const id = decodeURIComponent(new URL(page.url()).hash.slice(1));
    expect(await h.storedFiles()).toContain(`${id}.zip`);
    expect(await h.storedFiles()).not.toContain(`${id}.model.tar`);
    await page.context().close();
  });

  it("shows a refused model's reason, with the rule and the entry, and keeps nothing", async () => {
    const before = await h.storedFiles();
    writeFileSync(join(work, "evil.tar.gz"), gzipSync(await tarBytes([symlink("leak", "/etc/shadow")])));
    const page = await submitForm("gc-mallory");
    await page.getByLabel(/Image archive/).setInputFiles(image);
    await page.getByLabel(/Model tarball/).setInputFiles(join(work, "evil.tar.gz"));
    await page.getByRole("button", { name: "Upload" }).click();
    const alert = page.locator("#upload-error");
    await expect
      .poll(() => alert.textContent(), { timeout: 20_000 })
      .toMatch(/model tarball.*Rule: unsupported_entry\. Entry: leak\./s);
    expect(await h.storedFiles()).toEqual(before);
    await page.context().close();
  });
});
