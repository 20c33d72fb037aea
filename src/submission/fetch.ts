import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { RunStatus } from "../status/index.js";

export interface FetchOptions {
  maxBytes: number;
  /** Expected sha256 (lowercase hex); the download is refused when it differs. */
  sha256?: string;
  timeoutMs?: number;
  maxRedirects?: number;
  /** Sent with the request (e.g. a credential), and with redirects only while they stay on its origin. */
  headers?: Record<string, string>;
}

/**
 * A download that did not give us the submission. Too large is the participant's (`invalid_submission`);
 * anything else (network, HTTP error, a digest that differs from the one recorded at submission) is the
 * platform's (`infrastructure_error`, retryable).
 */
export class SubmissionFetchError extends Error {
  override name = "SubmissionFetchError";
  constructor(
    readonly status: Extract<RunStatus, "invalid_submission" | "infrastructure_error">,
    message: string,
    /** The HTTP status of a refused download (404: nothing there). */
    readonly httpStatus?: number,
  ) {
    super(message);
  }
}

/** Redacts query strings (signatures) from URLs shown in messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.search ? `${parsed.origin}${parsed.pathname}?…` : `${parsed.origin}${parsed.pathname}`;
  } catch {
    return "(not a URL)";
  }
}

/**
 * Downloads a submission zip to `dest`: redirects followed (bounded, http(s) only), the size capped while
 * streaming (never written past the cap), the sha256 computed on the way and checked. Nothing is left at
 * `dest` on failure.
 */
export async function downloadSubmission(
  url: string,
  dest: string,
  options: FetchOptions,
): Promise<{ sha256: string; bytes: number }> {
  const shown = redactUrl(url);
  let current = url;
  let response: Response | undefined;
  const signal = AbortSignal.timeout(options.timeoutMs ?? 10 * 60_000);
  const origin = new URL(url).origin;
  for (let hop = 0; hop <= (options.maxRedirects ?? 5); hop++) {
    const protocol = new URL(current).protocol;
    if (protocol !== "https:" && protocol !== "http:") {
      throw new SubmissionFetchError(
        "infrastructure_error",
        `submission URL ${redactUrl(current)} is not http(s)`,
      );
    }
    try {
      const sameOrigin = new URL(current).origin === origin;
      response = await fetch(current, {
        redirect: "manual",
        signal,
        ...(sameOrigin && options.headers && { headers: options.headers }),
      });
    } catch (error) {
      throw new SubmissionFetchError(
        "infrastructure_error",
        `downloading ${shown} failed: ${(error as Error).message}`,
      );
    }
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      current = new URL(location, current).toString();
      continue;
    }
    break;
  }
  if (!response || (response.status >= 300 && response.status < 400)) {
    throw new SubmissionFetchError("infrastructure_error", `downloading ${shown}: too many redirects`);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new SubmissionFetchError(
      "infrastructure_error",
      `downloading ${shown}: HTTP ${response.status} ${response.statusText}`,
      response.status,
    );
  }
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > options.maxBytes) {
    await response.body.cancel();
    throw tooLarge(shown, options.maxBytes);
  }

  const hash = createHash("sha256");
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > options.maxBytes) return done(tooLarge(shown, options.maxBytes));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.fromWeb(response.body as never),
      meter,
      createWriteStream(dest, { flags: "wx", mode: 0o600 }),
    );
  } catch (error) {
    await rm(dest, { force: true });
    if (error instanceof SubmissionFetchError) throw error;
    throw new SubmissionFetchError(
      "infrastructure_error",
      `downloading ${shown} failed: ${(error as Error).message}`,
    );
  }
  const sha256 = hash.digest("hex");
  if (options.sha256 && sha256 !== options.sha256.toLowerCase()) {
    await rm(dest, { force: true });
    throw new SubmissionFetchError(
      "infrastructure_error",
      `downloaded ${shown} has sha256 ${sha256}, not the ${options.sha256} recorded at submission; refusing to run it`,
    );
  }
  return { sha256, bytes };
}

function tooLarge(shown: string, maxBytes: number): SubmissionFetchError {
  return new SubmissionFetchError(
    "invalid_submission",
    `the submission at ${shown} is larger than the ${Math.round(maxBytes / 1024 ** 2)} MiB limit; make the zip smaller`,
  );
}
