/**
 * The intake room: taking participants' zips (streamed, size-capped, inspected, limited), keeping them,
 * recording them, dispatching them to the runners, taking the runners' results, and sweeping lost runs.
 * The HTTP edge is src/gateway; the result-report contract for runners is result-report.ts.
 */
export {
  Intake,
  type Clock,
  type Dispatch,
  type DispatchPayload,
  type IntakeLogger,
  type IntakeOptions,
  type SweepReport,
} from "./intake.js";
export { createSweeper, type Sweeper } from "./sweeper.js";
export { githubDispatch, type GitHubDispatchTarget } from "./github-dispatch.js";
export {
  IntakeDb,
  IntakeDbError,
  INTAKE_SCHEMA_VERSION,
  type AttemptRecord,
  type CpuOrGpu,
  type DispatchState,
  type SubmissionRecord,
  type SubmissionState,
  type TokenRecord,
} from "./db.js";
export {
  TokenError,
  TokenRegistry,
  checkParticipantName,
  type Authenticated,
  type IssuedToken,
  type TokenSummary,
} from "./tokens.js";
export {
  LocalDirectoryStorage,
  StorageNotFoundError,
  type StoredZip,
  type SubmissionStorage,
} from "./storage.js";
export {
  DownloadLinkError,
  IntakeError,
  QuotaExceededError,
  ResultAuthError,
  ResultConflictError,
  SubmissionNotFoundError,
  UploadTooLargeError,
} from "./errors.js";
export {
  FinalReportSchema,
  MAX_REPORT_BODY_BYTES,
  MAX_REPORTED_LOG_CHARS,
  MAX_STORED_LOG_CHARS,
  ResultReportError,
  ResultReportSchema,
  RunningReportSchema,
  finalReport,
  parseResultReport,
  type FinalReport,
  type ReportableOutcome,
  type ResultReport,
  type RunningReport,
} from "./result-report.js";
export {
  ResultSendError,
  sendResultReport,
  type SendResultOptions,
  type SendResultOutcome,
} from "./report-client.js";
export {
  quotaView,
  submissionView,
  visibleLog,
  type ErrorBody,
  type QuotaView,
  type SubmissionListView,
  type SubmissionView,
  type SubmittedView,
} from "./api.js";
export {
  GatewayApiError,
  getSubmission,
  listSubmissions,
  uploadSubmission,
  waitForFinal,
  type GatewayCredentials,
  type UploadOptions,
  type WaitOptions,
} from "./client.js";
export {
  CredentialsError,
  defaultCredentialsPath,
  resolveCredentials,
  type CredentialsFile,
  type ResolvedCredentials,
} from "./credentials.js";
export {
  MIN_SECRET_BYTES,
  SUBMISSION_ID_PATTERN,
  SecretError,
  bearer,
  isSubmissionId,
  newSubmissionId,
} from "./secrets.js";
