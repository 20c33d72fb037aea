/**
 * Starting runs: `repository_dispatch` (a submission event with a small JSON payload) and
 * `workflow_dispatch` (a named workflow with string inputs). Both are checked against GitHub's limits
 * before anything is sent, so a refusal names the rule instead of coming back as a bare 422.
 */
import type { GitHubClient } from "./client.js";
import { GitHubError, gitHubMessage, requireText, statusOf, toGitHubError } from "./errors.js";

/** GitHub refuses a `client_payload` with more top-level properties than this. */
export const MAX_CLIENT_PAYLOAD_PROPERTIES = 10;
/** Our cap on the serialised `client_payload` (UTF-8 bytes): GitHub refuses large ones as "too large". */
export const MAX_CLIENT_PAYLOAD_BYTES = 64 * 1024;
/** GitHub's limit on `event_type`. */
export const MAX_EVENT_TYPE_LENGTH = 100;
/** GitHub's limit on `workflow_dispatch` inputs. */
export const MAX_WORKFLOW_INPUTS = 25;

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

export interface DispatchWorkflowOptions {
  owner: string;
  repo: string;
  /** The workflow's file name (e.g. "run-submission.yml") or numeric id. */
  workflow: string | number;
  /** Branch or tag to run the workflow from. */
  ref: string;
  /** `workflow_dispatch` inputs: at most 25, every value a string. */
  inputs?: Record<string, string>;
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

/** Checks `workflow_dispatch` inputs against GitHub's rules (at most 25, string values). */
export function checkWorkflowInputs(inputs: unknown, target = "the workflow"): Record<string, string> {
  if (inputs === undefined) return {};
  if (!isPlainObject(inputs)) {
    throw new DispatchError(`workflow_dispatch of ${target}: inputs must be an object of strings`);
  }
  const names = Object.keys(inputs);
  if (names.length > MAX_WORKFLOW_INPUTS) {
    throw new DispatchError(
      `workflow_dispatch of ${target}: ${names.length} inputs given; GitHub allows at most ` +
        `${MAX_WORKFLOW_INPUTS}. Combine some into one JSON string input. Nothing was sent.`,
    );
  }
  for (const [name, value] of Object.entries(inputs)) {
    if (typeof value !== "string") {
      throw new DispatchError(
        `workflow_dispatch of ${target}: input "${name}" is ${value === null ? "null" : typeof value}; ` +
          `every input must be a string (convert it with String(), or JSON.stringify an object). ` +
          `Nothing was sent.`,
      );
    }
  }
  return inputs as Record<string, string>;
}

/** Runs a workflow through `workflow_dispatch` (GitHub answers 204: the run is queued). */
export async function dispatchWorkflow(
  client: GitHubClient,
  options: DispatchWorkflowOptions,
): Promise<void> {
  const owner = requireName("owner", options.owner);
  const repo = requireName("repo", options.repo);
  const target = `${owner}/${repo}`;
  const workflow =
    typeof options.workflow === "number" ? options.workflow : requireName("workflow", options.workflow);
  const ref = requireName("ref", options.ref);
  const what = `workflow ${JSON.stringify(String(workflow))} in ${target}`;
  const inputs = checkWorkflowInputs(options.inputs, what);
  try {
    await client.rest.actions.createWorkflowDispatch({ owner, repo, workflow_id: workflow, ref, inputs });
  } catch (error) {
    const operation = `dispatching ${what} on ref ${JSON.stringify(ref)}`;
    if (statusOf(error) === 404) {
      throw new GitHubError(
        `${operation} failed: GitHub answered 404 (${gitHubMessage(error)}): no workflow ` +
          `${JSON.stringify(String(workflow))} exists in ${target}. Give the file name of a workflow under ` +
          `.github/workflows/ on the default branch (e.g. "run-submission.yml") or its numeric id, and make ` +
          `sure the token can see ${target}.`,
        404,
        operation,
        { cause: error },
      );
    }
    if (statusOf(error) === 422) {
      throw new GitHubError(
        `${operation} failed: GitHub refused it (422 ${gitHubMessage(error)}). The workflow must have an ` +
          `\`on: workflow_dispatch\` trigger whose \`inputs\` declare every input sent (and receive every ` +
          `required one), and the ref must be an existing branch or tag.`,
        422,
        operation,
        { cause: error },
      );
    }
    throw toGitHubError(error, { operation, repository: target, permission: "actions: write" });
  }
}
