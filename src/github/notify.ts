/**
 * Telling people: commit statuses, issue comments, and one standing issue per label (e.g. "the runner
 * on gpu-1 is failing"), opened once and then kept up to date instead of piling up duplicates.
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

export interface StandingIssueOptions {
  owner: string;
  repo: string;
  title: string;
  body: string;
  /** The label that identifies this issue: at most one open issue carries it. */
  label: string;
  /**
   * What to do when the open issue exists: "update" replaces its title and body (default; nothing is
   * sent when they are unchanged), "comment" leaves them and adds `body` as a comment.
   */
  onExisting?: "update" | "comment";
}

export interface StandingIssueResult {
  number: number;
  htmlUrl: string;
  action: "created" | "updated" | "commented" | "unchanged";
  /** Duplicates found open with the same label and closed in favour of `number`. */
  closedDuplicates: number[];
}

interface IssueRow {
  number: number;
  title: string;
  body?: string | null;
  html_url: string;
  pull_request?: unknown;
  labels: (string | { name?: string | null })[];
}

/**
 * Makes sure exactly one open issue carries `label`: updates (or comments on) the oldest open one, or
 * creates it. Should two callers race and both create one, the one that sees an older issue closes its
 * own as a duplicate, so the label converges to one open issue.
 */
export async function openOrUpdateIssue(
  client: GitHubClient,
  options: StandingIssueOptions,
): Promise<StandingIssueResult> {
  const owner = required("owner", options.owner);
  const repo = required("repo", options.repo);
  const title = required("title", options.title);
  const label = required("label", options.label);
  if (label.includes(",")) {
    throw new NotifyError(
      `label ${JSON.stringify(label)} must not contain a comma (GitHub filters labels by commas)`,
    );
  }
  const body = truncateBody(options.body);
  const onExisting = options.onExisting ?? "update";
  const target = `${owner}/${repo}`;
  const context = (operation: string) => ({
    operation,
    repository: target,
    permission: "issues: write",
  });

  const openWithLabel = () =>
    withContext(context(`listing open issues labelled ${JSON.stringify(label)} in ${target}`), async () => {
      const rows = (await client.paginate(client.rest.issues.listForRepo, {
        owner,
        repo,
        state: "open",
        labels: label,
        sort: "created",
        direction: "asc",
        per_page: 100,
      })) as IssueRow[];
      return rows
        .filter((i) => i.pull_request === undefined || i.pull_request === null)
        .filter((i) =>
          i.labels.some(
            (l) => (typeof l === "string" ? l : (l.name ?? "")).toLowerCase() === label.toLowerCase(),
          ),
        )
        .sort((a, b) => a.number - b.number);
    });

  const closeDuplicates = async (keep: number, duplicates: readonly IssueRow[]): Promise<number[]> => {
    const closed: number[] = [];
    for (const dup of duplicates) {
      await withContext(context(`closing duplicate issue #${dup.number} in ${target}`), async () => {
        await client.rest.issues.createComment({
          owner,
          repo,
          issue_number: dup.number,
          body: `Duplicate of #${keep} (one open issue per label ${JSON.stringify(label)}).`,
        });
        await client.rest.issues.update({
          owner,
          repo,
          issue_number: dup.number,
          state: "closed",
          state_reason: "not_planned",
        });
      });
      closed.push(dup.number);
    }
    return closed;
  };

  const applyTo = async (
    keeper: IssueRow,
  ): Promise<Pick<StandingIssueResult, "number" | "htmlUrl" | "action">> => {
    const result = { number: keeper.number, htmlUrl: keeper.html_url };
    if (onExisting === "comment") {
      await withContext(context(`commenting on issue #${keeper.number} in ${target}`), () =>
        client.rest.issues.createComment({ owner, repo, issue_number: keeper.number, body }),
      );
      return { ...result, action: "commented" };
    }
    if (keeper.title === title && (keeper.body ?? "") === body) return { ...result, action: "unchanged" };
    await withContext(context(`updating issue #${keeper.number} in ${target}`), () =>
      client.rest.issues.update({ owner, repo, issue_number: keeper.number, title, body }),
    );
    return { ...result, action: "updated" };
  };

  const existing = await openWithLabel();
  if (existing.length > 0) {
    const [keeper, ...duplicates] = existing;
    const done = await applyTo(keeper!);
    return { ...done, closedDuplicates: await closeDuplicates(keeper!.number, duplicates) };
  }

  const { data: created } = await withContext(
    context(`opening an issue labelled ${JSON.stringify(label)} in ${target}`),
    () => client.rest.issues.create({ owner, repo, title, body, labels: [label] }),
  );
  // Someone may have opened one at the same time: the oldest wins, the others close themselves.
  const now = await openWithLabel();
  const older = now.filter((i) => i.number < created.number);
  if (older.length > 0) {
    const keeper = older[0]!;
    const closed = await closeDuplicates(keeper.number, [created as IssueRow]);
    const done = await applyTo(keeper);
    return { ...done, closedDuplicates: closed };
  }
  return { number: created.number, htmlUrl: created.html_url, action: "created", closedDuplicates: [] };
}
