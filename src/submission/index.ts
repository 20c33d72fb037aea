/**
 * The submission room: safe inspection and extraction of participant zips, inspection of image archives
 * (`docker save`), packing, and download.
 */
export { InvalidSubmissionError } from "./errors.js";
export { DEFAULT_ZIP_LIMITS, RATIO_FLOOR_BYTES, type ZipLimits } from "./limits.js";
export { RULES, ENTRYPOINTS, type Rule, type Entrypoint } from "./rules.js";
export { sha256File } from "./hash.js";
export { submissionFileKind } from "./kind.js";
export { inspectSubmission, type InspectedSubmission, type SubmissionSummary } from "./inspect.js";
export { extractSubmission, type ExtractedSubmission } from "./extract.js";
export { packSubmission, PackError, type PackResult } from "./pack.js";
export { downloadSubmission, redactUrl, SubmissionFetchError, type FetchOptions } from "./fetch.js";
export { pythonSyntaxErrors } from "./syntax.js";
export {
  inspectImageArchive,
  type ImageLayer,
  type ImageRunConfig,
  type InspectImageOptions,
  type InspectedImage,
} from "./image-archive.js";
export { checkImageConfig, NOBODY, resolveUser, type ResolvedUser } from "./image-config.js";
export { loadableArchive, loadManifest, type LoadableArchive } from "./image-loadable.js";
export {
  DEFAULT_IMAGE_LIMITS,
  DEFAULT_PLATFORM,
  IMAGE_RULES,
  InvalidImageError,
  checkBaseImage,
  type AllowedBase,
  type ImageLimits,
  type ImageRule,
  type Platform,
} from "./image-rules.js";
export { extractModelArchive, type ExtractedModel, type ModelLimits } from "./model-archive.js";
