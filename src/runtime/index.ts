export {
  alignmentIssues,
  ENVIRONMENT_RULES,
  FLAVOUR_ONLY_PACKAGES,
  parseEnvironment,
  readEnvironment,
  type Environment,
  type EnvironmentRule,
  type EnvPackage,
  type ParseOptions,
} from "./environment.js";
export {
  packageId,
  parsePackageSpec,
  type PackageSource,
  type PackageSpec,
  type SpecResult,
} from "./package-spec.js";
export {
  acknowledgedDowngrades,
  askedFor,
  CHANGE_KINDS,
  CHANGE_MARKS,
  diffLocks,
  diffPackages,
  packageDiffReportSchema,
  unaskedDowngrades,
  type ChangeKind,
  type LockChange,
  type PackageDiff,
  type PackageDiffReport,
  type PackageVersion,
  type VersionChange,
} from "./package-diff.js";
export { compareCondaVersions } from "./conda-version.js";
export {
  downgradeFailures,
  makePackageDiffReport,
  MAX_REPORT_BYTES,
  PACKAGE_DIFF_MARKER,
  PackageDiffArtifactError,
  packageDiffComment,
  readPackageDiffReports,
  type MakeReportOptions,
} from "./package-diff-report.js";
export {
  addPublished,
  latestPublished,
  parsePublished,
  PUBLISHED_FILE,
  PUBLISHED_FORMAT,
  publishedByDigest,
  publishedImageSchema,
  PublishedRecordError,
  readPublished,
  serializePublished,
  sha256File,
  writePublished,
  type PublishedFile,
  type PublishedImage,
} from "./published.js";
export { importTargetFor, MODULE_MAP, SKIP_IMPORT, type ImportTarget } from "./modules.js";
export {
  describeImportFailures,
  GPU_TEST_SCRIPT,
  IMPORT_TEST_LIMITS,
  IMPORT_TEST_SCRIPT,
  testGpu,
  testImports,
  type GpuTestReport,
  type ImportResult,
  type ImportTestReport,
  type TestImportsOptions,
} from "./image-tests.js";
export {
  buildRuntime,
  checkImageSize,
  ImageSizeError,
  publishRuntime,
  publishTags,
  runtimeContextFiles,
  type Flavour,
  type Published,
  type RuntimeBuild,
} from "./publish.js";
export { offlineGap, packageLabel, providerOf, type OfflineGap } from "./offline.js";
export {
  checkLock,
  checkRepositoryLocks,
  lockCommand,
  lockDrift,
  lockPath,
  LOCK_RULES,
  parseCondaLock,
  readCondaLock,
  type CondaLock,
  type LockIssue,
  type LockRule,
} from "./lock.js";
export {
  buildSbom,
  imageSbom,
  inventoryPackages,
  readImageInventory,
  serializeSbom,
  type ImageInventory,
} from "./sbom.js";
export { licenceReport, licenceReportMarkdown, type LicencePolicy, type LicenceReport } from "./licences.js";
