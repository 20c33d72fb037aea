export {
  newRunId,
  prepareRun,
  runSandboxed,
  type CapturedLog,
  type PreparedRun,
  type SandboxResult,
  type SandboxStatus,
} from "./run.js";
export { CappedCapture } from "./capture.js";
export { interactiveRunArgs, type EarlyRequest, type SandboxRequest, type ReadOnlyMount } from "./spec.js";
export { DEFAULT_LIMITS, describeLimits, type SandboxLimits } from "./limits.js";
export {
  ensureImage,
  registryOf,
  resolveImage,
  type EnsuredImage,
  type EnsureImageOptions,
  type ResolvedImage,
} from "./image.js";
export { EngineError } from "./engine.js";
export { ImageLoadError, loadImageArchive, type LoadedImage } from "./image-load.js";
export { LEASE_MARGIN_MS, LOADED_REPOSITORY } from "./cleanup.js";
export {
  ensureModelsVolume,
  MODELS_LABEL,
  type ModelsMount,
  type ModelsVolume,
  type ModelsVolumeOptions,
} from "./models-volume.js";
export { pendingRemovals, removeAllPending } from "./cleanup.js";
export { labelledContainers, removeLabelled, runScope, withRunScope, type RunScope } from "./run-scope.js";
export { gpuDeviceRequest } from "./spec.js";
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
export { checkRuntime, engineRuntimes, RuntimeUnavailableError } from "./runtimes.js";
export { DERIVED_CAPS_RULE, capsProblem, derivedCaps } from "./limits.js";
export type { RunMetrics, MetricSample, GpuMetrics } from "./metrics.js";
export { renderSparklineSvg } from "./sparkline.js";
