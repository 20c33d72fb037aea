/**
 * What the API's route plugins share: the `:id` path schema, and how a schema refusal is answered (400 in
 * our error shape, naming the field).
 */
import type { FastifySchema, FastifySchemaCompiler, FastifySchemaValidationError } from "fastify";
import { z } from "zod";
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
 * A route whose body is checked by a zod schema of the contract, whose JSON Schema documents the route: a
 * refusal is the 400 `parse` throws (default: `bad_request`, naming each field in the contract's words).
 * With `id`, the path's `:id` is checked as ID_PARAMS.
 */
export function zodBody<T extends z.ZodType>(
  schema: T,
  options: { id?: boolean; parse?: (body: unknown) => unknown } = {},
): { schema: FastifySchema; validatorCompiler: FastifySchemaCompiler<unknown> } {
  const parse = options.parse ?? ((body: unknown) => parseBody(schema, body));
  return {
    schema: {
      ...(options.id !== false && { params: ID_PARAMS }),
      body: z.toJSONSchema(schema, { unrepresentable: "any" }),
    },
    validatorCompiler: ({ httpPart }) => {
      if (httpPart === "params") {
        // The router's `:id` is always a string.
        return (params: unknown) =>
          typeof (params as { id?: unknown } | null)?.id === "string"
            ? { value: params }
            : { error: new HttpError(400, "bad_request", "`id` in the path is required") };
      }
      return (body: unknown) => {
        try {
          return { value: parse(body) };
        } catch (error) {
          return { error: error as Error };
        }
      };
    },
  };
}

function parseBody(schema: z.ZodType, body: unknown): unknown {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `\`${issue.path.length > 0 ? issue.path.join(".") : "(body)"}\` ${issue.message}`,
  );
  throw new HttpError(400, "bad_request", `the body is not valid: ${problems.join("; ")}`);
}
