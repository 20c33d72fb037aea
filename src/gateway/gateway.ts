/**
 * The upload gateway: the thin HTTP edge (fastify) over the intake room. It parses and authenticates
 * requests, hands them to the intake, and maps the intake's typed errors to statuses. Routes:
 *
 *   participants (Authorization: Bearer <participant token, pct_…>)
 *     POST /v1/submissions                  multipart upload (one file part; optional field or query
 *                                           `cpu_or_gpu` = cpu|gpu) -> 202 SubmittedView
 *     GET  /v1/submissions/:id              -> SubmissionView (only the owner; anyone else: 404)
 *     GET  /v1/submissions                  -> the caller's submissions + remaining quota
 *     POST /v1/submissions/:id/cancel       -> cancels one no runner has started (409 once one has)
 *     POST /v1/submissions/:id/choice       -> {"chosen": bool}: picks it for the final leaderboard
 *   runners (Authorization: Bearer <runner credential, prc_…>; see gateway-api/result-report.ts)
 *     GET  /v1/runner/submissions/:id       -> RunnerSubmissionView
 *     GET  /v1/runner/submissions/:id/zip?attempt=N   -> the zip
 *     POST /v1/runner/submissions/:id/result          -> records a result report
 *   pages (browser sessions, CSRF-protected forms; web/routes.ts)
 *     /, /signin, /signout, /submit, /submissions, /leaderboard, /admin
 *   everyone
 *     GET  /v1/leaderboard                  JSON (proctor.leaderboard/v1, public mode)
 *     GET  /healthz
 *
 * Each token opens its own routes only. Rate limits count per verified participant or runner, and per
 * client address for everything else (a made-up token counts against its sender's address).
 * Bind it to localhost behind a TLS-terminating proxy (docs/gateway.md).
 */
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import multipart from "@fastify/multipart";
import rateLimit from "@fastify/rate-limit";
import type { Competition, Phase } from "../config/index.js";
import type { GitHubClient } from "../github/index.js";
import { bearer, MAX_REPORT_BODY_BYTES } from "../gateway-api/index.js";
import { leaderboardJson, type Standings } from "../leaderboard/index.js";
import {
  createSweeper,
  githubDispatch,
  Intake,
  IntakeDb,
  LocalDirectoryStorage,
  RunnerAuthError,
  type Authenticated,
  type Clock,
  type Dispatch,
  type IntakeLogger,
  type SubmissionStorage,
  type Sweeper,
} from "../intake/index.js";
import { HttpError, errorReply } from "./errors.js";
import { receiveUpload } from "./upload.js";
import { registerCookies, registerWeb, SESSION_COOKIE } from "./web/routes.js";

export interface GatewayOptions {
  competition: Competition;
  /** Holds intake.sqlite and (with the default storage) submissions/. Created 0700 if missing. */
  dataDir: string;
  /** Where dispatches go: a client from createGitHubClient, and the runners' repository. */
  github: { client: GitHubClient; owner: string; repo: string; eventType?: string };
  /** Overrides `github` (tests, or another way of starting runs). */
  dispatch?: Dispatch;
  clock?: Clock;
  /**
   * The gateway's URL as participants and runners reach it, e.g. https://submit.example.org (the runners'
   * repository secret PROCTOR_GATEWAY_URL). Default: the address it listens on, known once listening.
   */
  publicUrl?: string;
  /** Default: a LocalDirectoryStorage in <dataDir>/submissions. */
  storage?: SubmissionStorage;
  /** How often the sweeper runs (default 30 s); 0 leaves it stopped (call `sweeper.tick()`). */
  sweepIntervalMs?: number;
  runningGraceMs?: number;
  pickupDeadlineMs?: number;
  maxAttempts?: number;
  dispatchBackoffMs?: { initial: number; max: number };
  /** How long an upload's answer waits for its dispatch (default 0; it goes on in the background). */
  dispatchWaitMs?: number;
  phase?: Phase;
  /**
   * Requests per time window per verified participant or runner (per client address for requests without
   * a valid token), and uploads per window; false turns rate limiting off. Default 120 requests and 10
   * uploads per minute.
   */
  rateLimit?: { max: number; uploadsMax: number; timeWindowMs: number } | false;
  /** Trust X-Forwarded-For from the proxy in front (for per-address rate limits). Default false. */
  trustProxy?: boolean | string | string[];
  /** Longest a request (e.g. a slow 1 GB upload) may take (default 1 h). */
  requestTimeoutMs?: number;
  /** fastify's logger option (default off). */
  logger?: boolean | Record<string, unknown>;
  /** Where the intake says what it did (dispatches, sweeps). Default: fastify's logger when on. */
  intakeLogger?: IntakeLogger;
}

export interface Gateway {
  app: FastifyInstance;
  intake: Intake;
  sweeper: Sweeper;
  /** The base URL the gateway hands to runners (after `app.listen` when not configured). */
  publicUrl(): string;
  /** Stops the sweeper, closes the server (open connections too) and the database. */
  close(): Promise<void>;
}

const sha1 = (text: string) => createHash("sha1").update(text).digest("hex").slice(0, 16);

export function createGateway(options: GatewayOptions): Gateway {
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const app = Fastify({
    logger: options.logger ?? false,
    trustProxy: options.trustProxy ?? false,
    requestTimeout: options.requestTimeoutMs ?? 3600_000,
    bodyLimit: MAX_REPORT_BODY_BYTES,
    routerOptions: { maxParamLength: 100 },
    forceCloseConnections: true,
    return503OnClosing: true,
  });
  const db = new IntakeDb(path.join(dataDir, "intake.sqlite"));
  const storage = options.storage ?? new LocalDirectoryStorage(path.join(dataDir, "submissions"));
  const log: IntakeLogger = options.intakeLogger ?? {
    info: (m) => app.log.info(m),
    warn: (m) => app.log.warn(m),
  };

  const publicUrl = (): string => {
    if (options.publicUrl) return options.publicUrl.replace(/\/+$/, "");
    const address = app.server.address() as AddressInfo | null;
    if (!address || typeof address !== "object") {
      throw new Error("the gateway has no public URL yet: pass publicUrl, or call app.listen() first");
    }
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  };

  const intake = new Intake({
    competition: options.competition,
    db,
    storage,
    dispatch: options.dispatch ?? githubDispatch(options.github),
    logger: log,
    ...(options.clock && { clock: options.clock }),
    ...(options.phase && { phase: options.phase }),
    ...(options.runningGraceMs !== undefined && { runningGraceMs: options.runningGraceMs }),
    ...(options.pickupDeadlineMs !== undefined && { pickupDeadlineMs: options.pickupDeadlineMs }),
    ...(options.maxAttempts !== undefined && { maxAttempts: options.maxAttempts }),
    ...(options.dispatchBackoffMs && { dispatchBackoffMs: options.dispatchBackoffMs }),
    ...(options.dispatchWaitMs !== undefined && { dispatchWaitMs: options.dispatchWaitMs }),
  });
  const sweepIntervalMs = options.sweepIntervalMs ?? 30_000;
  const sweeper = createSweeper(intake, { intervalMs: sweepIntervalMs, logger: log });

  registerCookies(app, intake);
  const limits = options.rateLimit ?? { max: 120, uploadsMax: 10, timeWindowMs: 60_000 };
  if (limits !== false) {
    void app.register(rateLimit, {
      global: true,
      max: limits.max,
      timeWindow: limits.timeWindowMs,
      // Per verified holder: an unverified token id is anyone's to make up (to dodge the address's budget)
      // or to copy (to spend a victim's), so only a token that authenticates moves a request off its
      // address's budget.
      keyGenerator: (request) => {
        const token = bearer(request.headers.authorization);
        const who = intake.tokens.authenticate(token);
        if (who) return `participant:${who.holder}`;
        const runner = intake.runners.authenticate(token);
        if (runner) return `runner:${runner.tokenId}`;
        // The pages: a signed-in browser counts against its holder, like their token would.
        const session = intake.sessions.lookup(request.cookies[SESSION_COOKIE]);
        return session ? `${session.kind}:${session.holder}` : `ip:${request.ip}`;
      },
    });
  }
  void app.register(multipart, { throwFileSizeLimit: true });
  void app.register(registerWeb, {
    intake,
    secure: (options.publicUrl ?? "").startsWith("https:"),
    standings: () => pages(),
    uploadRateLimit: limits === false ? undefined : { max: limits.uploadsMax },
  });
  app.setErrorHandler((error, request, reply) => errorReply(error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .send({ error: "not_found", message: `nothing at ${request.method} ${request.url.split("?")[0]}` });
  });

  const participant = (request: FastifyRequest): Authenticated => {
    const who = intake.tokens.authenticate(bearer(request.headers.authorization));
    if (!who) {
      throw new HttpError(
        401,
        "unauthorized",
        "no valid participant token: send `Authorization: Bearer <token>` with the token the organizers " +
          "gave you (proctor submit reads it from --token, PROCTOR_TOKEN or ~/.config/proctor/credentials.json)",
      );
    }
    return who;
  };
  const runner = (request: FastifyRequest): Authenticated => {
    const who = intake.runners.authenticate(bearer(request.headers.authorization));
    if (!who) throw new RunnerAuthError();
    return who;
  };

  // The leaderboard is ranked once per change (a result, a re-run, a disqualification), not once per
  // request: a popular page under load would otherwise rank every entry on every hit.
  let rendered: { version: number; standings: Standings; json: string; etag: string } | undefined;
  const pages = () => {
    const version = intake.resultsVersion;
    if (rendered?.version !== version) {
      const standings = intake.standings();
      const json = JSON.stringify(leaderboardJson(standings, { competition: options.competition.name }));
      rendered = { version, standings, json, etag: `"lb-${version}-${sha1(json)}"` };
    }
    return rendered;
  };
  const sendCached = (
    request: FastifyRequest,
    reply: FastifyReply,
    type: string,
    body: () => string,
  ): string | FastifyReply => {
    const { etag } = pages();
    reply.header("cache-control", "no-cache").header("etag", etag);
    if (request.headers["if-none-match"] === etag) return reply.code(304).send();
    reply.header("content-type", type);
    return body();
  };

  void app.register(async (routes) => {
    routes.get("/healthz", async () => ({ ok: true }));

    routes.post(
      "/v1/submissions",
      limits === false ? {} : { config: { rateLimit: { max: limits.uploadsMax } } },
      async (request, reply) => {
        // Uploads are big: never keep the connection for another request (and never read a refused body).
        reply.header("connection", "close");
        const submitted = await receiveUpload(intake, request, participant(request).holder);
        reply
          .code(202)
          .header("location", `/v1/submissions/${submitted.submission.submission_id}`)
          .send(submitted);
      },
    );

    routes.post<{ Params: { id: string } }>("/v1/submissions/:id/cancel", async (request) =>
      intake.cancel(participant(request).holder, request.params.id),
    );

    routes.post<{ Params: { id: string }; Body: { chosen?: unknown } }>(
      "/v1/submissions/:id/choice",
      async (request) => {
        const who = participant(request);
        const chosen = request.body?.chosen;
        if (typeof chosen !== "boolean")
          throw new HttpError(400, "bad_request", 'send {"chosen": true} or {"chosen": false} as JSON');
        return intake.choose(who.holder, request.params.id, chosen);
      },
    );

    routes.get("/v1/submissions", async (request) => intake.list(participant(request).holder));

    routes.get<{ Params: { id: string } }>("/v1/submissions/:id", async (request) =>
      intake.get(participant(request).holder, request.params.id),
    );

    routes.get<{ Params: { id: string } }>("/v1/runner/submissions/:id", async (request) => {
      runner(request);
      return intake.runnerView(request.params.id);
    });

    routes.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>(
      "/v1/runner/submissions/:id/zip",
      async (request, reply) => {
        runner(request);
        const zip = await intake.openZip(request.params.id, request.query["attempt"]);
        reply
          .header("content-type", "application/zip")
          .header("content-length", String(zip.bytes))
          .header("cache-control", "no-store")
          .header("x-content-sha256", zip.sha256);
        return reply.send(zip.stream);
      },
    );

    routes.post<{ Params: { id: string } }>("/v1/runner/submissions/:id/result", async (request) => {
      runner(request);
      return intake.report(request.params.id, request.body);
    });

    routes.get("/v1/leaderboard", async (request, reply) =>
      sendCached(request, reply, "application/json; charset=utf-8", () => pages().json),
    );
  });

  if (storage instanceof LocalDirectoryStorage) {
    app.addHook("onReady", async () => {
      const removed = await storage.removePartials();
      if (removed > 0) log.warn(`removed ${removed} partial upload(s) left by an earlier run`);
    });
  }
  if (sweepIntervalMs > 0) app.addHook("onReady", async () => sweeper.start());

  let closing: Promise<void> | undefined;
  return {
    app,
    intake,
    sweeper,
    publicUrl,
    close: () =>
      (closing ??= (async () => {
        await sweeper.stop();
        await app.close();
        // Dispatches under way get a few seconds; what is cut short stays pending and is sent after a restart.
        await intake.idle(5000);
        db.close();
      })()),
  };
}
