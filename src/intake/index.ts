/**
 * The intake room, the gateway's server side: taking participants' zips (streamed, size-capped,
 * inspected, limited), keeping them, recording them, dispatching them to the runners, serving the runners
 * (runner credentials), taking their results, and sweeping lost runs. The HTTP edge is src/gateway; the
 * wire contract and the clients are src/gateway-api.
 */
export {
  Intake,
  type Clock,
  type Dispatch,
  type IntakeLogger,
  type IntakeOptions,
  type SweepReport,
  MAX_NOTE_CHARS,
} from "./intake.js";
export { createSweeper, type Sweeper } from "./sweeper.js";
export { Organizer, OrganizerError, type OrganizerSubmission, type QueueRow } from "./organizer.js";
export {
  RESCORE_STATUSES,
  Rescores,
  type RankChange,
  type RescoreJob,
  type RescoreResult,
  type RescoreSelection,
  type RescoreSkip,
} from "./rescore.js";
export { PREDICTIONS_DIR, PredictionFiles } from "./predictions.js";
export { Sessions, type SessionHolder } from "./sessions.js";
export {
  PRIVATE_BOARD_FILE,
  readRevealed,
  revealFinal,
  RevealRefusedError,
  writeRevealed,
  type RevealedBoard,
} from "./reveal.js";
export {
  EXPORT_FORMATS,
  exportCsv,
  exportSubmissions,
  type ExportDocument,
  type ExportFormat,
  type ExportRow,
} from "./export.js";
export { githubDispatch, type GitHubDispatchTarget } from "./github-dispatch.js";
export {
  IntakeDb,
  IntakeDbError,
  INTAKE_SCHEMA_VERSION,
  CLAIM_ORDER,
  type SubmissionRecord,
  type TokenRecord,
} from "./db.js";
export {
  TokenError,
  TokenRegistry,
  checkHolderName,
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
  ChoiceError,
  ActiveRunsError,
  DisqualifiedError,
  NotCancellableError,
  SubmissionsClosedError,
  IntakeError,
  NoRunnersError,
  QuotaExceededError,
  ResultConflictError,
  RunnerAuthError,
  SubmissionNotFoundError,
  UploadTooLargeError,
} from "./errors.js";
export { quotaView, submissionView } from "./views.js";
export { newSubmissionId, type TokenKind } from "./secrets.js";
