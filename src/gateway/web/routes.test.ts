/**
 * The pages over plain HTTP (no browser, no script): what a browser without JavaScript gets, the headers
 * every page carries, and the refusals (no session, the wrong kind of session, no CSRF token, closed dates).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  COMPETITION_YML,
  GOOD_ZIP,
  multipart,
  postResult,
  startHarness,
  SUCCEEDED,
  type Harness,
} from "../test-support/harness.js";
import { PlainBrowser } from "./test-support/plain-browser.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness(
    {},
    `${COMPETITION_YML}timeline: { start: 2025-02-01T00:00:00Z, end: 2025-06-01T00:00:00Z }\n`,
  );
});
afterAll(() => h.close());

/** A browser without script, on this file's gateway unless told another. */
class Browser extends PlainBrowser {
  constructor(base: string = h.url) {
    super(base);
  }
}

describe("pages without a browser's script", () => {
  it("serves every page with a strict Content-Security-Policy, no caching, and nosniff", async () => {
    for (const route of ["/", "/signin", "/leaderboard"]) {
      const page = await new Browser().request(route);
      expect(page.status, route).toBe(200);
      expect(page.headers.get("content-security-policy"), route).toMatch(
        /default-src 'none'; .*script-src 'self'/,
      );
      expect(page.headers.get("x-content-type-options"), route).toBe("nosniff");
      expect(page.text, route).not.toMatch(/<script>|\son\w+=/); // no inline script or handler
    }
    expect((await new Browser().request("/assets/app.js")).headers.get("content-type")).toMatch(/javascript/);
    expect((await new Browser().request("/favicon.ico")).status).toBe(204);
  });

  it("uploads with a plain form post (token in the form's action) and redirects to the submissions", async () => {
    const browser = new Browser();
    expect((await browser.signIn(h.token("no-script"))).headers.get("location")).toBe("/submissions");
    const csrf = await browser.csrf("/submit");
    const { body, contentType } = multipart(await GOOD_ZIP(), {
      fields: { cpu_or_gpu: "cpu", note: "plain" },
    });
    const answer = await browser.request(`/submit?_csrf=${encodeURIComponent(csrf)}`, {
      method: "POST",
      headers: { "content-type": contentType },
      body,
    });
    expect(answer.status).toBe(303);
    expect(answer.headers.get("location")).toMatch(/^\/submissions#sub-/);
    const page = await browser.request("/submissions");
    expect(page.text).toContain('data-state="queued"');
    expect(page.text).toContain("plain");

    // A refused upload re-renders the form with the reason (here: not a zip).
    const refused = await browser.request(`/submit?_csrf=${encodeURIComponent(csrf)}`, {
      method: "POST",
      headers: { "content-type": multipart(Buffer.from("nope")).contentType },
      body: multipart(Buffer.from("nope")).body,
    });
    expect(refused.status).toBe(422);
    expect(refused.text).toMatch(/id="upload-error"[^>]*>[^<]*Rule: /);
  });

  it("shows a finished run's resources: runtime, peaks and a chart drawn from numbers only", async () => {
    const browser = new Browser();
    await browser.signIn(h.token("charted"));
    const csrf = await browser.csrf("/submit");
    const { body, contentType } = multipart(await GOOD_ZIP(), { fields: { cpu_or_gpu: "cpu" } });
    const answer = await browser.request(`/submit?_csrf=${encodeURIComponent(csrf)}`, {
      method: "POST",
      headers: { "content-type": contentType },
      body,
    });
    const id = /#(sub-[A-Za-z0-9_-]+)/.exec(answer.headers.get("location")!)![1]!;
    const usage = {
      runtime: "runsc",
      peak_memory_bytes: 320 * 1024 ** 2,
      cpu_seconds: 2.8,
      memory_limit_bytes: 1024 ** 3,
      cpus: 2,
      samples: [
        { t_ms: 0, memory_bytes: 10 * 1024 ** 2, cpu_cores: 0.5 },
        { t_ms: 1000, memory_bytes: 320 * 1024 ** 2, cpu_cores: 1 },
      ],
    };
    expect((await postResult(h, id, h.runner, { ...SUCCEEDED, usage })).status).toBe(200);
    const page = await browser.request("/submissions");
    const row = page.text.slice(page.text.indexOf(`id="${id}"`));
    expect(row).toMatch(/runsc; peak memory 320.0 MiB\s+of 1.0 GiB; CPU time\s+2.8 s/);
    expect(row).toMatch(/<svg [^>]*role="img" aria-label="memory \(blue\) peak 320 MiB/);
  });

  it("refuses an upload without the CSRF token, before reading it", async () => {
    const browser = new Browser();
    await browser.signIn(h.token("forged-upload"));
    const { body, contentType } = multipart(await GOOD_ZIP());
    const answer = await browser.request("/submit", {
      method: "POST",
      headers: { "content-type": contentType },
      body,
    });
    expect(answer.status).toBe(403);
    expect(answer.text).toContain("anti-forgery token");
    expect((await h.gateway.intake.list("forged-upload")).submissions).toEqual([]);
  });

  it("sends visitors without a session to sign in, and keeps participants out of the organizer's page", async () => {
    const anonymous = new Browser();
    for (const route of ["/submit", "/submissions", "/admin"]) {
      const answer = await anonymous.request(route);
      expect(answer.status, route).toBe(303);
      expect(answer.headers.get("location"), route).toBe("/signin");
    }
    expect((await anonymous.request("/submissions/live")).status).toBe(401);

    const participant = new Browser();
    await participant.signIn(h.token("curious"));
    expect((await participant.request("/admin")).status).toBe(403);
    const csrf = await participant.csrf("/submissions");
    const action = await participant.post("/admin/rescore", { _csrf: csrf });
    expect(action.status).toBe(403);
    expect(action.text).toContain("Organizers only");
  });

  it("never opens a session with a runner credential, and a session cookie opens no API route", async () => {
    const browser = new Browser();
    const answer = await browser.signIn(h.runner);
    expect(answer.status).toBe(401);
    expect(browser.cookies.has("proctor_session")).toBe(false);

    await browser.signIn(h.token("api-poker"));
    expect(browser.cookies.has("proctor_session")).toBe(true);
    expect((await browser.request("/v1/submissions")).status).toBe(401); // the API takes bearer tokens only
  });

  it("explains closed dates on the submit page and disables the button", async () => {
    const browser = new Browser();
    h.clock.now = new Date("2025-06-02T00:00:00Z");
    try {
      await browser.signIn(h.token("too-late")); // signing in still works: the rules and scores stay readable
      const page = await browser.request("/submit");
      expect(page.text).toContain("submissions closed at 2025-06-01T00:00:00.000Z");
      expect(page.text).toMatch(/<button type="submit"\s+disabled>Upload/);
    } finally {
      h.clock.now = new Date("2025-03-01T10:00:00Z");
    }
  });
});

describe("rate limits on the pages", () => {
  it("count a signed-in browser against its holder, and a made-up session cookie against its address", async () => {
    const limited = await startHarness({ rateLimit: { max: 4, uploadsMax: 1, timeWindowMs: 60_000 } });
    try {
      const browser = new Browser(limited.url);
      const signIn = await browser.csrf("/signin"); // 1 (address)
      await browser.post("/signin", { _csrf: signIn, token: limited.token("busy") }); // 2 (address)
      const own: number[] = [];
      for (let i = 0; i < 5; i += 1) own.push((await browser.request("/leaderboard")).status);
      expect(own).toEqual([200, 200, 200, 200, 429]); // the holder's own budget of 4

      const forger = new Browser(limited.url);
      forger.cookies.set("proctor_session", "A".repeat(43));
      const forged: number[] = [];
      for (let i = 0; i < 3; i += 1) forged.push((await forger.request("/leaderboard")).status);
      expect(forged).toEqual([200, 200, 429]); // the address had spent 2 on signing in
    } finally {
      await limited.close();
    }
  });
});
