/**
 * The intake's secrets: submission ids and bearer tokens. Every comparison of a secret is constant-time
 * (`timingSafeEqual` on equal-length digests); only lengths and well-formedness, which are public, are
 * checked before.
 *
 * - Submission ids are generated here (16 random bytes, base64url, prefixed `sub-`), never taken from a
 *   user: they double as file names in storage, so a path can never be smuggled in.
 * - Tokens are `<prefix>_<id: 12 hex>_<secret: 32 random bytes, base64url>`, with prefix `pct` for a
 *   participant and `prc` for a runner credential. Only sha256(secret) is stored; the id is looked up,
 *   then the digests are compared in constant time. The prefix tells the kinds apart before any lookup,
 *   and the stored kind must match it: a runner credential never opens a participant route, nor the
 *   reverse.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export type TokenKind = "participant" | "runner" | "admin";

const PREFIX: Record<TokenKind, string> = { participant: "pct", runner: "prc", admin: "pad" };
const TOKEN_PATTERN = /^(pct|prc|pad)_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const DIGEST_PATTERN = /^[0-9a-f]{64}$/;

export function newSubmissionId(): string {
  return `sub-${randomBytes(16).toString("base64url")}`;
}

/** A claim's token (gateway-api/claims.ts): only its sha256 is stored, as the fence of the claimed attempt. */
export function newClaimToken(): string {
  return `clm_${randomBytes(32).toString("base64url")}`;
}

export function sha256Hex(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Constant-time equality of two lowercase-hex digests (false when either is malformed or lengths differ). */
export function digestsEqual(a: string, b: string): boolean {
  if (!DIGEST_PATTERN.test(a) || !DIGEST_PATTERN.test(b)) return false;
  return timingSafeEqual(Buffer.from(a, "hex"), Buffer.from(b, "hex"));
}

export interface NewToken {
  id: string;
  /** The whole token: shown once, never stored. */
  token: string;
  /** sha256 (hex) of the token's secret part: what is stored. */
  secretSha256: string;
}

export function newToken(kind: TokenKind): NewToken {
  const id = randomBytes(6).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  return { id, token: `${PREFIX[kind]}_${id}_${secret}`, secretSha256: sha256Hex(secret) };
}

/** Splits a presented token into its kind, id and the sha256 of its secret; undefined when malformed. */
export function parseToken(token: string): { kind: TokenKind; id: string; secretSha256: string } | undefined {
  const match = TOKEN_PATTERN.exec(token);
  if (!match) return undefined;
  return {
    kind: match[1] === "prc" ? "runner" : match[1] === "pad" ? "admin" : "participant",
    id: match[2]!,
    secretSha256: sha256Hex(match[3]!),
  };
}
