/**
 * The queue in a real headless Chromium against a real gateway (harness: real SQLite, no dispatch: pull
 * runners' claims over HTTP): the My submissions page says where a queued submission stands and that no
 * runner is online, then its runner and the wait as a runner claims and reports, without a reload; the
 * public /status page shows the runners, the queue and the durations, updates by itself, and names no
 * participant.
 */
import { join, resolve } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../../../test/support/chromium.js";
import {
  GOOD_ZIP,
  SUCCEEDED,
  rawRequest,
  startHarness,
  upload,
  type Harness,
} from "../test-support/harness.js";

const NAME = "quentin-queue-browser";

/** What the tests read of the page's document (the tests compile without the DOM's types). */
interface Cell {
  textContent: string | null;
}
interface Dom {
  document: { querySelector(s: string): Cell | null; querySelectorAll(s: string): ArrayLike<Cell> };
}

let h: Harness;
let browser: Browser;
const problems: string[] = [];

const runnerPost = (route: string, body: unknown) =>
  rawRequest(h.url, {
    method: "POST",
    path: route,
    headers: { "content-type": "application/json", authorization: `Bearer ${h.runner}` },
    body: Buffer.from(JSON.stringify(body)),
  });

async function claim(kind: "cpu" | "gpu") {
  const answer = await runnerPost("/v1/runner/claims", { kind, runner: "box/slot-1" });
  return answer.json()["claim"] as { claim_token: string; submission: { submission_id: string } };
}

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  await context.route("**/*", (route) =>
    route.request().url().startsWith(`${h.url}/`) ? route.continue() : route.abort(),
  );
  const page = await context.newPage();
  page.on("pageerror", (error) => problems.push(error.message));
  return page;
}

/** Waits until the page's live region, refreshed by itself, says `words` of submission `id`'s place. */
const queueSays = (page: Page, id: string, words: string) =>
  page.waitForFunction(
    ([id, words]) =>
      (globalThis as unknown as Dom).document
        .querySelector(`tr[id="${id}"] [data-cell="queue"]`)
        ?.textContent?.includes(words),
    [id, words] as const,
  );

const text = async (page: Page, selector: string) =>
  (await page.locator(selector).innerText()).replace(/\s+/g, " ").trim();

beforeAll(async () => {
  h = await startHarness({ github: undefined });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await h?.close();
});

describe("the queue on the pages", () => {
  it("My submissions: the place in the queue, no runner said plainly, then the runner and the wait, live", async () => {
    const token = h.token(NAME);
    const ids: string[] = [];
    for (let i = 0; i < 2; i += 1) {
      const answer = await upload(h, token, await GOOD_ZIP(), { query: "?cpu_or_gpu=cpu" });
      ids.push((answer.json()["submission"] as { submission_id: string }).submission_id);
      h.clock.advance(1000);
    }
    const page = await newPage();
    await page.goto(`${h.url}/signin`);
    await page.getByLabel("Token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${h.url}/submissions`);
    const queue = (id: string) => `tr[id="${id}"] [data-cell="queue"]`;
    expect(await text(page, queue(ids[0]!))).toBe(
      "#1 in the cpu queue; no cpu runner is online right now, so it waits until one comes",
    );
    expect(await text(page, queue(ids[1]!))).toMatch(/^#2 in the cpu queue; no cpu runner is online/);

    // A runner claims the first: the page shows its runner, and the second moves up, without a reload.
    const first = await claim("cpu");
    expect(first.submission.submission_id).toBe(ids[0]);
    await queueSays(page, ids[0]!, "running on");
    expect(await text(page, queue(ids[0]!))).toBe(
      "running on runner-1/box/slot-1 since 2025-03-01 10:00 UTC",
    );
    expect(await text(page, queue(ids[1]!))).toBe(
      "#1 in the cpu queue; no cpu run has finished yet to estimate the wait from",
    );

    // It scores after 30 s: the slot is free, so the next one starts any moment.
    h.clock.advance(30_000);
    const reported = await runnerPost(`/v1/runner/submissions/${ids[0]}/result`, {
      ...SUCCEEDED,
      claim_token: first.claim_token,
    });
    expect(reported.status, reported.text).toBe(200);
    await queueSays(page, ids[1]!, "any moment");
    expect(await text(page, `tr[id="${ids[0]}"] [data-cell="score"]`)).toBe("0.8750");
    expect(await page.locator(queue(ids[0]!)).count()).toBe(0);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("/status: runners, queue and durations for everyone, a kind without runners said plainly, updated live, no names", async () => {
    const token = h.token(NAME);
    const gpu = await upload(h, token, await GOOD_ZIP(), { query: "?cpu_or_gpu=gpu" });
    expect(gpu.status, gpu.text).toBe(202);
    const page = await newPage();
    await page.goto(`${h.url}/status`);
    expect(await page.title()).toContain("Status");
    expect(await page.getByRole("link", { name: "Status" }).getAttribute("aria-current")).toBe("page");
    expect(await text(page, '[data-cell="no-runner"]')).toBe(
      "No gpu runner is online right now: the 1 queued gpu submission waits until one comes.",
    );
    // cpu: the runner that ran the first (one slot, idle now), the second cpu submission queued.
    expect(await text(page, '#status-queue tr[data-kind="cpu"]')).toBe("cpu 1 1 1 0");
    expect(await text(page, '#status-queue tr[data-kind="gpu"]')).toBe("gpu 0 0 1 0");
    // The first cpu submission waited 0 s and ran 30 s.
    expect(await text(page, '#status-times tr[data-kind="cpu"][data-measure="run_time"]')).toBe(
      "cpu Run time 30.0s / 30.0s (1) 30.0s / 30.0s (1)",
    );
    expect(await text(page, "#live-status")).toMatch(/^Last scored: 2025-03-01 10:00 UTC\./);

    // The second cpu submission is claimed: the page shows it running, by itself.
    const second = await claim("cpu");
    expect(second).not.toBeNull();
    await page.waitForFunction(
      () =>
        Array.from(
          (globalThis as unknown as Dom).document.querySelectorAll('#status-queue tr[data-kind="cpu"] > *'),
          (cell) => cell.textContent?.trim(),
        ).join(" ") === "cpu 1 1 0 1",
    );
    if (process.env.PROCTOR_SCREENSHOTS)
      await page.screenshot({
        path: join(resolve(process.env.PROCTOR_SCREENSHOTS), "status.png"),
        fullPage: true,
      });
    const body = await page.locator("body").innerText();
    expect(body).not.toContain(NAME);
    expect(body).not.toContain("sub-");
    expect(problems).toEqual([]);
    await page.context().close();
  });
});
