/**
 * The rendered leaderboard page in a real headless Chromium (Debian's `chromium` + playwright-core),
 * loaded from a file:// URL with every other request refused.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../../test/support/chromium.js";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { rankEntries } from "./ranking.js";
import { renderHtml } from "./render-html.js";
import { parseRules } from "./rules.js";
import { makeEntry, makeFailed } from "./test-support/entries.js";

const SCREENSHOT = process.env.PROCTOR_SCREENSHOT ?? join(tmpdir(), "proctor-leaderboard.png");

const EVIL = [
  "<img src=x onerror=alert(1)>",
  "</script><script>alert(2)</script>",
  '" autofocus onfocus="alert(3)',
];

function entries() {
  const t = (day: number, hour = 12) => new Date(Date.UTC(2025, 2, day, hour)).toISOString();
  return [
    makeEntry({ participant: "alice", publicScore: 0.9312, submittedAt: t(1) }),
    makeEntry({ participant: "alice", publicScore: 0.88, submittedAt: t(4) }),
    makeEntry({ participant: "Bob", publicScore: 0.9501, submittedAt: t(2) }),
    makeEntry({ participant: "carol", publicScore: 0.9312, submittedAt: t(3) }), // ties alice, later: below
    makeEntry({ participant: "dmitri", publicScore: 0.7, submittedAt: t(2) }),
    makeEntry({ participant: "dmitri", publicScore: 0.71, submittedAt: t(5) }),
    makeEntry({ participant: "dmitri", publicScore: 0.69, submittedAt: t(6) }),
    makeEntry({ participant: EVIL[0]!, publicScore: 0.8, submittedAt: t(2) }),
    makeEntry({ participant: EVIL[1]!, publicScore: 0.5, submittedAt: t(3) }),
    makeFailed({ participant: EVIL[2]!, submittedAt: t(7) }),
    makeFailed({ participant: "eve", status: "timed_out", submittedAt: t(6) }),
    makeFailed({ participant: "frank", status: "infrastructure_error", submittedAt: t(6) }),
  ];
}

let browser: Browser;
let page: Page;
let context: BrowserContext;
let dir: string;
let url: string;
const dialogs: string[] = [];
const outside: string[] = [];
const consoleProblems: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "proctor-leaderboard-html-"));
  const standings = rankEntries(entries(), parseRules({ direction: "higher", precision: 4 }));
  const file = join(dir, "leaderboard.html");
  writeFileSync(
    file,
    renderHtml(standings, {
      competition: "Flood Forecast 2025",
      generatedAt: new Date("2025-03-10T08:00:00Z"),
    }),
  );
  url = pathToFileURL(file).href;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  dialogs.length = 0;
  outside.length = 0;
  consoleProblems.length = 0;
  context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  // The page must load nothing but itself: refuse (and remember) any other request.
  await context.route("**/*", (route) => {
    const requested = route.request().url();
    if (requested === url) return route.continue();
    outside.push(requested);
    return route.abort();
  });
  page = await context.newPage();
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") consoleProblems.push(message.text());
  });
  page.on("pageerror", (error) => consoleProblems.push(error.message));
  await page.goto(url);
});

afterEach(async () => {
  await context?.close();
});

const column = (index: number) =>
  page.$$eval(`#leaderboard tbody tr`, (rows, i) => rows.map((r) => r.children[i]!.textContent), index);
const participants = () => column(1);
const ariaSort = () =>
  page.$$eval("#leaderboard thead th[data-type]", (ths) => ths.map((th) => th.getAttribute("aria-sort")));

describe("leaderboard page in Chromium", () => {
  it("shows one row per participant in rank order, title and generated-at time", async () => {
    expect(await page.title()).toBe("Flood Forecast 2025 — public leaderboard");
    expect(await page.textContent(".meta")).toContain("generated 2025-03-10 08:00 UTC");
    expect(await participants()).toEqual([
      "Bob",
      "alice",
      "carol",
      EVIL[0],
      "dmitri",
      EVIL[1],
      EVIL[2],
      "eve",
    ]);
    expect(await column(0)).toEqual(["1", "2", "3", "4", "5", "6", "—", "—"]);
    expect(await column(2)).toEqual([
      "0.9501",
      "0.9312",
      "0.9312",
      "0.8000",
      "0.7100",
      "0.5000",
      "no score",
      "no score",
    ]);
    expect(await column(3)).toEqual(["1", "2", "1", "1", "3", "1", "1", "1"]);
    expect(await ariaSort()).toEqual(["ascending", null, null, null, null]);
    expect(await page.locator("caption").textContent()).toContain("6 ranked of 8 participants");
    expect(await page.$$eval('thead th[scope="col"] button', (b) => b.length)).toBe(5);
    expect(await page.$$eval('tbody th[scope="row"]', (b) => b.length)).toBe(8);
  });

  it("sorts by a column when its header button is clicked, and updates aria-sort", async () => {
    await page.getByRole("button", { name: "Participant" }).click();
    expect(await ariaSort()).toEqual([null, "ascending", null, null, null]);
    const ascending = await participants();
    expect(ascending.slice(0, 2)).toEqual([EVIL[2], EVIL[1]]); // punctuation sorts first
    expect(ascending.slice(-5)).toEqual(["alice", "Bob", "carol", "dmitri", "eve"]); // case-insensitive
    expect(await page.locator("#sort-status").textContent()).toBe("Sorted by Participant, ascending.");

    await page.getByRole("button", { name: "Participant" }).click();
    expect(await ariaSort()).toEqual([null, "descending", null, null, null]);
    expect(await participants()).toEqual([...ascending].reverse());

    await page.getByRole("button", { name: "Entries" }).click(); // most entries first, ties in rank order
    expect(await ariaSort()).toEqual([null, null, null, "descending", null]);
    expect(await participants()).toEqual([
      "dmitri",
      "alice",
      "Bob",
      "carol",
      EVIL[0],
      EVIL[1],
      EVIL[2],
      "eve",
    ]);

    await page.getByRole("button", { name: "Best score" }).click(); // best first; unranked stay last
    expect(await ariaSort()).toEqual([null, null, "descending", null, null]);
    expect(await column(0)).toEqual(["1", "2", "3", "4", "5", "6", "—", "—"]);
    await page.getByRole("button", { name: "Best score" }).click();
    expect(await column(0)).toEqual(["6", "5", "4", "2", "3", "1", "—", "—"]);
    expect(await ariaSort()).toEqual([null, null, "ascending", null, null]);
  });

  it("sorts from the keyboard: Tab to a header button, press Enter or Space", async () => {
    await page.keyboard.press("Tab"); // Rank
    await page.keyboard.press("Tab"); // Participant
    await page.keyboard.press("Tab"); // Best score
    await page.keyboard.press("Tab"); // Entries
    await page.keyboard.press("Tab"); // Last submission
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Last submission");
    await page.keyboard.press("Enter");
    expect(await ariaSort()).toEqual([null, null, null, null, "descending"]);
    expect((await participants())[0]).toBe(EVIL[2]); // submitted last (day 7)
    await page.keyboard.press("Space");
    expect(await ariaSort()).toEqual([null, null, null, null, "ascending"]);
    expect((await participants()).slice(0, 2)).toEqual(["Bob", EVIL[0]]); // both last submitted on day 2: rank order
  });

  it("escapes participant names: the text shows verbatim, nothing executes, nothing is fetched", async () => {
    const names = await participants();
    for (const evil of EVIL) expect(names).toContain(evil);
    expect(await page.$$eval("img, iframe, object, embed", (els) => els.length)).toBe(0);
    expect(await page.$$eval("script", (els) => els.length)).toBe(1);
    expect(await page.$$eval("[onerror], [onfocus], [autofocus]", (els) => els.length)).toBe(0);
    await page.getByRole("button", { name: "Participant" }).click();
    await page.waitForTimeout(200);
    expect(dialogs).toEqual([]);
    expect(outside).toEqual([]);
    expect(consoleProblems).toEqual([]); // also: no CSP violation, so the inline style and script hashes match
  });

  it("looks decent (screenshot for a human look)", async () => {
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const styled = await page.evaluate("getComputedStyle(document.querySelector('thead th')).fontWeight");
    expect(Number(styled)).toBeGreaterThanOrEqual(600); // the inline stylesheet applied
  });
});
