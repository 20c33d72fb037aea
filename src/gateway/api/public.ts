/**
 * What everyone may read, without a credential:
 *
 *   GET  /v1/leaderboard                  JSON (proctor.leaderboard/v1, public mode)
 *   GET  /healthz
 */
import type { FastifyInstance } from "fastify";

export interface PublicApiOptions {
  /** The leaderboard's JSON and its ETag, computed once per change of the standings. */
  leaderboard: () => { json: string; etag: string };
}

export async function publicApi(routes: FastifyInstance, options: PublicApiOptions): Promise<void> {
  routes.get("/healthz", { schema: { querystring: { type: "object" } } }, async () => ({ ok: true }));

  routes.get("/v1/leaderboard", { schema: { querystring: { type: "object" } } }, async (request, reply) => {
    const { json, etag } = options.leaderboard();
    reply.header("cache-control", "no-cache").header("etag", etag);
    if (request.headers["if-none-match"] === etag) return reply.code(304).send();
    reply.header("content-type", "application/json; charset=utf-8");
    return json;
  });
}
