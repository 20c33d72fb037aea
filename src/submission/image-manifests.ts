/**
 * The second half of image-archive inspection: once every entry of the archive has been seen, resolve
 * manifest.json (Docker) and index.json (OCI) to exactly one image, check that every file they name is
 * there with the digest it claims, and read the config (platform, diff_ids, what the run needs).
 */
import { formatBytes } from "../units/index.js";
import type { AccountFiles, ImageLayer, InspectedImage, OuterEntry, Pass } from "./image-archive.js";
import { DuplicateKeyError, field, parseImageJson } from "./image-json.js";
import {
  RESAVE,
  q,
  refuseArchive,
  refuseLayer,
  type InvalidImageError,
  type Platform,
} from "./image-rules.js";

interface Descriptor {
  mediaType?: string;
  digest: string;
  annotations?: Record<string, string>;
}

const INDEX_TYPES = new Set([
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
]);

export function resolveImage(
  pass: Pass,
  platform: Platform,
): Omit<InspectedImage, "archiveName" | "sha256" | "archiveBytes" | "gzipped"> {
  const { archiveName } = pass;
  for (const name of MANIFEST_NAMES) {
    if (pass.links.has(name)) {
      throw refuseArchive(
        "bad_manifest",
        archiveName,
        name,
        "it is a symbolic link, which `docker save` never writes and a loader would follow",
        RESAVE,
      );
    }
  }
  const hasDocker = pass.entries.has("manifest.json");
  const hasOci = pass.entries.has("index.json");
  if (!hasDocker && !hasOci) {
    throw refuseArchive(
      "no_manifest",
      archiveName,
      undefined,
      "it has neither manifest.json (Docker) nor index.json (OCI), so it is not a saved image",
      RESAVE,
    );
  }
  if (hasOci && !pass.entries.has("oci-layout")) {
    throw refuseArchive(
      "bad_manifest",
      archiveName,
      "oci-layout",
      "index.json is there but oci-layout is missing",
      RESAVE,
    );
  }
  let docker: { config: string; tags: string[]; layers: string[] } | undefined;
  if (hasDocker) {
    const manifest = readJson(pass, "manifest.json");
    if (!Array.isArray(manifest)) throw badManifest(pass, "manifest.json", "it is not a JSON list");
    if (manifest.length === 0) throw noImage(pass, "manifest.json");
    if (manifest.length > 1) throw multipleImages(pass, "manifest.json", manifest.length);
    const [item] = manifest as unknown[];
    const [config, tags, layers] = [field(item, "Config"), field(item, "RepoTags"), field(item, "Layers")];
    if (typeof config !== "string" || !isStringList(layers)) {
      throw badManifest(pass, "manifest.json", "its image lacks Config or Layers");
    }
    docker = { config, tags: isStringList(tags) ? tags : [], layers };
  }
  let oci: { config: string; tags: string[]; layers: string[] } | undefined;
  if (hasOci) {
    const manifests = field(readJson(pass, "index.json"), "manifests");
    if (!Array.isArray(manifests)) throw badManifest(pass, "index.json", "it lacks a manifests list");
    const images = flattenIndex(pass, manifests, "index.json", 0);
    if (images.length === 0) throw noImage(pass, "index.json");
    // Docker 25+ lists the same image once per tag: distinct manifests are distinct images.
    const distinct = new Map<string, Descriptor[]>();
    for (const descriptor of images)
      distinct.set(descriptor.digest, [...(distinct.get(descriptor.digest) ?? []), descriptor]);
    if (distinct.size > 1) throw multipleImages(pass, "index.json", distinct.size);
    const [[digest, descriptors]] = [...distinct] as [[string, Descriptor[]]];
    const manifestPath = blobPath(pass, digest, "index.json");
    const manifest = readJson(pass, manifestPath);
    const [configDescriptor, layers] = [field(manifest, "config"), field(manifest, "layers")];
    const configDigest = field(configDescriptor, "digest");
    if (typeof configDigest !== "string" || !Array.isArray(layers)) {
      throw badManifest(pass, manifestPath, "the image manifest lacks config or layers");
    }
    const tags = descriptors
      .map(
        (d) =>
          d.annotations?.["io.containerd.image.name"] ?? d.annotations?.["org.opencontainers.image.ref.name"],
      )
      .filter((tag): tag is string => typeof tag === "string");
    oci = {
      config: blobPath(pass, configDigest, manifestPath),
      tags,
      layers: layers.map((layer) => blobPath(pass, String(field(layer, "digest")), manifestPath)),
    };
  }
  const chosen = (docker ?? oci)!;
  if (
    docker &&
    oci &&
    (normal(docker.config) !== normal(oci.config) ||
      docker.layers.map(normal).join() !== oci.layers.map(normal).join())
  ) {
    throw refuseArchive(
      "inconsistent_manifests",
      archiveName,
      "index.json",
      "manifest.json and index.json describe different images",
      RESAVE,
    );
  }
  const configPath = normal(chosen.config);
  const configEntry = entryOf(pass, configPath, "manifest");
  const configJson = readJson(pass, configPath);
  const config = {
    os: field(configJson, "os"),
    architecture: field(configJson, "architecture"),
    variant: field(configJson, "variant"),
    settings: field(configJson, "config"),
    diffIds: field(field(configJson, "rootfs"), "diff_ids"),
  };
  if (typeof config.os !== "string" || typeof config.architecture !== "string") {
    throw refuseArchive(
      "bad_config",
      archiveName,
      configPath,
      "the image config lacks os or architecture",
      RESAVE,
    );
  }
  const variant = typeof config.variant === "string" ? config.variant : undefined;
  if (
    config.os !== platform.os ||
    config.architecture !== platform.architecture ||
    (platform.variant !== undefined && variant !== platform.variant)
  ) {
    const want = [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/");
    const got = [config.os, config.architecture, variant].filter(Boolean).join("/");
    throw refuseArchive(
      "platform",
      archiveName,
      configPath,
      `the image is built for ${got}, but the runner runs ${want}`,
      `build it for the runner: docker build --platform ${want} ..., then save it again`,
    );
  }
  const diffIds = config.diffIds;
  if (!isStringList(diffIds) || diffIds.length !== chosen.layers.length) {
    throw refuseArchive(
      "bad_config",
      archiveName,
      configPath,
      `the config lists ${Array.isArray(diffIds) ? diffIds.length : "no"} layer digests (rootfs.diff_ids) but the manifest ${chosen.layers.length} layers`,
      RESAVE,
    );
  }
  if (chosen.layers.length > pass.limits.maxLayers) {
    throw refuseArchive(
      "too_many_layers",
      archiveName,
      undefined,
      `the image has ${chosen.layers.length} layers, over the limit of ${pass.limits.maxLayers}`,
      "combine RUN steps in the Dockerfile",
    );
  }
  const layers: ImageLayer[] = chosen.layers.map((raw, i) => {
    const path = normal(raw);
    const entry = entryOf(pass, path, "manifest");
    if (!entry.layer) {
      throw refuseLayer(
        "layer_not_tar",
        archiveName,
        path,
        undefined,
        "the layer is not a tar archive (nor a gzipped one)",
        RESAVE,
      );
    }
    if (entry.layer.diffId !== diffIds[i]) {
      throw refuseLayer(
        "digest_mismatch",
        archiveName,
        path,
        undefined,
        `the layer's content hashes to ${entry.layer.diffId}, but the config says ${diffIds[i]}`,
        RESAVE,
      );
    }
    return { path, digest: `sha256:${entry.sha256}`, ...entry.layer };
  });
  const setting = (name: string): unknown => field(config.settings, name);
  const stringList = (value: unknown): string[] | null => (isStringList(value) ? value : null);
  const text = (value: unknown): string => (typeof value === "string" ? value : "");
  const volumes = setting("Volumes");
  return {
    layout: docker && oci ? "docker+oci" : docker ? "docker" : "oci",
    configDigest: `sha256:${configEntry.sha256}`,
    repoTags: docker?.tags ?? oci?.tags ?? [],
    platform:
      variant === undefined
        ? { os: config.os, architecture: config.architecture }
        : { os: config.os, architecture: config.architecture, variant },
    config: {
      entrypoint: stringList(setting("Entrypoint")),
      cmd: stringList(setting("Cmd")),
      user: text(setting("User")),
      workingDir: text(setting("WorkingDir")),
      env: stringList(setting("Env")) ?? [],
      volumes: volumes !== null && typeof volumes === "object" ? Object.keys(volumes) : [],
    },
    layers,
    accounts: foldAccounts(layers.map((layer) => layer.accounts)),
    load: {
      config: sourceOf(pass, configPath),
      layers: layers.map((layer) => sourceOf(pass, layer.path)),
    },
    uncompressedBytes: layers.reduce((sum, layer) => sum + layer.uncompressedBytes, 0),
  };
}

/** The names a loader reads as the archive's own manifests. */
const MANIFEST_NAMES = ["manifest.json", "index.json", "oci-layout", "repositories"];

/** The image's account files once every layer has been applied, base first. */
function foldAccounts(layers: AccountFiles[]): { passwd: string | null; group: string | null } {
  const out = { passwd: null as string | null, group: null as string | null };
  for (const layer of layers) {
    if (layer.passwd !== undefined) out.passwd = layer.passwd;
    if (layer.group !== undefined) out.group = layer.group;
  }
  return out;
}

/** The regular file of the archive that holds `path` (itself, or what its link points to). */
function sourceOf(pass: Pass, path: string): string {
  return pass.links.get(path) ?? path;
}

function normal(path: string): string {
  return path
    .split("/")
    .filter((segment) => segment !== "" && segment !== ".")
    .join("/");
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

/** The entry a manifest names; refuses a name that is not in the archive. */
function entryOf(pass: Pass, path: string, by: string): OuterEntry {
  // A link to a link is not followed: Docker's links point at the first copy.
  const entry = pass.entries.get(pass.links.get(path) ?? path);
  if (entry === undefined) {
    throw refuseArchive(
      "missing_blob",
      pass.archiveName,
      path,
      `the ${by} names this file, but the archive does not hold it`,
      RESAVE,
    );
  }
  return entry;
}

/** The blob path of an OCI digest, after checking the blob is there and hashes to its name. */
function blobPath(pass: Pass, digest: string, by: string): string {
  const match = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!match) throw badManifest(pass, by, `${q(digest)} is not a sha256 digest`);
  const path = `blobs/sha256/${match[1]}`;
  const entry = entryOf(pass, path, by);
  if (entry.sha256 !== match[1]) {
    throw refuseArchive(
      "digest_mismatch",
      pass.archiveName,
      path,
      `the blob hashes to sha256:${entry.sha256}, not the digest it is named by`,
      RESAVE,
    );
  }
  return path;
}

/** Image manifests of an index, following nested indexes (one level, as multi-platform images have). */
function flattenIndex(pass: Pass, items: unknown[], by: string, depth: number): Descriptor[] {
  const out: Descriptor[] = [];
  for (const item of items) {
    const descriptor = descriptorOf(item);
    if (descriptor === undefined) throw badManifest(pass, by, "a manifest entry lacks its digest");
    if (descriptor.mediaType !== undefined && INDEX_TYPES.has(descriptor.mediaType)) {
      if (depth > 0) throw badManifest(pass, by, "indexes nest more than two levels deep");
      const path = blobPath(pass, descriptor.digest, by);
      const nested = field(readJson(pass, path), "manifests");
      if (!Array.isArray(nested)) throw badManifest(pass, path, "it lacks a manifests list");
      out.push(
        ...flattenIndex(pass, nested, path, depth + 1).map((d) => ({
          ...d,
          annotations: { ...descriptor.annotations, ...d.annotations },
        })),
      );
    } else out.push(descriptor);
  }
  return out;
}

/** An OCI descriptor's fields as the engine reads them; undefined without a digest. */
function descriptorOf(item: unknown): Descriptor | undefined {
  const digest = field(item, "digest");
  if (typeof digest !== "string") return undefined;
  const mediaType = field(item, "mediaType");
  const annotations = field(item, "annotations");
  return {
    digest,
    ...(typeof mediaType === "string" && { mediaType }),
    ...(annotations !== null &&
      typeof annotations === "object" && { annotations: annotations as Record<string, string> }),
  };
}

function readJson(pass: Pass, path: string): unknown {
  const entry = entryOf(pass, path, "manifest");
  if (entry.json === undefined) {
    if (entry.jsonDropped) {
      const limit = pass.limits.maxMetadataBytes;
      throw refuseArchive(
        "metadata_too_large",
        pass.archiveName,
        path,
        entry.bytes > limit
          ? `the file is ${formatBytes(entry.bytes)}, over the ${formatBytes(limit)} limit for a manifest or config`
          : `the archive's JSON files together are over ${formatBytes(4 * limit)}`,
        "keep the image's labels and history small, and save one image",
      );
    }
    throw badManifest(pass, path, "it is not JSON");
  }
  try {
    return parseImageJson(entry.json.toString("utf8"));
  } catch (error) {
    if (error instanceof DuplicateKeyError) {
      throw refuseArchive(
        "duplicate_key",
        pass.archiveName,
        path,
        `${error.message} (the engine reads keys without regard to case, and the last one wins)`,
        RESAVE,
      );
    }
    throw badManifest(pass, path, `it is not valid JSON (${(error as Error).message})`);
  }
}

function badManifest(pass: Pass, path: string, what: string): InvalidImageError {
  return refuseArchive("bad_manifest", pass.archiveName, path, what, RESAVE);
}

function noImage(pass: Pass, path: string): InvalidImageError {
  return refuseArchive("no_image", pass.archiveName, path, "it lists no image", RESAVE);
}

function multipleImages(pass: Pass, path: string, count: number): InvalidImageError {
  return refuseArchive(
    "multiple_images",
    pass.archiveName,
    path,
    `it holds ${count} images, and a submission is exactly one`,
    "save only your algorithm's image: docker save -o algorithm.tar <image> (one name, one platform: add --platform linux/amd64 if your engine stores several)",
  );
}
