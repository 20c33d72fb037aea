/**
 * The gateway's wire contract and its two clients: the participant's (`proctor submit`/`status`) and the
 * runner's (the action's run-submission). It never loads the server (src/intake) or native SQLite, so the
 * participant's commands run from a copy of build/ alone.
 */
export * from "./contract.js";
export * from "./claims.js";
export { describeQueuePlace } from "./queue-place.js";
export {
  DiagnosisSchema,
  diagnosisOf,
  diagnosisReport,
  type DiagnosisReport,
  FinalReportSchema,
  MAX_REPORT_BODY_BYTES,
  MAX_REPORTED_LOG_CHARS,
  MAX_STORED_LOG_CHARS,
  ResultReportError,
  ResultReportSchema,
  RunningReportSchema,
  finalReport,
  lastChars,
  parseResultReport,
  type FinalReport,
  type ReportableOutcome,
  type ResultReport,
  type RunningReport,
  type Usage,
  UsageSchema,
  usageReport,
  MAX_USAGE_SAMPLES,
  MAX_RESULTS_JSON_CHARS,
} from "./result-report.js";
export { GatewayApiError, type GatewayCredentials } from "./http.js";
export {
  cancelSubmission,
  getSubmission,
  listSubmissions,
  uploadSubmission,
  waitForFinal,
  type UploadOptions,
  type WaitOptions,
} from "./participant-client.js";
export {
  CLAIM_HEADER,
  claimById,
  claimNext,
  downloadAttempt,
  downloadModel,
  downloadPredictions,
  uploadPredictions,
  heartbeatClaim,
  releaseClaim,
  runnerSubmission,
  sendResultReport,
  type ClaimOutcome,
  type HeartbeatOutcome,
  type RunnerRequestOptions,
  type SendResultOutcome,
} from "./runner-client.js";
export {
  CredentialsError,
  defaultCredentialsPath,
  resolveCredentials,
  type CredentialsFile,
  type ResolvedCredentials,
} from "./credentials.js";
