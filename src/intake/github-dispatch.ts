/** The intake's dispatch through the github room: a `repository_dispatch` of type `submission`. */
import { dispatchSubmission, type GitHubClient } from "../github/index.js";
import type { Dispatch } from "./intake.js";

export interface GitHubDispatchTarget {
  client: GitHubClient;
  owner: string;
  repo: string;
  /** The event type the runners' workflow listens for (default "submission"). */
  eventType?: string;
}

export function githubDispatch(target: GitHubDispatchTarget): Dispatch {
  return (payload) =>
    dispatchSubmission(target.client, {
      owner: target.owner,
      repo: target.repo,
      eventType: target.eventType ?? "submission",
      payload: { ...payload },
    });
}
