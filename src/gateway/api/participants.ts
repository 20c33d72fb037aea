/**
 * The participants' API (Authorization: Bearer <participant token, pct_…>):
 *
 *   POST /v1/submissions                  multipart upload (one file part; optional field or query
 *                                         `cpu_or_gpu` = cpu|gpu) -> 202 SubmittedView
 *   GET  /v1/submissions/:id              -> SubmissionView (only the owner; anyone else: 404); queued:
 *                                         with its queue_position and eta_seconds; running: its runner
 *   GET  /v1/submissions                  -> the caller's submissions + remaining quota
 *   POST /v1/submissions/:id/cancel       -> cancels one no runner has started (409 once one has)
 *   POST /v1/submissions/:id/choice       -> {"chosen": bool}: picks it for the final leaderboard
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { SubmissionView } from "../../gateway-api/index.js";
import type { Intake } from "../../intake/index.js";
import type { QueueStatus } from "../../queue-status/index.js";
import { HttpError } from "../errors.js";
import { receiveUpload } from "../upload.js";
import { authenticateEachRoute, bearerHolder } from "../authenticate.js";
import { ID_PARAMS, schemaError } from "./schemas.js";

export interface ParticipantApiOptions {
  intake: Intake;
  /** Fills in a queued submission's place and wait. */
  queue: QueueStatus;
  /** Rate limit for uploads, or none. */
  uploadRateLimit?: { max: number } | undefined;
}

/** The authenticated participant of a request (set by the plugin's onRequest hook). */
const HOLDER = "participant";
const holder = (request: FastifyRequest): string => request.getDecorator<string>(HOLDER);

export async function participantApi(routes: FastifyInstance, options: ParticipantApiOptions): Promise<void> {
  const { intake, queue } = options;
  const placed = (view: SubmissionView) => queue.place([view])[0]!;
  routes.decorateRequest(HOLDER, "");
  authenticateEachRoute(routes, async (request) => {
    const who = bearerHolder(request, intake.tokens);
    if (!who) {
      throw new HttpError(
        401,
        "unauthorized",
        "no valid participant token: send `Authorization: Bearer <token>` with the token the organizers " +
          "gave you (proctor submit reads it from --token, PROCTOR_TOKEN or ~/.config/proctor/credentials.json)",
      );
    }
    request.setDecorator(HOLDER, who.holder);
  });

  routes.post<{ Querystring: { cpu_or_gpu?: string } }>(
    "/v1/submissions",
    {
      // The body is multipart, streamed into the intake (upload.ts checks its parts as they come).
      schema: { querystring: { type: "object", properties: { cpu_or_gpu: { type: "string" } } } },
      ...(options.uploadRateLimit && { config: { rateLimit: options.uploadRateLimit } }),
    },
    async (request, reply) => {
      // Uploads are big: never keep the connection for another request (and never read a refused body).
      reply.header("connection", "close");
      const submitted = await receiveUpload(intake, request, holder(request));
      reply
        .code(202)
        .header("location", `/v1/submissions/${submitted.submission.submission_id}`)
        .send({ ...submitted, submission: placed(submitted.submission) });
    },
  );

  routes.post<{ Params: { id: string } }>(
    "/v1/submissions/:id/cancel",
    { schema: { params: ID_PARAMS } },
    async (request) => intake.cancel(holder(request), request.params.id),
  );

  routes.post<{ Params: { id: string }; Body: { chosen: boolean } }>(
    "/v1/submissions/:id/choice",
    {
      schema: {
        params: ID_PARAMS,
        body: { type: "object", required: ["chosen"], properties: { chosen: { type: "boolean" } } },
      },
      schemaErrorFormatter: (errors, part) =>
        part === "body"
          ? new HttpError(400, "bad_request", 'send {"chosen": true} or {"chosen": false} as JSON')
          : schemaError(errors, part),
    },
    async (request) => intake.choose(holder(request), request.params.id, request.body.chosen),
  );

  routes.get("/v1/submissions", async (request) => {
    const list = await intake.list(holder(request));
    return { ...list, submissions: queue.place(list.submissions) };
  });

  routes.get<{ Params: { id: string } }>(
    "/v1/submissions/:id",
    { schema: { params: ID_PARAMS } },
    async (request) => placed(intake.get(holder(request), request.params.id)),
  );
}
