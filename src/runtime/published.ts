/**
 * The record of published runtime images (runtime/published.json, committed to main by the runtime
 * workflow's publish): for each pushed image its digest, the commit it was built from, its size, and the
 * digests of the lock it was installed from and of its SBOM, whether cosign signed it, and the models image
 * published beside it. A score's image and models digests lead here, so anyone can tell which packages and
 * models it ran with; a package PR's diff compares with the newest record's lock.
 */
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { z } from "zod";

/** Where the record lives, from the repository root. */
export const PUBLISHED_FILE = "runtime/published.json";
export const PUBLISHED_FORMAT = "proctor-published/1";

const SHA256 = /^[0-9a-f]{64}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

const fileDigest = z.strictObject({
  /** The file, from the repository root (the lock) or as the run's artifact names it (the SBOM). */
  path: z.string().min(1).max(300),
  sha256: z.string().regex(SHA256, "must be 64 hex digits"),
});

export const publishedImageSchema = z.strictObject({
  flavour: z.enum(["cpu", "gpu"]),
  /** The pushed reference (`<repository>:<flavour>-<commit>`), pull it with `@<digest>`. */
  image: z.string().min(1).max(300),
  digest: z.string().regex(DIGEST, "must be sha256:<64 hex digits>"),
  commit: z.string().regex(/^[0-9a-f]{40}$/, "must be a commit SHA"),
  publishedAt: z.iso.datetime(),
  sizeBytes: z.number().int().nonnegative().nullable(),
  lock: fileDigest,
  sbom: fileDigest.nullable(),
  /** `cosign` when the digest was signed with the repository's COSIGN_PRIVATE_KEY; null: not signed. */
  signedWith: z.literal("cosign").nullable(),
  /**
   * The models image published with it (runtime/models.yml at that commit): a score's models digest
   * leads here as its image digest does. Null where models.yml lists none; absent in older records.
   */
  models: z
    .strictObject({
      digest: z.string().regex(DIGEST, "must be sha256:<64 hex digits>"),
      image: z.string().min(1).max(300),
      files: z.number().int().nonnegative(),
    })
    .nullable()
    .optional(),
});
export type PublishedImage = z.output<typeof publishedImageSchema>;

const publishedFileSchema = z.strictObject({
  format: z.literal(PUBLISHED_FORMAT),
  /** Oldest first; each flavour's newest is the image `<flavour>-latest` points to. */
  images: z.array(publishedImageSchema),
});
export type PublishedFile = z.output<typeof publishedFileSchema>;

export class PublishedRecordError extends Error {
  override name = "PublishedRecordError";
}

/** Reads runtime/published.json; an empty record when the file does not exist yet (nothing published). */
export async function readPublished(file: string): Promise<PublishedFile> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { format: PUBLISHED_FORMAT, images: [] };
    throw error;
  }
  return parsePublished(text, file);
}

/** Parses the record's text; `file` names it in errors, with each problem's path and the fix. */
export function parsePublished(text: string, file: string): PublishedFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new PublishedRecordError(
      `${file} is not JSON (${(error as Error).message}); restore it from git history: the runtime workflow writes it`,
    );
  }
  const parsed = publishedFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`);
    throw new PublishedRecordError(
      `${file} is not a record of published images (${problems.join("; ")}); restore it from git history: the runtime workflow writes it`,
    );
  }
  return parsed.data;
}

/** The newest record of a flavour, or null when none was published. */
export function latestPublished(record: PublishedFile, flavour: "cpu" | "gpu"): PublishedImage | null {
  return record.images.findLast((image) => image.flavour === flavour) ?? null;
}

/** The records of an image digest (one per flavour it was published as). */
export function publishedByDigest(record: PublishedFile, digest: string): PublishedImage[] {
  return record.images.filter((image) => image.digest === digest);
}

/** Adds images to the record (a digest already recorded for its flavour is replaced in place). */
export function addPublished(record: PublishedFile, images: readonly PublishedImage[]): PublishedFile {
  const next = [...record.images];
  for (const image of images) {
    const at = next.findIndex((i) => i.digest === image.digest && i.flavour === image.flavour);
    if (at >= 0) next[at] = image;
    else next.push(image);
  }
  return { format: PUBLISHED_FORMAT, images: next };
}

/** The record as committed: two-space JSON and a final newline, so each publish is a small diff. */
export function serializePublished(record: PublishedFile): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

export async function writePublished(file: string, record: PublishedFile): Promise<void> {
  await writeFile(file, serializePublished(record));
}

/** sha256 of a file's bytes (the lock's, the SBOM's), as the record keeps it. */
export async function sha256File(file: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(file))
    .digest("hex");
}
