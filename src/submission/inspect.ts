import { sha256Fd } from "./hash.js";
import { resolveLimits, type ZipLimits } from "./limits.js";
import type { Entrypoint } from "./rules.js";
import { openArchive, readPlan, type OpenArchive } from "./zip.js";

/** What inspection and extraction both report. */
export interface SubmissionSummary {
  /** SHA-256 of the zip file, lowercase hex. */
  sha256: string;
  zipBytes: number;
  entrypoint: Entrypoint;
  /** Regular files that are (or would be) written; junk (`__MACOSX/`, `.DS_Store`) left out. */
  files: number;
  /** Their total uncompressed size. */
  totalBytes: number;
}

export interface InspectedSubmission extends SubmissionSummary {
  /** "" when main.* is at the top of the zip, else "<single top folder>/". */
  rootPrefix: string;
}

/**
 * Runs every rule on the zip's central directory without writing anything (for an upload gateway).
 * Throws InvalidSubmissionError naming the entry and the rule at the first refusal. Sizes are checked as
 * declared; only extraction can catch data that lies about its size.
 */
export async function inspectSubmission(
  zipPath: string,
  limits?: Partial<ZipLimits>,
  options: { /** How messages name the zip; default its file name. */ name?: string } = {},
): Promise<InspectedSubmission> {
  const archive = await openArchive(zipPath, resolveLimits(limits), options.name);
  try {
    const { result: plan, sha256 } = await withHash(archive, () => readPlan(archive));
    return {
      sha256,
      zipBytes: archive.zipBytes,
      rootPrefix: plan.rootPrefix,
      entrypoint: plan.entrypoint,
      files: plan.files.length,
      totalBytes: plan.totalBytes,
    };
  } finally {
    archive.close();
  }
}

/**
 * Runs `work` while the zip is hashed alongside (by positional reads on the same descriptor). Both settle
 * before this returns or throws: a failure of `work` stops the hashing, since the descriptor must be idle
 * before it is closed.
 */
export async function withHash<T>(
  archive: OpenArchive,
  work: () => Promise<T>,
): Promise<{ result: T; sha256: string }> {
  const abort = new AbortController();
  const hashing = sha256Fd(archive.fd, abort.signal);
  try {
    const result = await work();
    return { result, sha256: await hashing };
  } catch (error) {
    abort.abort();
    await hashing.catch(() => undefined);
    throw error;
  }
}
