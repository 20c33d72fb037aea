/**
 * The gateway's pages in a real headless Chromium (Debian's `chromium` + playwright-core) against a real
 * gateway (harness: fake GitHub, real SQLite, real storage): a participant signs in with a token, uploads
 * the example submission through the page, sees it queued, and sees the score appear without a reload when
 * the runner reports; refusals (wrong token, missing CSRF token, closed dates) are explained; the
 * leaderboard keeps its score column on a 390 px phone; the organizer's page acts on the queue.
 *
 * Screenshots go to $PROCTOR_SCREENSHOTS (e.g. docs/screenshots), or a temporary folder.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../../../test/support/chromium.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packSubmission } from "../../submission/index.js";
import {
  COMPETITION_YML,
  download,
  GOOD_ZIP,
  postResult,
  startHarness,
  SUCCEEDED,
  upload,
  type Harness,
} from "../test-support/harness.js";

const EVIL = "<img src=x onerror=alert(1)>";

/** What the tests read of the page's globals (the tests compile without the DOM's types). */
interface Dom {
  marker?: number;
  document: { cookie: string; documentElement: { scrollWidth: number } };
}

let h: Harness;
let browser: Browser;
let work: string;
let zipPath: string;
const shots = process.env.PROCTOR_SCREENSHOTS
  ? resolve(process.env.PROCTOR_SCREENSHOTS)
  : mkdtempSync(join(tmpdir(), "proctor-web-shots-"));
const dialogs: string[] = [];
const outside: string[] = [];
const problems: string[] = [];

const YML = `${COMPETITION_YML}
description: |
  Predict the penguin species from bill and flipper measurements.

  Your code runs with no network on the hidden test set.
timeline:
  start: 2025-02-01T00:00:00Z
  end: 2025-06-01T00:00:00Z
  phases:
    - { name: smoke_test, start: 2025-02-01T00:00:00Z, logs: full }
    - { name: evaluation, start: 2025-02-20T00:00:00Z, logs: tail }
final_selection: { mode: chosen, count: 2 }
`;

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core's WCAG 2.1 A/AA checks on the page as it is (injected: the test's context bypasses the CSP). */
async function accessibilityViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: AXE });
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as { axe: { run: (o: unknown) => Promise<{ violations: unknown[] }> } }
    ).axe;
    const result = await axe.run({
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    });
    return result.violations as AxeViolation[];
  });
  return violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
  );
}

async function newPage(
  width = 1000,
  height = 800,
  options: { bypassCSP?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  dialogs.length = 0;
  outside.length = 0;
  problems.length = 0;
  const context = await browser.newContext({ viewport: { width, height }, ...options });
  // Pages load nothing but the gateway: refuse (and remember) anything else.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(`${h.url}/`)) return route.continue();
    outside.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(error.message));
  return { context, page };
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.goto(`${h.url}/signin`);
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForLoadState();
}

beforeAll(async () => {
  h = await startHarness({}, YML);
  work = mkdtempSync(join(tmpdir(), "proctor-web-"));
  zipPath = join(work, "submission.zip");
  await packSubmission("example_submission", zipPath);
  mkdirSync(shots, { recursive: true });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await h?.close();
  if (work) rmSync(work, { recursive: true, force: true });
  if (!process.env.PROCTOR_SCREENSHOTS) rmSync(shots, { recursive: true, force: true });
});

describe("the participant's pages", () => {
  it("lands on the rules: name, description, timeline with the current phase, metric and limits", async () => {
    const { context, page } = await newPage();
    await page.goto(`${h.url}/`);
    expect(await page.title()).toBe("Test <Competition>");
    expect((await page.getByRole("heading", { level: 1 }).textContent())?.trim()).toBe("Test <Competition>");
    const main = await page.locator("main").innerText();
    expect(main).toContain("Predict the penguin species");
    expect(main).toContain("open: Evaluation (hidden test set)"); // clock: 2025-03-01
    expect(main).toContain("Metric: accuracy (higher is better)");
    expect(main).toContain("3 per day (UTC), 10 in all");
    expect(main).toContain("you pick up to 2 entries");
    expect(await page.locator('ol.phases li[aria-current="step"]').textContent()).toContain("Evaluation");
    expect(await page.locator("header nav, main, footer").count()).toBe(3);
    await page.screenshot({ path: join(shots, "landing.png"), fullPage: true });
    await context.close();
  });

  it("after the end, the landing page says since when submissions are closed, offers no Submit, names no config key", async () => {
    const { context, page } = await newPage(1000, 800, { bypassCSP: true }); // for axe's script
    await signIn(page, h.token("latecomer"));
    h.clock.now = new Date("2025-06-02T00:00:00Z");
    try {
      await page.goto(`${h.url}/`);
      expect((await page.locator("#closed").innerText()).replace(/\s+/g, " ").trim()).toBe(
        "Submissions closed at 2025-06-01 00:00 UTC: the competition takes no more entries.",
      );
      expect(await page.locator("main").getByRole("link", { name: "Submit" }).count()).toBe(0);
      expect(await page.locator("main").getByRole("link", { name: "See the leaderboard" }).count()).toBe(1);
      expect(await page.locator("body").innerText()).not.toMatch(/competition\.yml|timeline\./);
      expect(await accessibilityViolations(page)).toEqual([]);
    } finally {
      h.clock.now = new Date("2025-03-01T10:00:00Z");
    }
    await context.close();
  });

  it("refuses a wrong token with the reason, and sets no session", async () => {
    const { context, page } = await newPage();
    await signIn(page, `pct_000000000000_${"A".repeat(43)}`);
    expect(page.url()).toBe(`${h.url}/signin`);
    expect(await page.getByRole("alert").textContent()).toContain("That token was not accepted");
    expect(await page.getByLabel("Token").getAttribute("aria-invalid")).toBe("true");
    expect((await context.cookies()).some((c) => c.name === "proctor_session")).toBe(false);
    await context.close();
  });

  it("signs in, uploads the example zip with the page, sees it queued, then the score without a reload", async () => {
    const token = h.token("penguin-fan");
    const { context, page } = await newPage();
    await signIn(page, token);
    expect(page.url()).toBe(`${h.url}/submissions`);
    const session = (await context.cookies()).find((c) => c.name === "proctor_session")!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Lax", secure: false });
    expect(session.value).not.toContain(token.slice(17));
    expect(await page.evaluate(() => (globalThis as unknown as Dom).document.cookie)).not.toContain(
      "proctor_session",
    ); // HttpOnly

    await page.getByRole("link", { name: "Submit", exact: true }).click();
    expect(await page.getByRole("radio").count()).toBe(2); // runners: [cpu, gpu]
    await page.getByLabel("Note (optional, only you see it)").fill(`first try ${EVIL}`);
    await page.getByLabel(/Submission zip/).setInputFiles(zipPath);
    await page.screenshot({ path: join(shots, "submit.png"), fullPage: true });
    await page.getByRole("button", { name: "Upload" }).click();
    await page.waitForURL(/\/submissions#sub-/);
    const id = decodeURIComponent(new URL(page.url()).hash.slice(1));
    const row = page.locator(`tr[id="${id}"]`);
    expect(await row.getAttribute("data-state")).toBe("queued");
    expect(await row.innerText()).toContain(`first try ${EVIL}`);
    expect(h.dispatches().map((d) => d.submission_id)).toContain(id);

    // The runner takes it and reports; the page shows the score by itself.
    await page.evaluate(() => ((globalThis as unknown as Dom).marker = 42));
    expect((await download(h, id, 1, h.runner)).status).toBe(200);
    expect((await postResult(h, id, h.runner, { ...SUCCEEDED, public_score: 0.87512345 })).status).toBe(200);
    await expect
      .poll(async () => (await row.locator("[data-cell=score]").textContent())?.trim(), { timeout: 20_000 })
      .toBe("0.8751");
    expect(await page.evaluate(() => (globalThis as unknown as Dom).marker)).toBe(42); // no reload
    expect(await row.getAttribute("data-state")).toBe("final");
    await row.getByText("Details").click();
    expect(await row.locator("pre").first().textContent()).toBe("line 3\nline 4"); // evaluation: tail 2
    await page.screenshot({ path: join(shots, "submissions.png"), fullPage: true });

    // final_selection: chosen — the participant counts it for the final leaderboard.
    await page.getByRole("button", { name: `Count for the final: submission ${id}` }).click();
    await page.waitForLoadState();
    expect(
      await page
        .getByRole("button", { name: `Count for the final: submission ${id}` })
        .getAttribute("aria-pressed"),
    ).toBe("true");
    expect(h.gateway.intake.chosenIds().has(id)).toBe(true);

    // The leaderboard on a phone: the score column is on screen, the participant's row highlighted.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("link", { name: "Leaderboard" }).click();
    const mine = page.locator("#leaderboard tr.mine");
    expect(await mine.getAttribute("aria-current")).toBe("true");
    expect((await mine.locator("th").textContent())?.trim()).toBe("penguin-fan (you)");
    const header = await page.getByRole("columnheader", { name: "Score (accuracy)" }).boundingBox();
    const score = await mine.locator("td").nth(1).boundingBox();
    expect(header && header.x >= 0 && header.x + header.width <= 390).toBe(true);
    expect(score && score.x + score.width <= 390).toBe(true);
    expect((await mine.locator("td").nth(1).textContent())?.trim()).toBe("0.8751");
    expect(
      await page.evaluate(() => (globalThis as unknown as Dom).document.documentElement.scrollWidth),
    ).toBeLessThanOrEqual(390);
    expect(await page.locator("main").innerText()).toContain("Metric: accuracy (higher is better)");
    await page.screenshot({ path: join(shots, "leaderboard-390.png"), fullPage: true });

    expect(dialogs).toEqual([]);
    expect(outside).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it("refuses forms without a valid CSRF token, and keeps the session", async () => {
    const token = h.token("csrf-target");
    const { context, page } = await newPage();
    await signIn(page, token);
    const id = ((await upload(h, token, await GOOD_ZIP())).json()["submission"] as { submission_id: string })
      .submission_id;
    // A forged cross-site form post carries the cookies but not the token.
    const forged = await context.request.post(`${h.url}/submissions/${id}/cancel`, {
      form: { _csrf: "forged" },
      maxRedirects: 0,
    });
    expect(forged.status()).toBe(403);
    expect(await forged.text()).toContain("anti-forgery token");
    const none = await context.request.post(`${h.url}/signout`, { maxRedirects: 0 });
    expect(none.status()).toBe(403);
    const signinWithout = await context.request.post(`${h.url}/signin`, {
      form: { token },
      maxRedirects: 0,
    });
    expect(signinWithout.status()).toBe(403);
    await page.goto(`${h.url}/submissions`);
    expect(await page.locator(`tr[id="${id}"]`).getAttribute("data-state")).toBe("queued"); // not cancelled
    await context.close();
  });

  it("cancels a queued submission from the page: it does not count, and its runner is told 409", async () => {
    const token = h.token("canceller");
    const { context, page } = await newPage();
    await signIn(page, token);
    const id = ((await upload(h, token, await GOOD_ZIP())).json()["submission"] as { submission_id: string })
      .submission_id;
    await page.goto(`${h.url}/submissions`);
    expect(await page.locator("#quota").first().textContent()).toContain("2 of 3 left today");
    await page.getByRole("button", { name: `Cancel submission ${id}` }).click();
    await page.waitForLoadState();
    expect(await page.locator(`tr[id="${id}"]`).getAttribute("data-state")).toBe("cancelled");
    expect(await page.locator("#quota").first().textContent()).toContain("3 of 3 left today");
    expect((await download(h, id, 1, h.runner)).status).toBe(409);
    expect((await postResult(h, id, h.runner, SUCCEEDED)).status).toBe(409);
    await context.close();
  });

  it("shows a refused upload's reason in the page, with the rule and the entry", async () => {
    const token = h.token("sloppy");
    const { context, page } = await newPage();
    await signIn(page, token);
    await page.goto(`${h.url}/submit`);
    const bad = join(work, "bad.zip");
    const { writeFile } = await import("node:fs/promises");
    await writeFile(bad, "this is not a zip");
    await page.getByLabel(/Submission zip/).setInputFiles(bad);
    await page.getByRole("button", { name: "Upload" }).click();
    const alert = page.locator("#upload-error");
    await expect.poll(() => alert.textContent(), { timeout: 20_000 }).toMatch(/Rule: /);
    expect(page.url()).toBe(`${h.url}/submit`);
    await context.close();
  });

  it("signs out: the cookie is cleared and the old session id opens nothing", async () => {
    const token = h.token("leaver");
    const { context, page } = await newPage();
    await signIn(page, token);
    const old = (await context.cookies()).find((c) => c.name === "proctor_session")!;
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${h.url}/`);
    expect((await context.cookies()).some((c) => c.name === "proctor_session")).toBe(false);
    await context.addCookies([old]);
    await page.goto(`${h.url}/submissions`);
    expect(page.url()).toBe(`${h.url}/signin`);
    await context.close();
  });
});

describe("a re-run that fails", () => {
  it("keeps the earlier score: the owner's page shows both, the organizer's page every attempt", async () => {
    const token = h.token("steady");
    const id = ((await upload(h, token, await GOOD_ZIP())).json()["submission"] as { submission_id: string })
      .submission_id;
    expect((await postResult(h, id, h.runner, { ...SUCCEEDED, public_score: 0.77 })).status).toBe(200);
    h.gateway.intake.organizer.rerun(id);
    const failed = { ...SUCCEEDED, attempt: 2, status: "failed", reason: "exit code 1", public_score: null };
    expect((await postResult(h, id, h.runner, { ...failed, private_score_sealed: null })).status).toBe(200);

    const { context, page } = await newPage(1000, 800, { bypassCSP: true });
    await signIn(page, token);
    await page.goto(`${h.url}/submissions`);
    const row = page.locator(`tr[id="${id}"]`);
    expect(await row.locator("[data-cell=status]").innerText()).toBe(
      "attempt 2: failed\nstanding: succeeded",
    );
    expect(await row.locator("[data-cell=score]").innerText()).toBe("0.7700");
    expect(await row.getByRole("button", { name: /Cancel/ }).count()).toBe(0);
    await row.getByText("Details").click();
    expect(await row.locator("[data-cell=attempts]").innerText()).toContain("attempt 2: failed");
    expect(await accessibilityViolations(page)).toEqual([]);

    await signIn(page, h.gateway.intake.admins.add("orga-attempts").token);
    await page.goto(`${h.url}/admin/submissions/${id}`);
    expect(await page.locator("[data-cell=standing]").innerText()).toBe(
      "succeeded (public score 0.77), attempt 1",
    );
    const attempts = page.locator("#attempts tbody tr");
    expect(await attempts.count()).toBe(2);
    expect(await attempts.first().innerText()).toContain("1 (stands)");
    expect(await attempts.last().innerText()).toMatch(/2\s+rerun[\s\S]*failed\s+exit code 1/);
    expect(await accessibilityViolations(page)).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });
});

describe("on a phone, for everyone", () => {
  it("every page fits a 390 px screen and passes axe-core's WCAG 2.1 AA checks", async () => {
    const token = h.token("phone-user");
    const id = ((await upload(h, token, await GOOD_ZIP())).json()["submission"] as { submission_id: string })
      .submission_id;
    expect((await postResult(h, id, h.runner, SUCCEEDED)).status).toBe(200);
    const { context, page } = await newPage(390, 844, { bypassCSP: true });
    const check = async (route: string) => {
      await page.goto(`${h.url}${route}`);
      const width = await page.evaluate(
        () => (globalThis as unknown as Dom).document.documentElement.scrollWidth,
      );
      expect(width, `${route} scrolls sideways`).toBeLessThanOrEqual(390);
      expect(await accessibilityViolations(page), route).toEqual([]);
    };
    await check("/");
    await check("/signin");
    await check("/leaderboard");
    await check("/status");
    await signIn(page, token);
    await check("/submit");
    await check("/submissions");
    const score = await page.locator(`tr[id="${id}"] [data-cell=score]`).boundingBox();
    expect(score && score.x + score.width <= 390).toBe(true); // the score is on screen, no sideways scroll
    await page.screenshot({ path: join(shots, "submissions-390.png"), fullPage: true });
    await page.getByRole("button", { name: "Sign out" }).click();
    await signIn(page, h.gateway.intake.admins.add("phone-orga").token);
    await check("/admin?all=1");
    await context.close();
  });
});

describe("the organizer's page", () => {
  it("shows the queue to an admin token only, and re-runs and disqualifies from it", async () => {
    const participant = h.token(EVIL);
    const { submission_id: id, submitted_at: submittedAt } = (
      await upload(h, participant, await GOOD_ZIP())
    ).json()["submission"] as { submission_id: string; submitted_at: string };
    const { context, page } = await newPage();
    await signIn(page, participant);
    await page.goto(`${h.url}/admin`);
    expect((await page.getByRole("heading", { level: 1 }).textContent())?.trim()).toBe("Organizers only");
    await page.getByRole("button", { name: "Sign out" }).click();

    await signIn(page, h.gateway.intake.admins.add("orga").token);
    expect(page.url()).toBe(`${h.url}/admin`);
    const row = page.locator(`#queue tr[id="${id}"]`);
    expect((await row.locator("td").nth(1).textContent())?.trim()).toBe(EVIL);
    // When it was submitted, and how long ago, readable at any size (not 3060m0s).
    const now = h.clock.now;
    h.clock.now = new Date(Date.parse(submittedAt) + 2 * 86_400_000 + 3 * 3_600_000);
    try {
      await page.goto(`${h.url}/admin`);
      expect(await row.locator("[data-cell=submitted]").innerText()).toBe(
        `${submittedAt.replace("T", " ").replace(/:\d\d\.\d+Z$/, " UTC")}\n2d3h ago`,
      );
    } finally {
      h.clock.now = now;
    }
    await page.goto(`${h.url}/admin`);
    await page.screenshot({ path: join(shots, "admin.png"), fullPage: true });

    expect((await postResult(h, id, h.runner, { ...SUCCEEDED, public_score: 0.99 })).status).toBe(200);
    await page.goto(`${h.url}/admin?all=1`);
    await row.getByRole("button", { name: "Re-run" }).click();
    await page.waitForLoadState();
    expect(await page.getByRole("status").first().textContent()).toContain("as attempt 2");
    expect(h.gateway.intake.runnerView(id)).toMatchObject({ state: "queued", attempt: 2 });

    await row.getByLabel("Reason").fill("shared a team account");
    await row.getByRole("button", { name: "Disqualify" }).click();
    await page.waitForLoadState();
    expect(await page.locator(`#queue tr[id="${id}"]`).innerText()).toContain(
      "disqualified: shared a team account",
    );
    expect(dialogs).toEqual([]);
    await context.close();
  });

  it("opens one submission whole from the queue: what the program wrote, escaped, in an accessible page", async () => {
    const participant = h.token("hidden-reader");
    const id = (
      (await upload(h, participant, await GOOD_ZIP())).json()["submission"] as { submission_id: string }
    ).submission_id;
    const report = {
      ...SUCCEEDED,
      status: "output_invalid",
      public_score: null,
      private_score_sealed: null,
      reason: `submission.csv does not follow the submission format: 1 problem`,
      problems: [`submission.csv:1: column "${EVIL}": unexpected column "${EVIL}" [header]. Fix: id,species`],
      stdout: `${EVIL}\n`,
      diagnosis: { exit_code: 0, problem_counts: { header: 1 } },
    };
    expect((await postResult(h, id, h.runner, report)).status).toBe(200);
    // The test's context bypasses the CSP only to inject axe-core.
    const { context, page } = await newPage(1000, 800, { bypassCSP: true });
    await signIn(page, h.gateway.intake.admins.add("orga-reader").token);
    await page.goto(`${h.url}/admin?all=1`);
    await page.locator(`#queue tr[id="${id}"]`).getByRole("link", { name: id }).click();
    await page.waitForLoadState();
    expect(page.url()).toBe(`${h.url}/admin/submissions/${id}`);
    expect(await page.locator("#problems").innerText()).toContain(`unexpected column "${EVIL}"`);
    expect(await page.locator("[data-cell=reason-class]").innerText()).toContain("1 header problem");
    expect(await page.locator("pre").last().innerText()).toContain(EVIL);
    expect(await accessibilityViolations(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "admin-submission.png"), fullPage: true });
    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });
});
