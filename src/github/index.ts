/**
 * The github room: the only code that uses Octokit. A client with retries and rate-limit handling,
 * dispatching runs, commit statuses, comments and standing issues, and the leaderboard kept on a branch.
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
  MAX_WORKFLOW_INPUTS,
  checkClientPayload,
  checkWorkflowInputs,
  dispatchSubmission,
  dispatchWorkflow,
  type DispatchSubmissionOptions,
  type DispatchWorkflowOptions,
} from "./dispatch.js";
export {
  MAX_BODY_CHARACTERS,
  MAX_STATUS_DESCRIPTION,
  NotifyError,
  commentOnIssue,
  openOrUpdateIssue,
  setCommitStatus,
  truncate,
  type CommitState,
  type CommitStatusOptions,
  type IssueCommentOptions,
  type StandingIssueOptions,
  type StandingIssueResult,
} from "./notify.js";
export {
  GitHubLeaderboardStore,
  LEADERBOARD_ENTRIES_FORMAT,
  serializeEntries,
  type GitHubStoreOptions,
  type LeaderboardEntriesFile,
  type RecordOutcome,
  type RenderPages,
} from "./github-store.js";
