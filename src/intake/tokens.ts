/**
 * Participant tokens: made by the organizer (`proctor tokens add <participant>`), shown once, stored as
 * sha256 of their secret part, revocable at once (the server reads the table on every request).
 */
import type { IntakeDb, TokenRecord } from "./db.js";
import { digestsEqual, newParticipantToken, parseParticipantToken } from "./secrets.js";

/** Participant names: 1 to 100 characters, no control characters, no surrounding spaces. */
const PARTICIPANT = /^[^\s\p{Cc}](?:[^\p{Cc}]{0,98}[^\s\p{Cc}])?$/u;

export class TokenError extends Error {
  override name = "TokenError";
}

export function checkParticipantName(name: string): string {
  if (!PARTICIPANT.test(name)) {
    throw new TokenError(
      `participant ${JSON.stringify(name)} is not a valid name: use 1 to 100 characters without control ` +
        `characters or leading/trailing spaces (e.g. a GitHub login or a team name)`,
    );
  }
  return name;
}

export interface IssuedToken {
  id: string;
  participant: string;
  createdAt: string;
  /** The bearer token: give it to the participant; it cannot be shown again. */
  token: string;
}

export interface TokenSummary {
  id: string;
  participant: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface Authenticated {
  tokenId: string;
  participant: string;
}

export class TokenRegistry {
  constructor(
    private readonly db: IntakeDb,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  add(participant: string): IssuedToken {
    checkParticipantName(participant);
    const fresh = newParticipantToken();
    const createdAt = this.clock().toISOString();
    this.db.insertToken({
      id: fresh.id,
      participant,
      secretSha256: fresh.secretSha256,
      createdAt,
      revokedAt: null,
    });
    return { id: fresh.id, participant, createdAt, token: fresh.token };
  }

  list(): TokenSummary[] {
    return this.db.listTokens().map(({ secretSha256: _secret, ...rest }) => rest);
  }

  /** Revokes a token by id; throws TokenError when there is no such live token. */
  revoke(id: string): TokenSummary {
    const token = this.db.getToken(id);
    if (!token)
      throw new TokenError(`no token with id ${JSON.stringify(id)}; \`proctor tokens list\` shows them`);
    if (token.revokedAt !== null)
      throw new TokenError(`token ${id} was already revoked at ${token.revokedAt}`);
    const at = this.clock().toISOString();
    this.db.revokeToken(id, at);
    return { id, participant: token.participant, createdAt: token.createdAt, revokedAt: at };
  }

  /** The participant a bearer token belongs to, or undefined (malformed, unknown, revoked, or wrong). */
  authenticate(presented: string | undefined): Authenticated | undefined {
    if (presented === undefined) return undefined;
    const parsed = parseParticipantToken(presented);
    if (!parsed) return undefined;
    const stored: TokenRecord | undefined = this.db.getToken(parsed.id);
    // Compare against a dummy digest when the id is unknown, so both paths do the same work.
    const ok = digestsEqual(stored?.secretSha256 ?? "0".repeat(64), parsed.secretSha256);
    if (!ok || !stored || stored.revokedAt !== null) return undefined;
    return { tokenId: stored.id, participant: stored.participant };
  }
}
