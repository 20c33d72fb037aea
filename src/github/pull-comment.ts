/**
 * One comment per pull request that a workflow keeps up to date (the package diff): finding the pull
 * request of a fork's run, whose workflow_run event carries no pull request list, by its head
 * (`owner:branch`) and commit; and creating or editing the comment marked as ours.
 */
import type { GitHubClient } from "./client.js";
import { withContext } from "./errors.js";
import { commentOnIssue, MAX_BODY_CHARACTERS, NotifyError } from "./notify.js";

export interface PullRequestHead {
  owner: string;
  repo: string;
  /** The head's owner (a fork's owner for a fork's pull request) and branch. */
  headOwner: string;
  headBranch: string;
  /** The commit the run ran on: a pull request whose head moved on since is not it. */
  headSha: string;
}

/**
 * The open pull request whose head is `headOwner:headBranch` at `headSha`, or null when none is (closed,
 * or pushed to since the run).
 */
export async function findPullRequestByHead(
  client: GitHubClient,
  head: PullRequestHead,
): Promise<number | null> {
  const { owner, repo } = head;
  const pulls = await withContext(
    {
      operation: `listing the pull requests of ${owner}/${repo} from ${head.headOwner}:${head.headBranch}`,
      repository: `${owner}/${repo}`,
      permission: "pull-requests: read",
      notFound: `${owner}/${repo} does not exist`,
    },
    () =>
      client.paginate(client.rest.pulls.list, {
        owner,
        repo,
        state: "open",
        head: `${head.headOwner}:${head.headBranch}`,
        per_page: 100,
      }),
  );
  return pulls.find((pull) => pull.head.sha === head.headSha)?.number ?? null;
}

export interface MarkedCommentOptions {
  owner: string;
  repo: string;
  issueNumber: number;
  /** A hidden line the body starts with (`<!-- … -->`). */
  marker: string;
  body: string;
  /** The login the earlier comment must be by (github-actions[bot]): anyone can paste the marker. */
  author: string;
}

/** Edits our earlier marked comment on the issue or pull request, or adds one. */
export async function upsertMarkedComment(
  client: GitHubClient,
  options: MarkedCommentOptions,
): Promise<{ id: number; action: "created" | "updated" }> {
  const { owner, repo, issueNumber, marker } = options;
  if (!options.body.startsWith(marker))
    throw new NotifyError(`the comment must start with its marker ${marker}`);
  if (Array.from(options.body).length > MAX_BODY_CHARACTERS)
    throw new NotifyError(`the comment is over GitHub's ${MAX_BODY_CHARACTERS} characters`);
  const context = {
    operation: `updating the marked comment on ${owner}/${repo}#${issueNumber}`,
    repository: `${owner}/${repo}`,
    permission: "pull-requests: write",
    notFound: `pull request #${issueNumber} does not exist in ${owner}/${repo}`,
  };
  const comments = await withContext(context, () =>
    client.paginate(client.rest.issues.listComments, {
      owner,
      repo,
      issue_number: issueNumber,
      per_page: 100,
    }),
  );
  const ours = comments.find((c) => c.user?.login === options.author && c.body?.startsWith(marker));
  if (!ours) {
    const { id } = await commentOnIssue(client, { owner, repo, issueNumber, body: options.body });
    return { id, action: "created" };
  }
  await withContext(context, () =>
    client.rest.issues.updateComment({ owner, repo, comment_id: ours.id, body: options.body }),
  );
  return { id: ours.id, action: "updated" };
}
