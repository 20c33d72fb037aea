/**
 * Telling people: commit statuses and issue comments.
 */
import type { GitHubClient } from "./client.js";
import { requireText, withContext } from "./errors.js";

export type CommitState = "error" | "failure" | "pending" | "success";

const COMMIT_STATES: readonly CommitState[] = ["error", "failure", "pending", "success"];

/** GitHub refuses a commit status description longer than this (characters). */
export const MAX_STATUS_DESCRIPTION = 140;
/** GitHub refuses issue and comment bodies longer than this (characters). */
export const MAX_BODY_CHARACTERS = 65_536;

export class NotifyError extends Error {
  override name = "NotifyError";
}

/**
 * Cuts `text` to at most `max` characters (Unicode code points, as GitHub counts), ending with "…" when
 * cut. Never splits a surrogate pair.
 */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  return `${chars.slice(0, Math.max(0, max - 1)).join("")}…`;
}

function truncateBody(body: string): string {
  const note = "\n\n…(truncated: GitHub allows 65536 characters)";
  const chars = Array.from(body);
  if (chars.length <= MAX_BODY_CHARACTERS) return body;
  return chars.slice(0, MAX_BODY_CHARACTERS - Array.from(note).length).join("") + note;
}

const required = (what: string, value: unknown): string => requireText(what, value, NotifyError);

export interface CommitStatusOptions {
  owner: string;
  repo: string;
  /** Full commit sha (40 hex, or 64 in a SHA-256 repository). */
  sha: string;
  state: CommitState;
  /** Label of the status (e.g. "proctor / score"); one status per context is shown. */
  context: string;
  /** Truncated to 140 characters, as GitHub requires. */
  description: string;
  targetUrl?: string;
}

export async function setCommitStatus(
  client: GitHubClient,
  options: CommitStatusOptions,
): Promise<{ id: number; url: string }> {
  const owner = required("owner", options.owner);
  const repo = required("repo", options.repo);
  const context = required("context", options.context);
  if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/i.test(options.sha)) {
    throw new NotifyError(
      `commit status ${JSON.stringify(context)} on ${owner}/${repo}: sha must be a full commit sha ` +
        `(40 hex characters), got ${JSON.stringify(options.sha)}`,
    );
  }
  if (!COMMIT_STATES.includes(options.state)) {
    throw new NotifyError(
      `commit status ${JSON.stringify(context)}: state must be one of ${COMMIT_STATES.join(", ")}, got ` +
        `${JSON.stringify(options.state)}`,
    );
  }
  const { data } = await withContext(
    {
      operation: `setting commit status ${JSON.stringify(context)} on ${owner}/${repo}@${options.sha.slice(0, 12)}`,
      repository: `${owner}/${repo}`,
      permission: "statuses: write",
      notFound: `${owner}/${repo} does not exist`,
    },
    () =>
      client.rest.repos.createCommitStatus({
        owner,
        repo,
        sha: options.sha,
        state: options.state,
        context,
        description: truncate(options.description, MAX_STATUS_DESCRIPTION),
        ...(options.targetUrl !== undefined ? { target_url: options.targetUrl } : {}),
      }),
  );
  return { id: data.id, url: data.url };
}

export interface IssueCommentOptions {
  owner: string;
  repo: string;
  /** Issue or pull request number. */
  issueNumber: number;
  /** Markdown; cut to 65536 characters with a note if longer. */
  body: string;
}

export async function commentOnIssue(
  client: GitHubClient,
  options: IssueCommentOptions,
): Promise<{ id: number; htmlUrl: string }> {
  const owner = required("owner", options.owner);
  const repo = required("repo", options.repo);
  if (!Number.isInteger(options.issueNumber) || options.issueNumber <= 0) {
    throw new NotifyError(`issueNumber must be a positive integer, got ${String(options.issueNumber)}`);
  }
  const { data } = await withContext(
    {
      operation: `commenting on ${owner}/${repo}#${options.issueNumber}`,
      repository: `${owner}/${repo}`,
      permission: "issues: write (pull-requests: write for a pull request)",
      notFound: `issue or pull request #${options.issueNumber} does not exist in ${owner}/${repo}`,
    },
    () =>
      client.rest.issues.createComment({
        owner,
        repo,
        issue_number: options.issueNumber,
        body: truncateBody(options.body),
      }),
  );
  return { id: data.id, htmlUrl: data.html_url };
}
