/** Maps what the intake (and fastify) refuse onto HTTP statuses and one JSON error shape (ErrorBody). */
import type { FastifyReply, FastifyRequest } from "fastify";
import { ResultReportError, type ErrorBody } from "../gateway-api/index.js";
import {
  ActiveRunsError,
  ChoiceError,
  DisqualifiedError,
  NotCancellableError,
  SubmissionsClosedError,
  IntakeError,
  QuotaExceededError,
  quotaView,
  ResultConflictError,
  RunnerAuthError,
  SubmissionNotFoundError,
  UploadTooLargeError,
} from "../intake/index.js";
import { InvalidSubmissionError } from "../submission/index.js";

/** An edge-level refusal with its status and stable code. */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** fastify and plugin error codes we answer with our own words. */
const FASTIFY_CODES: Record<string, { code: string; message?: string }> = {
  FST_REQ_FILE_TOO_LARGE: { code: "upload_too_large" },
  FST_PARTS_LIMIT: {
    code: "bad_upload",
    message: "the upload has too many parts: send the fields, the submission and at most its model tarball",
  },
  FST_FILES_LIMIT: {
    code: "bad_upload",
    message: "the upload has too many files: send the submission, and for an image at most its model tarball",
  },
  FST_FIELDS_LIMIT: { code: "bad_upload", message: "the upload has too many fields" },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { code: "not_multipart" },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "body_too_large" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: "unsupported_media_type" },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "invalid_json" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "invalid_json" },
  FST_CSRF_INVALID_TOKEN: {
    code: "csrf",
    message:
      "the form did not carry a valid anti-forgery token (it expired, or the request did not come from " +
      "this site's page): reload the page and send the form again",
  },
  FST_CSRF_MISSING_SECRET: {
    code: "csrf",
    message:
      "the form's anti-forgery cookie is missing (cookies blocked, or the session is new): reload the page, " +
      "allow cookies for this site, and send the form again",
  },
};

/**
 * busboy's words for a body that is not well-formed multipart (it throws plain Errors): the client's
 * fault, answered 400, never a 500.
 */
const MALFORMED_MULTIPART =
  /^(Unexpected end of (multipart data|form|file)|Part terminated early|Malformed (part header|urlencoded form)|Multipart: Boundary not found)/;

export interface Mapped {
  status: number;
  body: ErrorBody;
  headers?: Record<string, string>;
}

/** An error as the gateway answers it: status, JSON body, extra headers. */
export function mapError(error: unknown): Mapped {
  if (error instanceof InvalidSubmissionError) {
    return {
      status: 422,
      body: {
        error: "invalid_submission",
        message: error.message,
        rule: error.rule,
        entry: error.entry ?? null,
      },
    };
  }
  if (error instanceof UploadTooLargeError) {
    return {
      status: 413,
      body: { error: error.code, message: error.message, limit_bytes: error.limitBytes },
    };
  }
  if (error instanceof QuotaExceededError) {
    const resetsAt = error.quota.resetsAt;
    const retryAfter = resetsAt
      ? Math.max(1, Math.ceil((Date.parse(resetsAt) - Date.now()) / 1000))
      : undefined;
    return {
      status: 429,
      body: { error: error.code, message: error.message, resets_at: resetsAt, quota: quotaView(error.quota) },
      ...(retryAfter !== undefined && { headers: { "retry-after": String(retryAfter) } }),
    };
  }
  if (error instanceof SubmissionNotFoundError)
    return { status: 404, body: { error: error.code, message: error.message } };
  if (error instanceof RunnerAuthError) {
    return {
      status: 401,
      body: { error: error.code, message: error.message },
      headers: { "www-authenticate": 'Bearer realm="proctor-runners"' },
    };
  }
  if (error instanceof ResultConflictError)
    return { status: 409, body: { error: error.code, message: error.message } };
  if (error instanceof ResultReportError)
    return { status: 400, body: { error: "invalid_report", message: error.message } };
  if (error instanceof HttpError) {
    return {
      status: error.statusCode,
      body: { error: error.code, message: error.message },
      ...(error.statusCode === 401 && { headers: { "www-authenticate": 'Bearer realm="proctor"' } }),
    };
  }
  if (error instanceof SubmissionsClosedError || error instanceof DisqualifiedError)
    return { status: 403, body: { error: error.code, message: error.message } };
  if (error instanceof ActiveRunsError)
    return { status: 429, body: { error: error.code, message: error.message } };
  if (error instanceof NotCancellableError || error instanceof ChoiceError)
    return { status: 409, body: { error: error.code, message: error.message } };
  if (error instanceof IntakeError)
    return { status: 400, body: { error: error.code, message: error.message } };
  if (error instanceof Error && MALFORMED_MULTIPART.test(error.message)) {
    return {
      status: 400,
      body: {
        error: "bad_upload",
        message:
          `the upload is not well-formed multipart/form-data (${error.message}); send the zip as one file ` +
          "part, e.g. `curl -F submission=@submission.zip`, or use `proctor submit`",
      },
    };
  }
  const e = error as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    const known = typeof e.code === "string" ? FASTIFY_CODES[e.code] : undefined;
    const code =
      known?.code ??
      (e.statusCode === 429 ? "rate_limited" : e.statusCode === 404 ? "not_found" : "bad_request");
    const message = known?.message ?? (typeof e.message === "string" ? e.message : "bad request");
    return { status: e.statusCode, body: { error: code, message } };
  }
  return {
    status: 500,
    body: { error: "internal", message: "internal error; the organizers have the details in the server log" },
  };
}

export function errorReply(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const mapped = mapError(error);
  if (mapped.status >= 500) request.log.error({ err: error }, "request failed");
  // A refused request whose body is still coming is not read any further: close the connection.
  if (!request.raw.complete) reply.header("connection", "close");
  for (const [name, value] of Object.entries(mapped.headers ?? {})) reply.header(name, value);
  reply.code(mapped.status).send(mapped.body);
}
