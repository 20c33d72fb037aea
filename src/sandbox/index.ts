export { runSandboxed, newRunId, type SandboxResult, type SandboxStatus, type CapturedLog } from "./run.js";
export { interactiveRunArgs, type SandboxRequest, type ReadOnlyMount } from "./spec.js";
export { DEFAULT_LIMITS, describeLimits, type SandboxLimits } from "./limits.js";
export {
  ensureImage,
  resolveImage,
  type EnsuredImage,
  type EnsureImageOptions,
  type ResolvedImage,
} from "./image.js";
export { EngineError } from "./engine.js";
export { removeAllPending } from "./cleanup.js";
export {
  buildImage,
  hasBuildx,
  pullImage,
  pushImage,
  tagImage,
  type BuildRequest,
  type BuiltImage,
  type RegistryAuth,
  type ProgressLine,
} from "./registry.js";
