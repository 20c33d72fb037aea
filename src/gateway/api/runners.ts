/**
 * The runners' API (Authorization: Bearer <runner credential, prc_…>; see gateway-api/result-report.ts):
 *
 *   GET  /v1/runner/submissions/:id                 -> RunnerSubmissionView
 *   GET  /v1/runner/submissions/:id/zip?attempt=N   -> the zip
 *   POST /v1/runner/submissions/:id/result          -> records a result report
 */
import type { FastifyInstance, FastifySchemaCompiler } from "fastify";
import { z } from "zod";
import { parseResultReport, ResultReportSchema } from "../../gateway-api/index.js";
import { RunnerAuthError, type Intake } from "../../intake/index.js";
import { HttpError } from "../errors.js";
import { authenticateEachRoute, bearerHolder } from "../authenticate.js";
import { ID_PARAMS } from "./schemas.js";

export interface RunnerApiOptions {
  intake: Intake;
}

/**
 * The report's body schema is the contract's own (zod, in gateway-api/result-report.ts): its JSON Schema
 * documents the route, and the contract's parser checks it, so a refusal is the runner's 400
 * `invalid_report` naming each field, in the contract's words.
 */
const REPORT_BODY = z.toJSONSchema(ResultReportSchema, { unrepresentable: "any" });
const reportValidator: FastifySchemaCompiler<unknown> = ({ httpPart }) => {
  if (httpPart === "params") {
    // ID_PARAMS: the router's `:id` is always a string.
    return (params: unknown) =>
      typeof (params as { id?: unknown } | null)?.id === "string"
        ? { value: params }
        : { error: new HttpError(400, "bad_request", "`id` in the path is required") };
  }
  return (body: unknown) => {
    try {
      return { value: parseResultReport(body) };
    } catch (error) {
      return { error: error as Error };
    }
  };
};

export async function runnerApi(routes: FastifyInstance, options: RunnerApiOptions): Promise<void> {
  const { intake } = options;
  authenticateEachRoute(routes, async (request) => {
    if (!bearerHolder(request, intake.runners)) throw new RunnerAuthError();
  });

  routes.get<{ Params: { id: string } }>(
    "/v1/runner/submissions/:id",
    { schema: { params: ID_PARAMS } },
    async (request) => intake.runnerView(request.params.id),
  );

  routes.get<{ Params: { id: string }; Querystring: { attempt?: string } }>(
    "/v1/runner/submissions/:id/zip",
    {
      // Any attempt: one that is not the current attempt is a 409 from the intake, saying which is.
      schema: {
        params: ID_PARAMS,
        querystring: { type: "object", properties: { attempt: { type: "string" } } },
      },
    },
    async (request, reply) => {
      const zip = await intake.openZip(request.params.id, request.query.attempt);
      reply
        .header("content-type", "application/zip")
        .header("content-length", String(zip.bytes))
        .header("cache-control", "no-store")
        .header("x-content-sha256", zip.sha256);
      return reply.send(zip.stream);
    },
  );

  routes.post<{ Params: { id: string }; Body: unknown }>(
    "/v1/runner/submissions/:id/result",
    { schema: { params: ID_PARAMS, body: REPORT_BODY }, validatorCompiler: reportValidator },
    async (request) => intake.report(request.params.id, request.body),
  );
}
