/**
 * What the API's route plugins share: the `:id` path schema, and how a schema refusal is answered (400 in
 * our error shape, naming the field).
 */
import type { FastifySchemaValidationError } from "fastify";
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
