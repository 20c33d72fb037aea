/**
 * The github room: the only code that uses Octokit. A client with retries and rate-limit handling,
 * dispatching runs, commit statuses, comments, and the leaderboard kept on a branch.
 */
export {
  createGitHubClient,
  type GitHubClient,
  type GitHubClientOptions,
  type GitHubLogger,
} from "./client.js";
export { GitHubError, toGitHubError, type ErrorContext } from "./errors.js";
export {
  DispatchError,
  MAX_CLIENT_PAYLOAD_BYTES,
  MAX_CLIENT_PAYLOAD_PROPERTIES,
  MAX_EVENT_TYPE_LENGTH,
  checkClientPayload,
  dispatchSubmission,
  type DispatchSubmissionOptions,
} from "./dispatch.js";
export {
  MAX_BODY_CHARACTERS,
  MAX_STATUS_DESCRIPTION,
  NotifyError,
  commentOnIssue,
  setCommitStatus,
  truncate,
  type CommitState,
  type CommitStatusOptions,
  type IssueCommentOptions,
} from "./notify.js";
export {
  findPullRequestByHead,
  upsertMarkedComment,
  type MarkedCommentOptions,
  type PullRequestHead,
} from "./pull-comment.js";
export {
  GitHubLeaderboardStore,
  LEADERBOARD_ENTRIES_FORMAT,
  serializeEntries,
  type GitHubStoreOptions,
  type LeaderboardEntriesFile,
  type RecordOutcome,
  type RenderPages,
} from "./github-store.js";
export {
  PRIVATE_BOARD_FILES,
  publishRevealedBoard,
  RevealPublishError,
  type RevealedBoardTarget,
} from "./revealed-board.js";
