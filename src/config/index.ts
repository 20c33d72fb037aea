export {
  loadCompetition,
  resolveCompetition,
  imageRef,
  logVisibility,
  logKind,
  phaseLimits,
  submissionLimits,
  competitionSchema,
  type Competition,
  type LoadOptions,
  type LogKind,
  type Phase,
} from "./competition.js";
export {
  imageMountFolders,
  submissionSchema,
  type ImageSubmission,
  type InputSocket,
  type PerCaseContract,
  type SubmissionKind,
} from "./submission.js";
export { YamlConfigError, loadYamlFile, parseYaml, formatIssue, type YamlIssue } from "../yaml/index.js";
