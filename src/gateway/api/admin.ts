/**
 * The organizers' API (Authorization: Bearer <admin token, pad_…>):
 *
 *   GET  /v1/admin/export?format=csv|json   every submission, disqualified ones marked (intake/export.ts)
 */
import type { FastifyInstance } from "fastify";
import { EXPORT_FORMATS, exportCsv, type Intake, type RevealedBoard } from "../../intake/index.js";
import { HttpError } from "../errors.js";
import { authenticateEachRoute, bearerHolder } from "../authenticate.js";

export interface AdminApiOptions {
  intake: Intake;
  /** The reveal's board, once there is one (the private scores it published). */
  revealed: () => RevealedBoard | null;
}

export async function adminApi(routes: FastifyInstance, options: AdminApiOptions): Promise<void> {
  const { intake } = options;
  authenticateEachRoute(routes, async (request) => {
    if (!bearerHolder(request, intake.admins)) {
      throw new HttpError(
        401,
        "unauthorized",
        "no valid admin token: send `Authorization: Bearer <token>` with an organizer's admin token " +
          "(`proctor admins add <name>` makes one)",
      );
    }
  });

  routes.get<{ Querystring: { format?: (typeof EXPORT_FORMATS)[number] } }>(
    "/v1/admin/export",
    {
      schema: {
        querystring: {
          type: "object",
          properties: { format: { type: "string", enum: [...EXPORT_FORMATS] } },
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const document = intake.exportSubmissions(options.revealed());
      const day = document.exported_at.slice(0, 10);
      // Organizer-only, and never to be kept by a shared cache.
      reply.header("cache-control", "no-store");
      if ((request.query.format ?? "json") === "json") {
        reply.header("content-disposition", `attachment; filename="submissions-${day}.json"`);
        return document;
      }
      reply
        .header("content-type", "text/csv; charset=utf-8")
        .header("content-disposition", `attachment; filename="submissions-${day}.csv"`);
      return exportCsv(document);
    },
  );
}
