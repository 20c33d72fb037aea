/**
 * The runners' API (Authorization: Bearer <runner credential, prc_…>; see gateway-api/claims.ts and
 * gateway-api/result-report.ts):
 *
 *   POST /v1/runner/claims                          -> claims the next queued submission of a kind
 *   POST /v1/runner/submissions/:id/claim           -> claims that submission (the Actions job)
 *   POST /v1/runner/submissions/:id/heartbeat       -> keeps a claim (409: stop)
 *   POST /v1/runner/submissions/:id/release         -> gives a claim back
 *   GET  /v1/runner/submissions/:id                 -> RunnerSubmissionView
 *   GET  /v1/runner/submissions/:id/zip?attempt=N   -> the zip (a claimed attempt: with its x-proctor-claim)
 *   GET  /v1/runner/submissions/:id/model?attempt=N -> the model tarball uploaded with an image (404 no_model)
 *   PUT  /v1/runner/submissions/:id/predictions?attempt=N -> keeps a scored run's predictions (a tar, with
 *        its claim; organizer-only, for re-scoring) -> {sha256, bytes}
 *   GET  /v1/runner/submissions/:id/predictions?attempt=N -> a re-score's claim: the predictions it scores
 *   POST /v1/runner/submissions/:id/result          -> records a result report
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  CLAIM_HEADER,
  ClaimByIdSchema,
  ClaimHoldSchema,
  ClaimNextSchema,
  parseResultReport,
  ResultReportSchema,
  type ClaimByIdRequest,
  type ClaimHold,
  type ClaimNextRequest,
} from "../../gateway-api/index.js";
import { RunnerAuthError, type Intake, type StoredZip } from "../../intake/index.js";
import { authenticateEachRoute, bearerHolder } from "../authenticate.js";
import { HttpError } from "../errors.js";
import { ID_PARAMS, zodBody } from "./schemas.js";

const ATTEMPT_QUERY = { type: "object", properties: { attempt: { type: "string" } } } as const;

type Download = FastifyRequest<{ Params: { id: string }; Querystring: { attempt?: string } }>;

/** What a runner's download names: the submission, its attempt, and the claim's token (when claimed). */
function fenced(request: Download): [id: string, attempt: unknown, claimToken: string | undefined] {
  const claim = request.headers[CLAIM_HEADER];
  return [request.params.id, request.query.attempt, typeof claim === "string" ? claim : undefined];
}

function sendFile(reply: FastifyReply, stored: StoredZip, type: string) {
  reply
    .header("content-type", type)
    .header("content-length", String(stored.bytes))
    .header("cache-control", "no-store");
  return reply.send(stored.stream);
}

export interface RunnerApiOptions {
  intake: Intake;
}

export async function runnerApi(routes: FastifyInstance, options: RunnerApiOptions): Promise<void> {
  const { intake } = options;
  /** The runner credential's holder (the hook below has authenticated it). */
  const holder = (request: FastifyRequest) => bearerHolder(request, intake.runners)!.holder;
  authenticateEachRoute(routes, async (request) => {
    if (!bearerHolder(request, intake.runners)) throw new RunnerAuthError();
  });

  routes.post<{ Body: ClaimNextRequest }>(
    "/v1/runner/claims",
    zodBody(ClaimNextSchema, { id: false }),
    async (request, reply) => {
      // A long poll: a runner that goes away stops the wait (the response closes before it is written).
      const gone = new AbortController();
      reply.raw.once("close", () => gone.abort());
      return intake.claimNext(holder(request), request.body, gone.signal);
    },
  );

  routes.post<{ Params: { id: string }; Body: ClaimByIdRequest }>(
    "/v1/runner/submissions/:id/claim",
    zodBody(ClaimByIdSchema),
    async (request) => intake.claimById(holder(request), request.params.id, request.body),
  );

  routes.post<{ Params: { id: string }; Body: ClaimHold }>(
    "/v1/runner/submissions/:id/heartbeat",
    zodBody(ClaimHoldSchema),
    async (request) => intake.heartbeat(request.params.id, request.body),
  );

  routes.post<{ Params: { id: string }; Body: ClaimHold }>(
    "/v1/runner/submissions/:id/release",
    zodBody(ClaimHoldSchema),
    async (request) => intake.release(request.params.id, request.body),
  );

  routes.get<{ Params: { id: string } }>(
    "/v1/runner/submissions/:id",
    { schema: { params: ID_PARAMS } },
    async (request) => intake.runnerView(request.params.id),
  );

  routes.get<{ Params: { id: string }; Querystring: { attempt?: string } }>(
    "/v1/runner/submissions/:id/zip",
    {
      // Any attempt: one that is not the current attempt is a 409 from the intake, saying which is.
      schema: { params: ID_PARAMS, querystring: ATTEMPT_QUERY },
    },
    async (request, reply) => {
      const zip = await intake.openZip(...fenced(request));
      return sendFile(reply.header("x-content-sha256", zip.sha256), zip, "application/zip");
    },
  );

  routes.get<{ Params: { id: string }; Querystring: { attempt?: string } }>(
    "/v1/runner/submissions/:id/model",
    { schema: { params: ID_PARAMS, querystring: ATTEMPT_QUERY } },
    async (request, reply) => {
      const model = await intake.openModel(...fenced(request));
      if (!model)
        throw new HttpError(
          404,
          "no_model",
          `submission ${request.params.id} was uploaded without a model tarball`,
        );
      return sendFile(reply, model, "application/x-tar");
    },
  );

  // A predictions tar (Content-Type: application/x-tar; any other is fastify's 415) is streamed to its
  // file, size-capped there, never buffered here.
  routes.addContentTypeParser("application/x-tar", (_request, _payload, done) => done(null));
  routes.put<{ Params: { id: string }; Querystring: { attempt?: string } }>(
    "/v1/runner/submissions/:id/predictions",
    { schema: { params: ID_PARAMS, querystring: ATTEMPT_QUERY } },
    async (request) => {
      const [id, attempt, claimToken] = fenced(request);
      return intake.predictions.store(id, attempt, claimToken, request.raw);
    },
  );

  routes.get<{ Params: { id: string }; Querystring: { attempt?: string } }>(
    "/v1/runner/submissions/:id/predictions",
    { schema: { params: ID_PARAMS, querystring: ATTEMPT_QUERY } },
    async (request, reply) => {
      const [id, attempt, claimToken] = fenced(request);
      const kept = await intake.predictions.open(id, attempt, claimToken);
      return sendFile(reply.header("x-content-sha256", kept.sha256), kept, "application/x-tar");
    },
  );

  // The report's parser is the contract's own, so a refusal is the runner's 400 `invalid_report` naming
  // each field, in the contract's words.
  routes.post<{ Params: { id: string }; Body: unknown }>(
    "/v1/runner/submissions/:id/result",
    zodBody(ResultReportSchema, { parse: parseResultReport }),
    async (request) => intake.report(request.params.id, request.body),
  );
}
