/**
 * The submission room: safe inspection and extraction of participant zips, packing, and download.
 */
export { InvalidSubmissionError } from "./errors.js";
export { DEFAULT_ZIP_LIMITS, RATIO_FLOOR_BYTES, type ZipLimits } from "./limits.js";
export { RULES, ENTRYPOINTS, type Rule, type Entrypoint } from "./rules.js";
export { sha256File } from "./hash.js";
export { inspectSubmission, type InspectedSubmission, type SubmissionSummary } from "./inspect.js";
export { extractSubmission, type ExtractedSubmission } from "./extract.js";
export { packSubmission, PackError, type PackResult } from "./pack.js";
export { downloadSubmission, redactUrl, SubmissionFetchError, type FetchOptions } from "./fetch.js";
export { pythonSyntaxErrors } from "./syntax.js";
