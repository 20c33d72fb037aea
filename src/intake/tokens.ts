/**
 * Bearer tokens of the two kinds the gateway knows, made by the organizer and shown once:
 * - participant tokens (`proctor tokens add <participant>`): upload and read one's own submissions;
 * - runner credentials (`proctor runners add <runner>`): kept as a repository secret, they download zips
 *   and report results, and open nothing else;
 * - admin tokens (`proctor admins add <organizer>`): the organizer's page on the gateway.
 * Stored as sha256 of their secret part, revocable at once (the server reads the table on every request).
 */
import type { IntakeDb, TokenRecord } from "./db.js";
import { digestsEqual, newToken, parseToken, type TokenKind } from "./secrets.js";

/** Holder names: 1 to 100 characters, no control characters, no surrounding spaces. */
const HOLDER = /^[^\s\p{Cc}](?:[^\p{Cc}]{0,98}[^\s\p{Cc}])?$/u;

export class TokenError extends Error {
  override name = "TokenError";
}

const NOUN: Record<TokenKind, { holder: string; example: string; command: string }> = {
  participant: { holder: "participant", example: "a GitHub login or a team name", command: "tokens" },
  runner: { holder: "runner", example: "the runner's host name, e.g. gpu-1", command: "runners" },
  admin: { holder: "organizer", example: "the organizer's name, e.g. alice", command: "admins" },
};

export function checkHolderName(name: string, kind: TokenKind = "participant"): string {
  if (!HOLDER.test(name)) {
    throw new TokenError(
      `${NOUN[kind].holder} ${JSON.stringify(name)} is not a valid name: use 1 to 100 characters without ` +
        `control characters or leading/trailing spaces (e.g. ${NOUN[kind].example})`,
    );
  }
  return name;
}

export interface IssuedToken {
  id: string;
  holder: string;
  createdAt: string;
  /** The bearer token: give it to its holder; it cannot be shown again. */
  token: string;
}

export interface TokenSummary {
  id: string;
  holder: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface Authenticated {
  tokenId: string;
  /** The participant's name, or the runner's. */
  holder: string;
}

export class TokenRegistry {
  constructor(
    private readonly db: IntakeDb,
    readonly kind: TokenKind,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  add(holder: string): IssuedToken {
    checkHolderName(holder, this.kind);
    const fresh = newToken(this.kind);
    const createdAt = this.clock().toISOString();
    this.db.insertToken({
      id: fresh.id,
      kind: this.kind,
      holder,
      secretSha256: fresh.secretSha256,
      createdAt,
      revokedAt: null,
    });
    return { id: fresh.id, holder, createdAt, token: fresh.token };
  }

  list(): TokenSummary[] {
    return this.db.listTokens(this.kind).map(({ secretSha256: _secret, kind: _kind, ...rest }) => rest);
  }

  /** Revokes a token by id; throws TokenError when there is no such live token of this kind. */
  revoke(id: string): TokenSummary {
    const token = this.db.getToken(id);
    const list = `\`proctor ${NOUN[this.kind].command} list\` shows them`;
    if (!token || token.kind !== this.kind)
      throw new TokenError(`no ${NOUN[this.kind].holder} token with id ${JSON.stringify(id)}; ${list}`);
    if (token.revokedAt !== null)
      throw new TokenError(`token ${id} was already revoked at ${token.revokedAt}`);
    const at = this.clock().toISOString();
    this.db.revokeToken(id, at);
    return { id, holder: token.holder, createdAt: token.createdAt, revokedAt: at };
  }

  /** Who a bearer token belongs to, or undefined (malformed, unknown, revoked, another kind, or wrong). */
  authenticate(presented: string | undefined): Authenticated | undefined {
    if (presented === undefined) return undefined;
    const parsed = parseToken(presented);
    if (!parsed || parsed.kind !== this.kind) return undefined;
    const stored: TokenRecord | undefined = this.db.getToken(parsed.id);
    // Compare against a dummy digest when the id is unknown, so both paths do the same work.
    const ok = digestsEqual(stored?.secretSha256 ?? "0".repeat(64), parsed.secretSha256);
    if (!ok || !stored || stored.revokedAt !== null || stored.kind !== this.kind) return undefined;
    return { tokenId: stored.id, holder: stored.holder };
  }
}
