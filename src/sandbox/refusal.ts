import { cutText } from "../units/index.js";
import { EngineError, HOST_FAULT } from "./engine.js";

/**
 * The engine refused to create or start a participant's own image because of what the image asks for (a
 * relative WORKDIR, a VOLUME over /proc or /dev, a USER or group it lacks): the participant's to fix, so
 * `invalid_submission`, counted. Never thrown for the platform's own images.
 */
export class ImageRefusedError extends Error {
  readonly status = "invalid_submission" as const;
  override name = "ImageRefusedError";
}

/** Longest part of the engine's message a reason repeats (it names paths and names from the image). */
const MAX_ECHO_CHARS = 300;

/** The engine's refusals that name the image's own users and groups (an HTTP 500 where Docker 20.10 answers). */
const IMAGE_ACCOUNTS = /unable to find (user|group)|no matching entries in (passwd|group) file/i;

/**
 * What setting the container up met on the image's own paths (an HTTP 500 on Docker 20.10): a WORKDIR that
 * is a file of the image, or a folder to make through the image's symbolic link into a read-only mount. The
 * paths are the container's, never the host's (those are under the engine's /var/lib/docker), so a
 * "read-only file system" here is the container's, not a host fault.
 */
const IMAGE_PATHS =
  /Cannot mkdir: .+ is not a directory|error during container init: (mkdir|chdir|mount) (?!\/var\/lib\/docker)[^:]*: (not a directory|read-only file system|no such file or directory)/i;

/**
 * The refusal as the participant's ImageRefusedError when the engine's answer says it is the image's doing:
 * an HTTP 400 (the engine's "bad parameter", which it also answers for an OCI runtime that cannot set the
 * container up as the image asks) or a USER/group the image lacks, unless the message is a fault of the host
 * (disk full, out of memory, the engine's own connection). Anything else, and any error that is not the
 * engine's answer (unreachable, a runtime or GPU that is not there), stays the platform's: null.
 */
export function imageRefusal(error: unknown, doing: string): ImageRefusedError | null {
  if (!(error instanceof EngineError)) return null;
  const answer = error.cause as { statusCode?: number; json?: { message?: string }; message?: string };
  const status = answer?.statusCode;
  const message = answer?.json?.message ?? answer?.message ?? "";
  if (!status) return null;
  const imagePaths = IMAGE_PATHS.test(message);
  if (!imagePaths && HOST_FAULT.test(message)) return null;
  if (status !== 400 && !(status === 500 && (imagePaths || IMAGE_ACCOUNTS.test(message)))) return null;
  const shown = cutText(message, MAX_ECHO_CHARS);
  return new ImageRefusedError(
    `the Docker engine refused ${doing} the image as its configuration asks (HTTP ${status}): ${JSON.stringify(shown)}; ` +
      "the image's WORKDIR must be an absolute path to a folder it can have, its VOLUMEs must not cover /proc, /sys " +
      "or /dev, and its USER must exist in its /etc/passwd and /etc/group: fix the image's configuration and " +
      "submit it again",
    { cause: error },
  );
}
