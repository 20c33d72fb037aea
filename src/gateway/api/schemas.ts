/**
 * What the API's route plugins share: the `:id` path schema, how a schema refusal is answered (400 in our
 * error shape, naming the field), and how a plugin authenticates each of its routes (one onRequest hook).
 */
import type {
  FastifyInstance,
  FastifySchemaValidationError,
  onRequestAsyncHookHandler,
  RouteOptions,
} from "fastify";
import { HttpError } from "../errors.js";

/** `:id` in a path: any string (the intake answers 404 to ids it never made, `..` and slashes included). */
export const ID_PARAMS = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string" } },
} as const;

const PARTS: Record<string, string> = {
  body: "the body",
  querystring: "the query",
  params: "the path",
  headers: "the headers",
};

/**
 * fastify's schema refusals as our 400 `bad_request`, naming the field and the rule: e.g. "`chosen` in
 * the body must be boolean", "`attempt` in the query is required".
 */
export function schemaError(errors: FastifySchemaValidationError[], part: string): Error {
  const where = PARTS[part] ?? part;
  const [first] = errors;
  if (!first) return new HttpError(400, "bad_request", `${where} is not valid`);
  const missing = first.keyword === "required" ? String(first.params["missingProperty"]) : "";
  const field = [first.instancePath.slice(1).replaceAll("/", "."), missing].filter(Boolean).join(".");
  const rule = missing ? "is required" : (first.message ?? "is not valid");
  return new HttpError(400, "bad_request", field ? `\`${field}\` in ${where} ${rule}` : `${where} ${rule}`);
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
