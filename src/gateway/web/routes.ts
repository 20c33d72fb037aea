/**
 * The participant's and the organizer's pages on the gateway (see pages.ts for what they show):
 *
 *   GET  /                          rules, timeline with the current phase, links
 *   GET  /signin, POST /signin      a participant (pct_…) or admin (pad_…) token -> session cookie
 *   POST /signout                   ends the session (deleted on the server)
 *   GET  /submit, POST /submit      the upload form (multipart; progress bar with the script)
 *   GET  /submissions               my submissions (a queued one's place and wait); GET /submissions/live:
 *                                   its live region alone
 *   POST /submissions/:id/cancel    cancel a queued one (free) or a running one (counted)
 *   GET  /leaderboard               public standings of the current phase (?phase=<name>: any phase's),
 *                                   the viewer's row highlighted
 *   GET  /leaderboard?board=private the final ranking, once revealed (proctor admin reveal)
 *   GET  /status                    public: runners online, the queue, waits and run times; GET
 *                                   /status/live: its live region alone
 *   GET  /admin, POST /admin/…      the organizer's queue and actions (admin session only)
 *   GET  /admin/submissions/:id     one submission whole, the program's output included (admin only)
 *   GET  /assets/app.css|app.js
 *
 * Sessions: a random id in an HttpOnly, SameSite=Lax cookie (Secure when the public URL is https); the
 * server keeps sha256 of it (intake/sessions.ts), so sign-out and token revocation end it at once. The
 * token is only ever in a POST body, never in a URL or script-readable storage. Every state-changing form
 * carries a CSRF token (@fastify/csrf-protection: double-submit with a signed cookie, bound to the session);
 * uploads send it in the x-csrf-token header (script) or the form action's query (no script). The
 * participant's pages and the organizer's are plugins whose onRequest hook checks the session.
 */
import cookie from "@fastify/cookie";
import csrf from "@fastify/csrf-protection";
import formbody from "@fastify/formbody";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { createHash } from "node:crypto";
import type { Intake, SessionHolder } from "../../intake/index.js";
import { OrganizerError, SubmissionNotFoundError } from "../../intake/index.js";
import type { Standings } from "../../leaderboard/index.js";
import { phaseNamed } from "../../lifecycle/index.js";
import type { QueueStatus } from "../../queue-status/index.js";
import { authenticateEachRoute } from "../authenticate.js";
import { mapError } from "../errors.js";
import { receiveUpload } from "../upload.js";
import { APP_CSS, APP_JS } from "./assets.js";
import { trusted, type Html } from "./html.js";
import {
  adminPage,
  adminSubmissionPage,
  errorPage,
  landingPage,
  leaderboardPage,
  signInPage,
  statusPage,
  statusRegion,
  submissionsPage,
  submissionsRegion,
  submitPage,
  type PageContext,
} from "./pages.js";

export const SESSION_COOKIE = "proctor_session";

/** @fastify/cookie on the whole server: cookies parsed on request, signed with the intake's secret. */
export function registerCookies(app: FastifyInstance, intake: Intake): void {
  void app.register(cookie, { secret: intake.cookieSecret, hook: "onRequest" });
}
const CSRF_COOKIE = "proctor_csrf";
/** The signed-in holder of a request on the participant's or the organizer's pages. */
const SESSION = "session";

/** Route config: how a page answers a visitor without a session (401 JSON to scripts that ask for it). */
interface SignedOut {
  message: string;
  /** 401 whatever the request accepts (a script's fragment, never a page). */
  always?: boolean;
}

const CSP =
  "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export interface WebOptions {
  intake: Intake;
  /** Whether the public URL is https (cookies are then Secure). */
  secure: boolean;
  /** The current standings and their version (cached by the gateway until they change). */
  /**
   * A phase's standings (the default board without `phase`) and their version (cached by the gateway until
   * they change); an HttpError 404 for a phase the competition does not have.
   */
  standings: (phase?: string) => { version: number; standings: Standings; phase: string | null };
  /** The final (private) standings once revealed; null before. */
  privateStandings: () => Standings | null;
  /** Where queued submissions stand, and the public status. */
  queue: QueueStatus;
  /** Rate limit for uploads from the page, or none. */
  uploadRateLimit?: { max: number } | undefined;
}

/**
 * Registers the pages. Expects @fastify/cookie registered (signed with `intake.cookieSecret`) on the
 * server, before the rate limiter, which keys signed-in browsers on their session (see registerCookies).
 */
export async function registerWeb(app: FastifyInstance, options: WebOptions): Promise<void> {
  const { intake, secure } = options;
  const competition = intake.competition;
  const secret = intake.cookieSecret;
  await app.register(formbody, { bodyLimit: 16 * 1024 });
  const sessionKey = (request: FastifyRequest): string => {
    const id = request.cookies[SESSION_COOKIE];
    return id ? createHash("sha256").update(id).digest("hex") : "anonymous";
  };
  await app.register(csrf, {
    sessionPlugin: "@fastify/cookie",
    cookieKey: CSRF_COOKIE,
    cookieOpts: { path: "/", sameSite: "lax", httpOnly: true, secure, signed: true },
    csrfOpts: { hmacKey: secret, userInfo: true },
    getUserInfo: sessionKey,
    getToken: (request) => {
      const body = request.body as Record<string, unknown> | undefined;
      const query = request.query as Record<string, unknown> | undefined;
      const header = request.headers["x-csrf-token"];
      const token =
        (typeof body?.["_csrf"] === "string" && body["_csrf"]) ||
        (typeof header === "string" && header) ||
        (typeof query?.["_csrf"] === "string" && query["_csrf"]) ||
        "";
      return token;
    },
  });

  const viewer = (request: FastifyRequest): SessionHolder | undefined =>
    intake.sessions.lookup(request.cookies[SESSION_COOKIE]);
  const context = (
    request: FastifyRequest,
    reply: FastifyReply,
    current: PageContext["current"],
  ): PageContext => {
    const who = viewer(request);
    return {
      competition,
      now: intake.now,
      viewer: who && { kind: who.kind, holder: who.holder },
      csrf: reply.generateCsrf({ userInfo: sessionKey(request) }),
      current,
    };
  };
  const page = (reply: FastifyReply, body: Html, status = 200, cache = "no-store") =>
    reply
      .code(status)
      .header("content-type", "text/html; charset=utf-8")
      .header("cache-control", cache)
      .header("content-security-policy", CSP)
      .header("x-content-type-options", "nosniff")
      .header("referrer-policy", "same-origin")
      .send(body.text);
  const seeOther = (reply: FastifyReply, to: string) => reply.code(303).header("location", to).send();
  const wantsJson = (request: FastifyRequest) => (request.headers.accept ?? "").includes("application/json");

  /**
   * The participant's pages and the organizer's are each a plugin whose onRequest hook checks the session
   * (authenticateEachRoute). A visitor without the session a page needs is sent to sign in; a script that
   * asked for JSON (route config `signedOut`) is answered 401; a participant on an organizer's page, 403.
   */
  const participantSession = async (request: FastifyRequest, reply: FastifyReply) => {
    const who = viewer(request);
    if (who?.kind === "participant") return request.setDecorator(SESSION, who);
    const signedOut = (request.routeOptions.config as { signedOut?: SignedOut }).signedOut;
    if (signedOut && (signedOut.always || wantsJson(request)))
      return reply.code(401).send({ error: "unauthorized", message: signedOut.message });
    return seeOther(reply, "/signin");
  };
  const adminSession = async (request: FastifyRequest, reply: FastifyReply) => {
    const who = viewer(request);
    if (who?.kind === "admin") return undefined;
    if (!who) return seeOther(reply, "/signin");
    return page(
      reply,
      errorPage(
        context(request, reply, "admin"),
        "Organizers only",
        "This page needs an organizer's admin token.",
      ),
      403,
    );
  };
  const signedIn = (request: FastifyRequest): SessionHolder => request.getDecorator<SessionHolder>(SESSION);

  app.get("/assets/app.css", async (_request, reply) =>
    reply
      .header("content-type", "text/css; charset=utf-8")
      .header("cache-control", "public, max-age=300")
      .send(APP_CSS),
  );
  // Browsers ask for it on every page; no icon, and no 404 in their console.
  app.get("/favicon.ico", async (_request, reply) =>
    reply.code(204).header("cache-control", "public, max-age=86400").send(),
  );
  app.get("/assets/app.js", async (_request, reply) =>
    reply
      .header("content-type", "text/javascript; charset=utf-8")
      .header("cache-control", "public, max-age=300")
      .send(APP_JS),
  );

  void app.register(async (web) => {
    web.decorateRequest(SESSION, null);
    // Pages answer errors as pages (scripts asking for JSON get the API's JSON).
    web.setErrorHandler((error, request, reply) => {
      const mapped = mapError(error);
      if (mapped.status >= 500) request.log.error({ err: error }, "request failed");
      if (!request.raw.complete) reply.header("connection", "close");
      if (wantsJson(request)) {
        for (const [name, value] of Object.entries(mapped.headers ?? {})) reply.header(name, value);
        return reply.code(mapped.status).send(mapped.body);
      }
      const detail = [
        mapped.body.message,
        mapped.body.rule ? ` Rule: ${mapped.body.rule}.` : "",
        mapped.body.entry ? ` Entry: ${mapped.body.entry}.` : "",
      ].join("");
      const title = mapped.body.error === "csrf" ? "Please send the form again" : "That did not work";
      return page(reply, errorPage(context(request, reply, undefined), title, detail), mapped.status);
    });

    web.get("/", async (request, reply) => page(reply, landingPage(context(request, reply, "home"))));

    web.get("/signin", async (request, reply) => page(reply, signInPage(context(request, reply, "signin"))));

    web.post<{ Body: { token?: unknown } }>(
      "/signin",
      { preHandler: web.csrfProtection },
      async (request, reply) => {
        const token = typeof request.body?.token === "string" ? request.body.token : "";
        const opened = intake.sessions.open(token);
        // A sign-in replaces the session this browser had: never two at once, never a fixed one.
        if (opened) intake.sessions.close(request.cookies[SESSION_COOKIE]);
        if (!opened) {
          return page(
            reply,
            signInPage(
              context(request, reply, "signin"),
              "That token was not accepted: it is unknown, revoked or mistyped. Paste the whole token the " +
                "organizers gave you (pct_…); ask them for a new one if it was revoked.",
            ),
            401,
          );
        }
        reply.setCookie(SESSION_COOKIE, opened.id, {
          path: "/",
          httpOnly: true,
          sameSite: "lax",
          secure,
          maxAge: Math.floor(intake.sessions.ttlMs / 1000),
        });
        return seeOther(reply, opened.who.kind === "admin" ? "/admin" : "/submissions");
      },
    );

    web.post("/signout", { preHandler: web.csrfProtection }, async (request, reply) => {
      intake.sessions.close(request.cookies[SESSION_COOKIE]);
      reply.clearCookie(SESSION_COOKIE, { path: "/", httpOnly: true, sameSite: "lax", secure });
      return seeOther(reply, "/");
    });

    const submitForm = async (
      request: FastifyRequest,
      reply: FastifyReply,
      who: SessionHolder,
      error?: string,
    ) => {
      let closed: string | undefined;
      try {
        intake.checkOpen(who.holder);
      } catch (refusal) {
        closed = (refusal as Error).message;
      }
      const quota = (await intake.list(who.holder)).quota;
      return submitPage(context(request, reply, "submit"), quota, closed, error);
    };

    const region = async (request: FastifyRequest, reply: FastifyReply, who: SessionHolder) => {
      const list = await intake.list(who.holder);
      const csrfToken = reply.generateCsrf({ userInfo: sessionKey(request) });
      return submissionsRegion(options.queue.place(list.submissions), list.quota, competition, csrfToken);
    };

    // The participant's pages: a participant's session.
    void web.register(async (pages) => {
      authenticateEachRoute(pages, participantSession);

      pages.get("/submit", async (request, reply) =>
        page(reply, await submitForm(request, reply, signedIn(request))),
      );

      const submitConfig = {
        signedOut: { message: "sign in first: your session ended" } satisfies SignedOut,
        ...(options.uploadRateLimit && { rateLimit: options.uploadRateLimit }),
      };
      pages.post(
        "/submit",
        {
          // Uploads are big: never keep the connection for another request (and never read a refused body).
          onRequest: async (_request, reply) => void reply.header("connection", "close"),
          preHandler: web.csrfProtection,
          config: submitConfig,
        },
        async (request, reply) => {
          const who = signedIn(request);
          try {
            const submitted = await receiveUpload(intake, request, who.holder);
            if (wantsJson(request)) return reply.code(202).send(submitted);
            return seeOther(reply, `/submissions#${submitted.submission.submission_id}`);
          } catch (error) {
            if (wantsJson(request)) throw error;
            const mapped = mapError(error);
            if (mapped.status >= 500) throw error;
            const detail =
              mapped.body.message +
              (mapped.body.rule ? ` Rule: ${mapped.body.rule}.` : "") +
              (mapped.body.entry ? ` Entry: ${mapped.body.entry}.` : "");
            return page(reply, await submitForm(request, reply, who, detail), mapped.status);
          }
        },
      );

      pages.get("/submissions", async (request, reply) =>
        page(
          reply,
          submissionsPage(
            context(request, reply, "submissions"),
            await region(request, reply, signedIn(request)),
          ),
        ),
      );

      pages.get(
        "/submissions/live",
        { config: { signedOut: { message: "sign in first", always: true } satisfies SignedOut } },
        async (request, reply) => page(reply, await region(request, reply, signedIn(request))),
      );

      pages.post<{ Params: { id: string } }>(
        "/submissions/:id/cancel",
        { preHandler: web.csrfProtection },
        async (request, reply) => {
          await intake.cancel(signedIn(request).holder, request.params.id);
          return seeOther(reply, `/submissions#${request.params.id}`);
        },
      );

      pages.post<{ Params: { id: string }; Body: { chosen?: unknown } }>(
        "/submissions/:id/choice",
        { preHandler: web.csrfProtection },
        async (request, reply) => {
          await intake.choose(signedIn(request).holder, request.params.id, request.body?.chosen === "true");
          return seeOther(reply, `/submissions#${request.params.id}`);
        },
      );
    });

    // Rendered once per change for visitors without a session (most of the traffic), with an ETag; a
    // signed-in participant's copy highlights their row, so it is rendered for them.
    // One per phase's board (the phases are competition.yml's: a bounded set).
    const anonymous = new Map<string, { key: string; html: string; etag: string }>();
    web.get<{ Querystring: { board?: string; phase?: string } }>("/leaderboard", async (request, reply) => {
      const revealed = options.privateStandings();
      if (request.query.board === "private") {
        if (!revealed) {
          const ctx = context(request, reply, "leaderboard");
          const detail =
            "The final ranking, by private score, is published at the reveal after the competition ends.";
          return page(reply, errorPage(ctx, "Not revealed yet", detail), 404);
        }
        const view = { active: 0, revealed: true };
        return page(reply, leaderboardPage(context(request, reply, "leaderboard"), revealed, view));
      }
      const { version, standings, phase } = options.standings(request.query.phase);
      const view = {
        active: intake.activeCount(),
        revealed: revealed !== null,
        phase: phaseNamed(competition.lifecycle, phase),
      };
      if (viewer(request)) {
        return page(reply, leaderboardPage(context(request, reply, "leaderboard"), standings, view));
      }
      const key = `${phase}-${version}-${view.active}-${view.revealed}`;
      let cached = anonymous.get(phase ?? "");
      if (cached?.key !== key) {
        const ctx: PageContext = {
          competition,
          now: intake.now,
          viewer: undefined,
          csrf: "",
          current: "leaderboard",
        };
        const text = leaderboardPage(ctx, standings, view).text;
        const digest = createHash("sha1").update(text).digest("hex").slice(0, 16);
        cached = { key, html: text, etag: `"lb-${version}-${digest}"` };
        anonymous.set(phase ?? "", cached);
      }
      reply.header("etag", cached.etag);
      if (request.headers["if-none-match"] === cached.etag) return reply.code(304).send();
      return page(reply, trusted(cached.html), 200, "no-cache");
    });

    // Public, like the leaderboard: counts and durations only (no participant, no submission id).
    web.get("/status", async (request, reply) =>
      page(reply, statusPage(context(request, reply, "status"), statusRegion(options.queue.status()))),
    );
    web.get("/status/live", async (_request, reply) => page(reply, statusRegion(options.queue.status())));

    // The organizer's pages: an admin's session.
    void web.register(async (admin) => {
      authenticateEachRoute(admin, adminSession);

      admin.get<{ Querystring: { all?: string } }>("/admin", async (request, reply) => {
        const all = request.query.all === "1";
        return page(reply, adminPage(context(request, reply, "admin"), intake.organizer.queue({ all }), all));
      });

      admin.get<{ Params: { id: string } }>("/admin/submissions/:id", async (request, reply) => {
        const ctx = context(request, reply, "admin");
        try {
          return page(reply, adminSubmissionPage(ctx, intake.organizer.submission(request.params.id)));
        } catch (error) {
          if (!(error instanceof SubmissionNotFoundError)) throw error;
          const id = JSON.stringify(request.params.id);
          return page(reply, errorPage(ctx, "No such submission", `no submission ${id}: see the queue`), 404);
        }
      });

      const adminAction = async (
        request: FastifyRequest,
        reply: FastifyReply,
        act: () => string,
      ): Promise<FastifyReply> => {
        let flash: string;
        let status = 200;
        try {
          flash = act();
          // Send what was queued again now rather than at the next sweep.
          void intake.sweep().catch((error: unknown) => request.log.warn({ err: error }, "sweep failed"));
        } catch (error) {
          if (!(error instanceof OrganizerError)) throw error;
          flash = error.message;
          status = 409;
        }
        return page(
          reply,
          adminPage(context(request, reply, "admin"), intake.organizer.queue({ all: true }), true, flash),
          status,
        );
      };
      const reason = (request: FastifyRequest) => {
        const value = (request.body as Record<string, unknown> | undefined)?.["reason"];
        return typeof value === "string" ? value : "";
      };

      admin.post<{ Params: { id: string } }>(
        "/admin/submissions/:id/cancel",
        { preHandler: web.csrfProtection },
        async (request, reply) =>
          adminAction(request, reply, () => {
            intake.organizer.cancel(request.params.id);
            return `Cancelled ${request.params.id}.`;
          }),
      );
      admin.post<{ Params: { id: string } }>(
        "/admin/submissions/:id/rerun",
        { preHandler: web.csrfProtection },
        async (request, reply) =>
          adminAction(request, reply, () => {
            const record = intake.organizer.rerun(request.params.id);
            return `Queued ${record.id} again as attempt ${record.attempt}.`;
          }),
      );
      admin.post<{ Params: { id: string } }>(
        "/admin/submissions/:id/disqualify",
        { preHandler: web.csrfProtection },
        async (request, reply) =>
          adminAction(request, reply, () => {
            intake.organizer.disqualify(request.params.id, reason(request));
            return `Disqualified ${request.params.id}.`;
          }),
      );
      admin.post(
        "/admin/participants/disqualify",
        { preHandler: web.csrfProtection },
        async (request, reply) =>
          adminAction(request, reply, () => {
            const participant = (request.body as Record<string, unknown> | undefined)?.["participant"];
            if (typeof participant !== "string" || !participant.trim())
              throw new OrganizerError("name the participant to disqualify");
            intake.organizer.disqualifyParticipant(participant.trim(), reason(request));
            return `Disqualified participant ${participant.trim()}.`;
          }),
      );
      admin.post("/admin/rescore", { preHandler: web.csrfProtection }, async (request, reply) =>
        adminAction(request, reply, () => {
          // Scoring-only jobs on the kept predictions; their results are held until the CLI applies them.
          const { jobs, skipped } = intake.organizer.rescores.queue({});
          const n = (k: number, what: string) => `${k} ${what}${k === 1 ? "" : "s"}`;
          return (
            `Queued ${n(jobs.length, "re-score")} of kept predictions (no program runs again); ` +
            `${n(skipped.length, "submission")} could not be re-scored. Each result is recorded on its ` +
            `submission's attempts, never applied from here: \`proctor admin rescore --all\` re-scores, shows ` +
            `old and new scores and the rank changes, and applies them in one transaction.`
          );
        }),
      );
    });
  });
}
