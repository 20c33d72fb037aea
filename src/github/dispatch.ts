/**
 * Starting runs: `repository_dispatch` (a submission event with a small JSON payload), checked against
 * GitHub's limits before anything is sent, so a refusal names the rule instead of coming back as a bare 422.
 */
import type { GitHubClient } from "./client.js";
import { requireText, toGitHubError } from "./errors.js";

/** GitHub refuses a `client_payload` with more top-level properties than this. */
export const MAX_CLIENT_PAYLOAD_PROPERTIES = 10;
/** Our cap on the serialised `client_payload` (UTF-8 bytes): GitHub refuses large ones as "too large". */
export const MAX_CLIENT_PAYLOAD_BYTES = 64 * 1024;
/** GitHub's limit on `event_type`. */
export const MAX_EVENT_TYPE_LENGTH = 100;

/** A dispatch refused before sending: the payload or inputs break one of GitHub's rules. */
export class DispatchError extends Error {
  override name = "DispatchError";
}

export interface DispatchSubmissionOptions {
  owner: string;
  repo: string;
  /** The `repository_dispatch` event type the workflow listens for (default "submission"). */
  eventType?: string;
  /** The `client_payload`: a JSON object of at most 10 top-level properties and 64 KB. */
  payload: Record<string, unknown>;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

const requireName = (what: string, value: unknown): string => requireText(what, value, DispatchError);

/** Checks a `client_payload` against GitHub's limits; returns its serialised size in bytes. */
export function checkClientPayload(payload: unknown, target = "the repository"): number {
  if (!isPlainObject(payload)) {
    throw new DispatchError(
      `repository_dispatch to ${target}: the payload must be a plain JSON object, got ` +
        `${Array.isArray(payload) ? "an array" : payload === null ? "null" : typeof payload}`,
    );
  }
  const keys = Object.keys(payload);
  if (keys.length > MAX_CLIENT_PAYLOAD_PROPERTIES) {
    throw new DispatchError(
      `repository_dispatch to ${target}: the payload has ${keys.length} top-level properties ` +
        `(${keys.map((k) => JSON.stringify(k)).join(", ")}); GitHub allows at most ` +
        `${MAX_CLIENT_PAYLOAD_PROPERTIES}. Nest the extra ones under one property (e.g. "details": {...}). ` +
        `Nothing was sent.`,
    );
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(payload);
  } catch (error) {
    throw new DispatchError(
      `repository_dispatch to ${target}: the payload cannot be serialised as JSON ` +
        `(${(error as Error).message}). Nothing was sent.`,
    );
  }
  const bytes = Buffer.byteLength(json ?? "", "utf8");
  if (bytes > MAX_CLIENT_PAYLOAD_BYTES) {
    throw new DispatchError(
      `repository_dispatch to ${target}: the payload is ${bytes} bytes of JSON; the limit is ` +
        `${MAX_CLIENT_PAYLOAD_BYTES} bytes (64 KB). Send a reference (e.g. a URL and a sha256 of the ` +
        `submission zip) instead of the data itself. Nothing was sent.`,
    );
  }
  return bytes;
}

/** Sends a `repository_dispatch` event (GitHub answers 204: it queued the event, nothing more). */
export async function dispatchSubmission(
  client: GitHubClient,
  options: DispatchSubmissionOptions,
): Promise<void> {
  const owner = requireName("owner", options.owner);
  const repo = requireName("repo", options.repo);
  const target = `${owner}/${repo}`;
  const eventType = requireName("eventType", options.eventType ?? "submission");
  if (eventType.length > MAX_EVENT_TYPE_LENGTH) {
    throw new DispatchError(
      `repository_dispatch to ${target}: eventType is ${eventType.length} characters; GitHub allows at ` +
        `most ${MAX_EVENT_TYPE_LENGTH}. Nothing was sent.`,
    );
  }
  checkClientPayload(options.payload, target);
  try {
    await client.rest.repos.createDispatchEvent({
      owner,
      repo,
      event_type: eventType,
      client_payload: options.payload,
    });
  } catch (error) {
    throw toGitHubError(error, {
      operation: `sending repository_dispatch "${eventType}" to ${target}`,
      repository: target,
      permission: "contents: write",
    });
  }
}
