/** The logs room: what a participant is shown of their program's log and of why it ended, wherever shown. */
export { printable } from "./printable.js";
export { visibleLines, visibleLog, type LogShowing, type LogVisibility } from "./visibility.js";
export {
  capEchoes,
  describeReasonClass,
  ECHO_CHARS,
  headOf,
  participantAttempts,
  participantShowing,
  REASON_CLASSES,
  reasonClass,
  type Diagnosis,
  type ReasonClass,
  type ReasonClassKind,
  type RunReport,
  type ShownRun,
} from "./diagnostics.js";
