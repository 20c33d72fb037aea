/**
 * The upload gateway: the thin HTTP edge (fastify) over the intake room. It parses and authenticates
 * requests, hands them to the intake, and maps the intake's typed errors to statuses. Routes come as
 * plugins, one per audience, each with an onRequest hook that authenticates (authenticate.ts); the API's
 * routes carry JSON schemas for their params, query and body (a refusal is our 400, naming the field):
 *
 *   api/participants.ts   /v1/submissions…         participant token (Bearer pct_…)
 *   api/runners.ts        /v1/runner/submissions…  runner credential (Bearer prc_…)
 *   api/public.ts         /v1/leaderboard (?board=private after the reveal), /v1/status, /healthz,
 *                         /metrics (Prometheus; a bearer token of its own with metricsToken)
 *   api/admin.ts          /v1/admin/export             admin token (Bearer pad_…)
 *   web/routes.ts         the pages: /, /signin, /signout, /submit, /submissions, /leaderboard, /status,
 *                         /admin (browser sessions, CSRF-protected forms)
 *
 * Each token opens its own routes only. Rate limits count per verified participant, and per client
 * address for everything else (a made-up token counts against its sender's address); verified runners
 * are not limited.
 * Bind it to localhost behind a TLS-terminating proxy (docs/gateway.md).
 */
import { createHash } from "node:crypto";
import { mkdirSync, statSync } from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import multipart from "@fastify/multipart";
import rateLimit from "@fastify/rate-limit";
import type { Competition, Phase } from "../config/index.js";
import type { GitHubClient } from "../github/index.js";
import { MAX_REPORT_BODY_BYTES, type ClaimNextRequest } from "../gateway-api/index.js";
import { bearerHolder } from "./authenticate.js";
import { leaderboardJson, type Standings } from "../leaderboard/index.js";
import {
  createSweeper,
  githubDispatch,
  Intake,
  IntakeDb,
  LocalDirectoryStorage,
  PRIVATE_BOARD_FILE,
  readRevealed,
  type Clock,
  type RevealedBoard,
  type Dispatch,
  type IntakeLogger,
  type SubmissionStorage,
  type Sweeper,
} from "../intake/index.js";
import { adminApi } from "./api/admin.js";
import { QueueMetrics, QueueStatus } from "../queue-status/index.js";
import { participantApi } from "./api/participants.js";
import { publicApi } from "./api/public.js";
import { runnerApi } from "./api/runners.js";
import { schemaError } from "./api/schemas.js";
import { errorReply, HttpError } from "./errors.js";
import { defaultBoardPhase, phaseNamed } from "../lifecycle/index.js";
import { registerCookies, registerWeb, SESSION_COOKIE } from "./web/routes.js";

export interface GatewayOptions {
  competition: Competition;
  /** Holds intake.sqlite and (with the default storage) submissions/. Created 0700 if missing. */
  dataDir: string;
  /**
   * Where dispatches go: a client from createGitHubClient, and the runners' repository. Without it (and
   * without `dispatch`) nothing is dispatched: pull runners claim the queue (`proctor runner`).
   */
  github?: { client: GitHubClient; owner: string; repo: string; eventType?: string };
  /** Overrides `github` (tests, or another way of starting runs). */
  dispatch?: Dispatch;
  /** How long a runner's claim lasts without a heartbeat (default 30 s). */
  leaseMs?: number;
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
  /**
   * The addresses and CIDRs of the proxies in front (Fastify's trustProxy list): a request's address is the
   * right-most X-Forwarded-For address that is not one of them (for per-address rate limits). Default: none
   * trusted, the connection's address.
   */
  trustProxy?: string[];
  /** Longest a request (e.g. a slow 1 GB upload) may take (default 1 h). */
  requestTimeoutMs?: number;
  /**
   * The bearer token GET /metrics requires (`proctor serve --metrics-token`); without it /metrics is open
   * (it names no participant).
   */
  metricsToken?: string;
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
    // Schemas check types as sent: `"chosen": "yes"` is not a boolean (params and queries are strings).
    ajv: { customOptions: { coerceTypes: false } },
    schemaErrorFormatter: schemaError,
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
    dispatch: options.dispatch ?? (options.github ? githubDispatch(options.github) : null),
    ...(options.leaseMs !== undefined && { leaseMs: options.leaseMs }),
    logger: log,
    ...(options.clock && { clock: options.clock }),
    ...(options.phase && { phase: options.phase }),
    ...(options.runningGraceMs !== undefined && { runningGraceMs: options.runningGraceMs }),
    ...(options.pickupDeadlineMs !== undefined && { pickupDeadlineMs: options.pickupDeadlineMs }),
    ...(options.maxAttempts !== undefined && { maxAttempts: options.maxAttempts }),
    ...(options.dispatchBackoffMs && { dispatchBackoffMs: options.dispatchBackoffMs }),
    ...(options.dispatchWaitMs !== undefined && { dispatchWaitMs: options.dispatchWaitMs }),
  });
  const queue = new QueueStatus({
    dbPath: db.path,
    competition: options.competition,
    clock: options.clock ?? (() => new Date()),
  });
  const metrics = new QueueMetrics(queue);
  // The queue's numbers read the attempts' history once (100k attempts: about 2 s), before the first request.
  app.addHook("onReady", async () => queue.sync());
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
      // A verified runner is not limited: its traffic is bounded by its claims (a claim, a download, a
      // heartbeat every 10 s, a report per run), and a 429 to a heartbeat or a report loses the lease of a
      // run that went well. Many slots, or many pods sharing one credential, passed 120 a minute.
      allowList: (request) => bearerHolder(request, intake.runners) !== undefined,
      keyGenerator: (request) => {
        const who = bearerHolder(request, intake.tokens);
        if (who) return `participant:${who.holder}`;
        // The pages: a signed-in browser counts against its holder, like their token would.
        const session = intake.sessions.lookup(request.cookies[SESSION_COOKIE]);
        return session ? `${session.kind}:${session.holder}` : `ip:${request.ip}`;
      },
    });
  }
  const uploadRateLimit = limits === false ? undefined : { max: limits.uploadsMax };
  void app.register(multipart, { throwFileSizeLimit: true });
  void app.register(registerWeb, {
    intake,
    secure: (options.publicUrl ?? "").startsWith("https:"),
    standings: (phase?: string) => pages(phase),
    queue,
    privateStandings: () => revealed()?.standings ?? null,
    uploadRateLimit,
  });
  app.setErrorHandler((error, request, reply) => errorReply(error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .send({ error: "not_found", message: `nothing at ${request.method} ${request.url.split("?")[0]}` });
  });

  // Each phase's board is ranked once per change (a result, a re-run, a disqualification), not once per
  // request: a popular page under load would otherwise rank every entry on every hit.
  const lifecycle = options.competition.lifecycle;
  const boardPhase = (requested: string | undefined): string | null => {
    if (requested === undefined || requested === "")
      return defaultBoardPhase(lifecycle, intake.now)?.name ?? null;
    if (phaseNamed(lifecycle, requested)) return requested;
    const names = lifecycle.phases.map((p) => p.name).join(", ");
    throw new HttpError(
      404,
      "unknown_phase",
      `no phase ${JSON.stringify(requested)} in this competition: ` +
        (names ? `its phases are ${names}` : "it has no phases; leave phase= out"),
    );
  };
  const rendered = new Map<
    string,
    { version: number; phase: string | null; standings: Standings; json: string; etag: string }
  >();
  const pages = (requested?: string) => {
    const phase = boardPhase(requested);
    const version = intake.resultsVersion;
    let board = rendered.get(phase ?? "");
    if (board?.version !== version) {
      const standings = intake.standings(phase);
      const json = JSON.stringify(
        leaderboardJson(standings, {
          competition: options.competition.name,
          ...(phase !== null && { phase }),
        }),
      );
      board = { version, phase, standings, json, etag: `"lb-${version}-${sha1(json)}"` };
      rendered.set(phase ?? "", board);
    }
    return board;
  };
  // The private board exists once `proctor admin reveal` wrote it: ranked again when it or a disqualification changes.
  let revealedRendered:
    { key: string; board: RevealedBoard; standings: Standings; json: string; etag: string } | undefined;
  const revealed = () => {
    const changed = statSync(path.join(dataDir, PRIVATE_BOARD_FILE), { throwIfNoEntry: false })?.mtimeMs;
    if (changed === undefined) return null;
    const key = `${changed}-${intake.resultsVersion}`;
    if (revealedRendered?.key !== key) {
      const board = readRevealed(dataDir);
      if (!board) return null;
      const standings = intake.privateStandings(board);
      const json = JSON.stringify(
        leaderboardJson(standings, {
          competition: options.competition.name,
          includePrivate: true,
          generatedAt: new Date(board.revealedAt),
          ...(board.phase !== null && { phase: board.phase }),
        }),
      );
      revealedRendered = { key, board, standings, json, etag: `"lb-private-${sha1(json)}"` };
    }
    return revealedRendered;
  };
  void app.register(publicApi, {
    leaderboard: (phase?: string) => pages(phase),
    privateLeaderboard: revealed,
    queue,
    metrics,
    ...(options.metricsToken !== undefined && { metricsToken: options.metricsToken }),
  });
  void app.register(adminApi, { intake, revealed: () => revealed()?.board ?? null });
  void app.register(participantApi, { intake, queue, uploadRateLimit });
  void app.register(runnerApi, { intake });
  // Runners online: a slot asking for work (the claims' long poll) is noted by the name its claims are
  // recorded under (`holder/runner`); the slots holding claims are the queue's own records.
  app.addHook("preHandler", async (request) => {
    if (request.method !== "POST" || request.routeOptions.url !== "/v1/runner/claims") return;
    const runner = bearerHolder(request, intake.runners);
    const body = request.body as ClaimNextRequest;
    if (runner) queue.asked(body.runner ? `${runner.holder}/${body.runner}` : runner.holder, body.kind);
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
        queue.close();
        db.close();
      })()),
  };
}
