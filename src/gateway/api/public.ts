/**
 * What everyone may read, without a credential:
 *
 *   GET  /v1/leaderboard[?phase=<name>]   JSON (proctor.leaderboard/v1, public mode): the current phase's
 *   GET  /v1/leaderboard?board=private    the final ranking (private mode), once revealed; 404 before
 *   GET  /v1/status                       PublicStatusView: runners online, queued and running per kind,
 *                                         waits and run times (no participant, no submission id)
 *   GET  /metrics                         Prometheus text format (src/queue-status/metrics.ts); with
 *                                         `metricsToken`, only with `Authorization: Bearer <that token>`
 *   GET  /healthz
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { bearer } from "../../gateway-api/index.js";
import type { QueueMetrics, QueueStatus } from "../../queue-status/index.js";
import { HttpError } from "../errors.js";

export interface PublicApiOptions {
  /** The leaderboard's JSON and its ETag, computed once per change of the standings. */
  /** A phase's board (the current one without `phase`); an HttpError 404 for a phase there is not. */
  leaderboard: (phase?: string) => { json: string; etag: string };
  /** The private (final) leaderboard the reveal published; null before. */
  privateLeaderboard: () => { json: string; etag: string } | null;
  queue: QueueStatus;
  metrics: QueueMetrics;
  /** The bearer token /metrics requires; none: /metrics is open. */
  metricsToken?: string;
}

/** Compared as sha256 digests: equal lengths, in constant time, whatever was sent. */
const digest = (text: string) => createHash("sha256").update(text).digest();

export async function publicApi(routes: FastifyInstance, options: PublicApiOptions): Promise<void> {
  routes.get("/healthz", { schema: { querystring: { type: "object" } } }, async () => ({ ok: true }));

  routes.get("/v1/status", { schema: { querystring: { type: "object" } } }, async (_request, reply) => {
    reply.header("cache-control", "no-store");
    return options.queue.status();
  });

  const expected = options.metricsToken === undefined ? undefined : digest(options.metricsToken);
  routes.get("/metrics", { schema: { querystring: { type: "object" } } }, async (request, reply) => {
    if (expected) {
      const sent = bearer(request.headers.authorization);
      if (sent === undefined || !timingSafeEqual(digest(sent), expected)) {
        throw new HttpError(
          401,
          "unauthorized",
          `${sent === undefined ? "no" : "a wrong"} metrics token: this gateway was started with ` +
            "--metrics-token, so /metrics needs `Authorization: Bearer <that token>` (Prometheus: the scrape " +
            "job's `authorization` with credentials_file, docs/scale.md)",
        );
      }
    }
    reply.header("content-type", options.metrics.contentType).header("cache-control", "no-store");
    return options.metrics.text();
  });

  routes.get<{ Querystring: { board?: "public" | "private"; phase?: string } }>(
    "/v1/leaderboard",
    {
      schema: {
        querystring: {
          type: "object",
          properties: {
            board: { type: "string", enum: ["public", "private"] },
            phase: { type: "string", maxLength: 40 },
          },
        },
      },
    },
    async (request, reply) => {
      const board =
        request.query.board === "private"
          ? options.privateLeaderboard()
          : options.leaderboard(request.query.phase);
      if (!board) {
        throw new HttpError(
          404,
          "not_revealed",
          "the private leaderboard is published at the reveal, after the competition ends; until then there is " +
            "the public one (/v1/leaderboard)",
        );
      }
      const { json, etag } = board;
      reply.header("cache-control", "no-cache").header("etag", etag);
      if (request.headers["if-none-match"] === etag) return reply.code(304).send();
      reply.header("content-type", "application/json; charset=utf-8");
      return json;
    },
  );
}
