import { readdir } from "node:fs/promises";
import path from "node:path";
import {
  buildImage,
  pushImage,
  tagImage,
  type BuiltImage,
  type ProgressLine,
  type RegistryAuth,
} from "../sandbox/index.js";

export type Flavour = "cpu" | "gpu";

/**
 * The build context of the runtime Dockerfiles: runtime/ and the environment files, nothing else (the
 * classic builder would otherwise send the whole repository, node_modules included).
 */
export async function runtimeContextFiles(repoRoot: string): Promise<string[]> {
  const runtime = (await readdir(path.join(repoRoot, "runtime"), { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && !e.parentPath.includes("__pycache__"))
    .map((e) => path.relative(repoRoot, path.join(e.parentPath, e.name)));
  return ["environment-cpu.yml", "environment-gpu.yml", ...runtime.sort()];
}

export interface RuntimeBuild {
  repoRoot: string;
  flavour: Flavour;
  /** Local tag for the built image, e.g. proctor/runtime:cpu-local. */
  tag: string;
  revision?: string;
  /**
   * The repository's web address (https://github.com/<owner>/<repo>): the image's source label, and the
   * label that points to its SBOM on the leaderboard branch (sbomLocation).
   */
  source?: string;
  /** BuildKit cache, e.g. "type=gha" on GitHub-hosted runners. */
  cache?: string;
  /** Default runtime/Dockerfile; runtime/Dockerfile.offline builds the offline flavour. */
  dockerfile?: string;
  buildArgs?: Record<string, string>;
}

/** Builds the production runtime (micromamba + environment-<flavour>.yml) for cpu or gpu. */
export async function buildRuntime(build: RuntimeBuild, onLine?: ProgressLine): Promise<BuiltImage> {
  return buildImage(
    {
      context: build.repoRoot,
      files: await runtimeContextFiles(build.repoRoot),
      dockerfile: build.dockerfile ?? "runtime/Dockerfile",
      tag: build.tag,
      buildArgs: {
        CPU_OR_GPU: build.flavour,
        REVISION: build.revision ?? "unknown",
        CREATED: new Date().toISOString(),
        ...(build.source && { SOURCE: build.source, SBOM: sbomLocation(build.source, build.flavour) }),
        ...build.buildArgs,
      },
      ...(build.cache && { cache: build.cache }),
    },
    onLine,
  );
}

/** The leaderboard branch the runtime workflow publishes each image's SBOM on (the action's default). */
export const SBOM_BRANCH = "leaderboard";

/**
 * Where the SBOM of a published image of `flavour` is kept: runtime/sbom-<flavour>.cdx.json on the
 * leaderboard branch (the record job of the runtime workflow puts it there; runtime/published.json names
 * its sha256 per image). An image's `org.proctor.sbom` label points here.
 */
export function sbomLocation(source: string, flavour: Flavour): string {
  return `${source}/blob/${SBOM_BRANCH}/runtime/sbom-${flavour}.cdx.json`;
}

/** The tags a published runtime gets: <flavour>-latest and <flavour>-<commit>. */
export function publishTags(flavour: Flavour, sha: string): string[] {
  return [`${flavour}-latest`, `${flavour}-${sha.slice(0, 12)}`];
}

export interface Published {
  refs: string[];
  digest: string;
}

/**
 * Tags the built image for `repository` (registry host included when not Docker Hub) and pushes every tag;
 * any error the registry reports in the push stream fails the publish.
 */
export async function publishRuntime(
  image: string,
  repository: string,
  flavour: Flavour,
  sha: string,
  auth: RegistryAuth | null,
  onLine?: ProgressLine,
): Promise<Published> {
  const refs: string[] = [];
  let digest = "";
  for (const tag of publishTags(flavour, sha)) {
    const ref = await tagImage(image, repository, tag);
    digest = await pushImage(ref, auth, onLine);
    refs.push(ref);
  }
  return { refs, digest };
}

export class ImageSizeError extends Error {
  override name = "ImageSizeError";
}

/** Fails when the image is over the size budget, saying by how much. */
export function checkImageSize(built: { tag: string; sizeBytes: number }, budgetBytes: number): void {
  if (built.sizeBytes > budgetBytes) {
    const gib = (b: number) => `${(b / 1024 ** 3).toFixed(2)} GiB`;
    throw new ImageSizeError(
      `${built.tag} is ${gib(built.sizeBytes)}, over the budget of ${gib(budgetBytes)} by ${gib(built.sizeBytes - budgetBytes)}; drop packages or raise image-size-budget`,
    );
  }
}
