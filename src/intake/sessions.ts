/**
 * Browser sessions of the gateway's pages: signing in with a participant or admin token makes a random
 * session id (32 bytes) that goes in an HttpOnly cookie; only its sha256 is stored, so a copy of the
 * database opens no session. A session lasts `ttlMs`, ends at sign-out (deleted), and ends at once when
 * its token is revoked (looked up with the token on every request).
 */
import { randomBytes } from "node:crypto";
import type { IntakeDb } from "./db.js";
import { sha256Hex, type TokenKind } from "./secrets.js";
import type { TokenRegistry } from "./tokens.js";

export interface SessionHolder {
  kind: Extract<TokenKind, "participant" | "admin">;
  holder: string;
  tokenId: string;
}

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export class Sessions {
  constructor(
    private readonly db: IntakeDb,
    private readonly registries: { participant: TokenRegistry; admin: TokenRegistry },
    private readonly clock: () => Date,
    readonly ttlMs = 7 * 24 * 3600_000,
  ) {}

  /** Signs in with a participant or admin token: the new session's id, or undefined for a bad token. */
  open(token: string): { id: string; who: SessionHolder } | undefined {
    const trimmed = token.trim();
    for (const kind of ["participant", "admin"] as const) {
      const who = this.registries[kind].authenticate(trimmed);
      if (!who) continue;
      const id = randomBytes(32).toString("base64url");
      const now = this.clock().getTime();
      this.db.deleteExpiredSessions(now);
      this.db.insertSession({
        idSha256: sha256Hex(id),
        tokenId: who.tokenId,
        createdAtMs: now,
        expiresAtMs: now + this.ttlMs,
      });
      return { id, who: { kind, holder: who.holder, tokenId: who.tokenId } };
    }
    return undefined;
  }

  /** Who a session cookie belongs to, or undefined (malformed, unknown, expired, signed out, revoked). */
  lookup(id: string | undefined): SessionHolder | undefined {
    if (id === undefined || !SESSION_ID.test(id)) return undefined;
    const token = this.db.sessionToken(sha256Hex(id), this.clock().getTime());
    if (!token || (token.kind !== "participant" && token.kind !== "admin")) return undefined;
    return { kind: token.kind, holder: token.holder, tokenId: token.id };
  }

  /** Ends a session (sign-out); unknown ids are ignored. */
  close(id: string | undefined): void {
    if (id !== undefined && SESSION_ID.test(id)) this.db.deleteSession(sha256Hex(id));
  }
}
