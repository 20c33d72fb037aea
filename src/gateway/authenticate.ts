/**
 * How a route plugin authenticates (a participant token, a runner credential, a browser's session): one
 * onRequest hook of its own on each of its routes.
 */
import type { FastifyInstance, onRequestAsyncHookHandler, RouteOptions } from "fastify";

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
