/**
 * Identifiers and secrets of the intake: submission ids, participant tokens, signed download URLs and
 * per-submission result tokens. Every comparison of a secret is constant-time (`timingSafeEqual` on
 * equal-length digests); only lengths and well-formedness, which are public, are checked before.
 *
 * - Submission ids are generated here (16 random bytes, base64url, prefixed `sub-`), never taken from a
 *   user: they double as file names in storage, so a path can never be smuggled in.
 * - Participant tokens are `pct_<id: 12 hex>_<secret: 32 random bytes, base64url>`. Only sha256(secret)
 *   is stored; the id is looked up, then the digests are compared in constant time.
 * - Download URLs carry `expires` (unix seconds) and `signature` = HMAC-SHA256(url key, id "\n" expires).
 * - Result tokens are `prt_` + base64url(HMAC-SHA256(result key, id "\n" attempt)): one per submission
 *   and attempt, so a re-sent dispatch carries the same token and a new attempt gets a new one. Only
 *   sha256(token) is stored.
 * The url and result keys are derived from the server secret (HMAC with distinct labels), so one secret
 * configures the server and neither use can be turned into the other.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const SUBMISSION_ID_PATTERN = /^sub-[A-Za-z0-9_-]{22}$/;
export const TOKEN_ID_PATTERN = /^[0-9a-f]{12}$/;
const TOKEN_PATTERN = /^pct_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const SIGNATURE_PATTERN = /^[0-9a-f]{64}$/;
const EXPIRES_PATTERN = /^[1-9][0-9]{0,11}$/;

/** The server secret must carry at least this many bytes (256 bits). */
export const MIN_SECRET_BYTES = 32;

export function newSubmissionId(): string {
  return `sub-${randomBytes(16).toString("base64url")}`;
}

export function isSubmissionId(value: unknown): value is string {
  return typeof value === "string" && SUBMISSION_ID_PATTERN.test(value);
}

export function sha256Hex(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Constant-time equality of two lowercase-hex digests (false when either is malformed or lengths differ). */
export function digestsEqual(a: string, b: string): boolean {
  if (!SIGNATURE_PATTERN.test(a) || !SIGNATURE_PATTERN.test(b)) return false;
  return timingSafeEqual(Buffer.from(a, "hex"), Buffer.from(b, "hex"));
}

// ---- participant tokens ---------------------------------------------------------------------------

export interface NewToken {
  id: string;
  /** The whole token: shown once, never stored. */
  token: string;
  /** sha256 (hex) of the token's secret part: what is stored. */
  secretSha256: string;
}

export function newParticipantToken(): NewToken {
  const id = randomBytes(6).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  return { id, token: `pct_${id}_${secret}`, secretSha256: sha256Hex(secret) };
}

/** Splits a presented token into its id and the sha256 of its secret; undefined when malformed. */
export function parseParticipantToken(token: string): { id: string; secretSha256: string } | undefined {
  const match = TOKEN_PATTERN.exec(token);
  if (!match) return undefined;
  return { id: match[1]!, secretSha256: sha256Hex(match[2]!) };
}

/** The bearer credential of an `Authorization` header, or undefined. */
export function bearer(header: string | undefined): string | undefined {
  if (typeof header !== "string") return undefined;
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return match?.[1];
}

// ---- the server's keys ----------------------------------------------------------------------------

export class SecretError extends Error {
  override name = "SecretError";
}

export interface ServerKeys {
  urlKey: Buffer;
  resultKey: Buffer;
}

export function deriveKeys(secret: string | Buffer): ServerKeys {
  const bytes = typeof secret === "string" ? Buffer.from(secret, "utf8") : secret;
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new SecretError(
      `the server secret is ${bytes.length} bytes; it must be at least ${MIN_SECRET_BYTES} random bytes ` +
        `(e.g. \`openssl rand -hex 32\`)`,
    );
  }
  const derive = (label: string) => createHmac("sha256", bytes).update(label).digest();
  return {
    urlKey: derive("proctor.intake/url-signing/v1"),
    resultKey: derive("proctor.intake/result-token/v1"),
  };
}

// ---- signed download URLs -------------------------------------------------------------------------

export function signDownload(keys: ServerKeys, id: string, expiresUnixS: number): string {
  return createHmac("sha256", keys.urlKey).update(`${id}\n${expiresUnixS}`).digest("hex");
}

export type SignatureCheck = "ok" | "invalid" | "expired";

/**
 * Checks a download link's `expires` and `signature` (as they came in the query). The signature is
 * compared in constant time, before the expiry, so a forged link never learns whether it has expired.
 */
export function checkDownloadSignature(
  keys: ServerKeys,
  id: string,
  expires: unknown,
  signature: unknown,
  now: Date,
): SignatureCheck {
  if (typeof expires !== "string" || !EXPIRES_PATTERN.test(expires)) return "invalid";
  if (typeof signature !== "string" || !SIGNATURE_PATTERN.test(signature)) return "invalid";
  const expected = signDownload(keys, id, Number(expires));
  if (!digestsEqual(expected, signature)) return "invalid";
  return Number(expires) * 1000 < now.getTime() ? "expired" : "ok";
}

// ---- result tokens --------------------------------------------------------------------------------

export function resultToken(keys: ServerKeys, id: string, attempt: number): string {
  return `prt_${createHmac("sha256", keys.resultKey).update(`${id}\n${attempt}`).digest("base64url")}`;
}
