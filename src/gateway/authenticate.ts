/**
 * How a route plugin authenticates (a participant token, a runner credential, a browser's session): one
 * onRequest hook of its own on each of its routes.
 */
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler, RouteOptions } from "fastify";
import { bearer } from "../gateway-api/index.js";
import type { Authenticated, TokenKind, TokenRegistry } from "../intake/index.js";

const seen = new WeakMap<FastifyRequest["raw"], Map<TokenKind, Authenticated | undefined>>();

/**
 * Who the request's bearer token belongs to in `registry`, looked up once per request: the rate limiter's
 * key and the route's own check ask the same question, and each answer costs a hash and a database read.
 */
export function bearerHolder(request: FastifyRequest, registry: TokenRegistry): Authenticated | undefined {
  let answers = seen.get(request.raw);
  if (!answers) seen.set(request.raw, (answers = new Map()));
  if (!answers.has(registry.kind))
    answers.set(registry.kind, registry.authenticate(bearer(request.headers.authorization)));
  return answers.get(registry.kind);
}

/**
 * Adds `authenticate` as the last onRequest hook of every route the plugin declares (its own onRequest
 * hook, per route). Last, after the rate limiter's (@fastify/rate-limit adds it to each route as it is
 * declared): a request refused for its credential still spends its sender's budget. onRequest: nobody's
 * body is read before their credential is checked.
 */
export function authenticateEachRoute(
  routes: FastifyInstance,
  authenticate: onRequestAsyncHookHandler,
): void {
  routes.addHook("onRoute", (route: RouteOptions) => {
    const hooks = route.onRequest;
    route.onRequest = [...(hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks]), authenticate];
  });
}
