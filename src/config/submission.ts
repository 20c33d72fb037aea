/**
 * competition.yml's `submission:` section: what participants submit. `kind: zip` (the default) is a zip run
 * inside the competition's shared runtime image (DrivenData's model); `kind: image` is the participant's
 * own image, saved with `docker save` (Grand Challenge's model), with its caps, where the container reads
 * its inputs and writes its outputs, the runner's platform and an optional allow-list of base images.
 *
 * ```yaml
 * submission:
 *   kind: image
 *   image:
 *     max_size: 2g              # the archive as uploaded (algorithm.tar or algorithm.tar.gz)
 *     max_uncompressed: 10g     # its layers uncompressed, together
 *     max_layer: 10g            # one layer uncompressed
 *     max_layers: 127
 *     max_ratio: 200            # gzip expansion, beyond which an archive or layer is a bomb
 *     input_dir: /input         # test data, read-only
 *     output_dir: /output       # where the predictions file goes
 *     platform: linux/amd64     # what the runners run
 *     allowed_base_images: []   # e.g. [python:3.11-slim]; empty: any base
 *     contract: plain           # plain: one run over the whole input folder; grand-challenge: one per case
 *     case_time: 5m             # grand-challenge: each case's time limit (limits.time bounds the whole set)
 *     max_model: 2g             # grand-challenge: the model tarball (model.tar.gz) as uploaded
 *     max_model_uncompressed: 10g
 *     outputs: { rfs: rfs.json } # grand-challenge: the format's column -> the output file holding its value
 *                               #   (default: <column>.json for every column but the id)
 *     inputs:                   # grand-challenge: the phase's input sockets, as inputs.json names them
 *       - { slug: ct-image, relative_path: images/ct, kind: Image }
 * ```
 *
 * Grand Challenge's contract (`contract: grand-challenge`): the data folder holds one folder per case
 * (`<data_dir>/<case id>/`, each with its inputs at their relative paths); the image runs once per case with
 * the case's inputs and an `inputs.json` describing them at `input_dir`, the participant's model tarball
 * extracted read-only at /opt/ml/model, and writes one file per output socket in `output_dir`. The values
 * are collected into one predictions table (the id column is the case id), which the format describes.
 */
import path from "node:path";
import { z } from "zod";
import { DEFAULT_PLATFORM, type ImageLimits, type Platform } from "../submission/image-rules.js";
import { durationField as duration, sizeField as size } from "../yaml/index.js";

const positiveInt = z.number().int("must be a whole number").positive("must be at least 1");

/** Folders the container needs for itself: inputs and outputs may not be mounted over them. */
const RESERVED = [
  "/",
  "/bin",
  "/dev",
  "/etc",
  "/lib",
  "/lib64",
  "/proc",
  "/sbin",
  "/sys",
  "/tmp",
  "/usr",
  "/var",
];

const containerDir = z.string().superRefine((dir, ctx) => {
  if (!dir.startsWith("/") || path.posix.normalize(dir) !== dir || dir.endsWith("/")) {
    ctx.addIssue({
      code: "custom",
      message: `must be an absolute, normalised folder in the container like /input, got ${JSON.stringify(dir)}`,
    });
  } else if (
    RESERVED.includes(dir) ||
    dir.startsWith("/proc/") ||
    dir.startsWith("/sys/") ||
    dir.startsWith("/dev/")
  ) {
    ctx.addIssue({
      code: "custom",
      message: `must not be ${JSON.stringify(dir)}, which the container needs for itself; use a folder of its own like /input or /output`,
    });
  }
});

/** A file inside the output folder, e.g. rfs.json or images/mask.json. */
const outputFile = relativePath("a normalised file path inside the output folder, like rfs.json");
/** Where an input lies in a case folder (and in the input folder), e.g. images/ct or clinical-information.json. */
const inputPath = relativePath(
  "a normalised path inside a case folder, like images/ct or clinical-information.json",
);

function relativePath(what: string) {
  return z.string().superRefine((file, ctx) => {
    const normal = path.posix.normalize(file);
    if (
      file.startsWith("/") ||
      file.includes("\\") ||
      normal !== file ||
      file.endsWith("/") ||
      normal === "." ||
      normal.split("/").includes("..")
    ) {
      ctx.addIssue({ code: "custom", message: `must be ${what}, got ${JSON.stringify(file)}` });
    }
  });
}

/**
 * One input socket as the phase defines it on Grand Challenge: the algorithm finds its inputs by these
 * slugs in inputs.json (the forge's example looks its handler up by them), so they must be the platform's.
 */
const inputSocket = z
  .object({
    slug: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9_-]*$/,
        "must be a socket's slug as Grand Challenge writes it: lowercase letters, digits, - and _, like ct-image",
      ),
    relative_path: inputPath,
    kind: z.string().min(1, "must name the socket's kind, like Image or Anything").optional(),
    super_kind: z.enum(["Image", "File", "Value"]).optional(),
  })
  .strict();

const PLATFORM = /^([a-z0-9]+)\/([a-z0-9_]+)(?:\/([a-z0-9]+))?$/;

const imageSchema = z
  .object({
    max_size: size.optional(),
    max_uncompressed: size.optional(),
    max_layer: size.optional(),
    max_layers: positiveInt.optional(),
    max_ratio: z.number().positive("must be more than 0").optional(),
    input_dir: containerDir.default("/input"),
    output_dir: containerDir.default("/output"),
    platform: z
      .string()
      .regex(PLATFORM, "must be os/architecture[/variant], like linux/amd64 or linux/arm64/v8")
      .default(`${DEFAULT_PLATFORM.os}/${DEFAULT_PLATFORM.architecture}`),
    /** Image references (repository[:tag][@digest]); the image's first layers must be one of them. */
    allowed_base_images: z
      .array(
        z
          .string()
          .regex(/^[^\s@]+(@sha256:[0-9a-f]{64})?$/, "must be an image reference like python:3.11-slim"),
      )
      .default([]),
    contract: z.enum(["plain", "grand-challenge"]).default("plain"),
    case_time: duration.optional(),
    max_model: size.optional(),
    max_model_uncompressed: size.optional(),
    outputs: z.record(z.string().min(1), outputFile).optional(),
    inputs: z.array(inputSocket).optional(),
  })
  .strict()
  .superRefine((image, ctx) => {
    for (const key of ["slug", "relative_path"] as const) {
      const seen = new Set<string>();
      for (const [index, socket] of (image.inputs ?? []).entries()) {
        if (seen.has(socket[key]))
          ctx.addIssue({
            code: "custom",
            path: ["inputs", index, key],
            message: `${JSON.stringify(socket[key])} names two input sockets; give each socket its own ${key}`,
          });
        seen.add(socket[key]);
      }
    }
    if (image.contract === "plain") {
      for (const key of ["case_time", "max_model", "max_model_uncompressed", "outputs", "inputs"] as const) {
        if (image[key] !== undefined)
          ctx.addIssue({
            code: "custom",
            path: [key],
            message: "only applies to contract: grand-challenge; set contract: grand-challenge, or remove it",
          });
      }
    }
    const inside = (a: string, b: string): boolean => a === b || a.startsWith(`${b}/`);
    if (inside(image.input_dir, image.output_dir) || inside(image.output_dir, image.input_dir)) {
      ctx.addIssue({
        code: "custom",
        path: ["output_dir"],
        message: `must not overlap input_dir (${image.input_dir}): the inputs are read-only, the outputs writable; use two separate folders`,
      });
    }
  });

export const submissionSchema = z
  .object({
    kind: z.enum(["zip", "image"]).default("zip"),
    image: imageSchema.optional(),
  })
  .strict()
  .superRefine((submission, ctx) => {
    if (submission.kind === "zip" && submission.image !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["image"],
        message: "only applies to kind: image; set kind: image, or remove the image section",
      });
    }
  })
  .prefault({});

/** Where and how a participant's own image runs. */
export interface ImageSubmission {
  /** Caps for inspectImageArchive; unset ones take DEFAULT_IMAGE_LIMITS. */
  limits: Partial<ImageLimits>;
  inputDir: string;
  outputDir: string;
  platform: Platform;
  /** Empty: any base image. */
  allowedBaseImages: string[];
  /** Grand Challenge's per-case contract; absent: one run over the whole input folder. */
  perCase?: PerCaseContract;
}

/** How an image runs once per case (Grand Challenge's contract). */
export interface PerCaseContract {
  /** Each case's time limit; unset: the whole set's (limits.time), which bounds all cases together. */
  caseTimeMs?: number;
  /** Caps of the model tarball: as uploaded, and extracted. */
  maxModelBytes: number;
  maxModelUncompressedBytes: number;
  /** A format column -> the output file (relative to the output folder) holding its value; unset: <column>.json. */
  outputs: Record<string, string>;
  /**
   * The phase's input sockets, as inputs.json names them; unset, or an input none describes: its slug is
   * its file or folder name, its kind what it holds.
   */
  inputs?: InputSocket[];
}

/** An input socket of the phase: its slug, where its value lies in a case folder, its kind. */
export interface InputSocket {
  slug: string;
  relativePath: string;
  kind?: string;
  superKind?: "Image" | "File" | "Value";
}

export const DEFAULT_MODEL_LIMITS = {
  maxModelBytes: 2 * 1024 ** 3,
  maxModelUncompressedBytes: 10 * 1024 ** 3,
};

/**
 * The folders the platform mounts in a participant's image that no VOLUME of the image may overlap. (/tmp
 * is a tmpfs already: a VOLUME there, as many images declare, changes nothing.)
 */
export function imageMountFolders(image: Pick<ImageSubmission, "inputDir" | "outputDir">): string[] {
  return [image.inputDir, image.outputDir];
}

export type SubmissionKind = { kind: "zip" } | { kind: "image"; image: ImageSubmission };

export function resolveSubmission(parsed: z.output<typeof submissionSchema>): SubmissionKind {
  if (parsed.kind === "zip") return { kind: "zip" };
  const image = imageSchema.parse({});
  const i = parsed.image ?? image;
  const [, os, architecture, variant] = PLATFORM.exec(i.platform)!;
  return {
    kind: "image",
    image: {
      limits: {
        ...(i.max_size !== undefined && { maxArchiveBytes: i.max_size }),
        ...(i.max_uncompressed !== undefined && { maxUncompressedBytes: i.max_uncompressed }),
        ...(i.max_layer !== undefined && { maxLayerBytes: i.max_layer }),
        ...(i.max_layers !== undefined && { maxLayers: i.max_layers }),
        ...(i.max_ratio !== undefined && { maxCompressionRatio: i.max_ratio }),
      },
      inputDir: i.input_dir,
      outputDir: i.output_dir,
      platform:
        variant === undefined
          ? { os: os!, architecture: architecture! }
          : { os: os!, architecture: architecture!, variant },
      allowedBaseImages: i.allowed_base_images,
      ...(i.contract === "grand-challenge" && {
        perCase: {
          ...(i.case_time !== undefined && { caseTimeMs: i.case_time }),
          maxModelBytes: i.max_model ?? DEFAULT_MODEL_LIMITS.maxModelBytes,
          maxModelUncompressedBytes:
            i.max_model_uncompressed ?? DEFAULT_MODEL_LIMITS.maxModelUncompressedBytes,
          outputs: i.outputs ?? {},
          ...(i.inputs && {
            inputs: i.inputs.map((socket) => ({
              slug: socket.slug,
              relativePath: socket.relative_path,
              ...(socket.kind !== undefined && { kind: socket.kind }),
              ...(socket.super_kind !== undefined && { superKind: socket.super_kind }),
            })),
          }),
        },
      }),
    },
  };
}
