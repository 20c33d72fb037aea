/**
 * The final ranking on the leaderboard branch, beside the public board the runners keep there: after the
 * reveal, `private-leaderboard.json` (proctor.leaderboard/v1, mode private) and `PRIVATE.md` (the same as a
 * table), written with the branch's optimistic concurrency (branch-file.ts). A reveal made again with the
 * same result commits nothing.
 */
import { Branch } from "./branch-file.js";
import type { GitHubClient } from "./client.js";

export const PRIVATE_BOARD_FILES = { json: "private-leaderboard.json", markdown: "PRIVATE.md" } as const;

export class RevealPublishError extends Error {
  override name = "RevealPublishError";
}

export interface RevealedBoardTarget {
  client: GitHubClient;
  owner: string;
  repo: string;
  /** The leaderboard branch (default "leaderboard"). */
  branch?: string;
  /** How long a write keeps retrying races with the runners' records (default 120 000 ms). */
  retryForMs?: number;
}

/** Writes both files; the paths committed (none when both were already as given). */
export async function publishRevealedBoard(
  target: RevealedBoardTarget,
  files: { json: string; markdown: string },
): Promise<string[]> {
  const branch = new Branch({
    client: target.client,
    owner: target.owner,
    repo: target.repo,
    branch: target.branch ?? "leaderboard",
    retryForMs: target.retryForMs ?? 120_000,
    purpose: { what: "the final ranking", elsewhere: "proctor admin reveal's --branch" },
    error: (message) => new RevealPublishError(message),
  });
  await branch.ensure();
  const written: string[] = [];
  for (const [kind, path] of Object.entries(PRIVATE_BOARD_FILES) as [keyof typeof files, string][]) {
    const outcome = await branch.update(path, (text) => (text === files[kind] ? undefined : files[kind]), {
      message: `The final ranking (${path}), revealed`,
      deadline: branch.deadline(),
    });
    if (!outcome.ok) {
      throw new RevealPublishError(
        `could not write ${branch.where(path)} after ${outcome.attempts} attempt(s): ${outcome.reason}`,
      );
    }
    if (outcome.committed) written.push(path);
  }
  return written;
}
