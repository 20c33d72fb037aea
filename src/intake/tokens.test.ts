import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IntakeDb } from "./db.js";
import { TokenError, TokenRegistry } from "./tokens.js";

let dir: string;
let db: IntakeDb;
let registry: TokenRegistry;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-tokens-"));
  db = new IntakeDb(path.join(dir, "intake.sqlite"));
  registry = new TokenRegistry(db, "participant", () => new Date("2025-03-01T12:00:00Z"));
});
afterAll(async () => {
  db.close();
  await rm(dir, { recursive: true, force: true });
});

describe("TokenRegistry", () => {
  it("issues a token once, authenticates it, lists it without the secret, and revokes it", async () => {
    const issued = registry.add("Team Rocket");
    expect(registry.authenticate(issued.token)).toEqual({ tokenId: issued.id, holder: "Team Rocket" });
    const listed = registry.list().find((t) => t.id === issued.id)!;
    expect(listed).toEqual({
      id: issued.id,
      holder: "Team Rocket",
      createdAt: "2025-03-01T12:00:00.000Z",
      revokedAt: null,
    });
    expect(JSON.stringify(registry.list())).not.toContain(issued.token.slice(-43));
    const file = await readFile(path.join(dir, "intake.sqlite"));
    expect(file.includes(issued.token)).toBe(false);

    expect(registry.revoke(issued.id).revokedAt).toBe("2025-03-01T12:00:00.000Z");
    expect(registry.authenticate(issued.token)).toBeUndefined();
    expect(() => registry.revoke(issued.id)).toThrow(/already revoked/);
    expect(() => registry.revoke("000000000000")).toThrow(/no participant token with id/);
  });

  it("sees a revocation made through another connection (the CLI while the server runs)", () => {
    const issued = registry.add("bob");
    const other = new IntakeDb(path.join(dir, "intake.sqlite"));
    try {
      new TokenRegistry(other, "participant").revoke(issued.id);
    } finally {
      other.close();
    }
    expect(registry.authenticate(issued.token)).toBeUndefined();
  });

  it("refuses forged, truncated and malformed tokens", () => {
    const issued = registry.add("carol");
    const secret = issued.token.slice(-43);
    const forged = issued.token.slice(0, -43) + (secret[0] === "A" ? "B" : "A") + secret.slice(1);
    for (const token of [forged, issued.token.slice(0, -1), "", "Bearer " + issued.token, undefined]) {
      expect(registry.authenticate(token)).toBeUndefined();
    }
  });

  it("refuses participant names with control characters or surrounding spaces", () => {
    for (const name of ["", " bob", "bob ", "a\nb", "x".repeat(101), "tab\there"]) {
      expect(() => registry.add(name)).toThrow(TokenError);
    }
    expect(registry.add("Zoë & Ann <team>").holder).toBe("Zoë & Ann <team>");
  });

  it("keeps participant tokens and runner credentials apart: neither opens the other's registry", () => {
    const runners = new TokenRegistry(db, "runner");
    const credential = runners.add("gpu-1");
    const token = registry.add("dave");
    expect(credential.token).toMatch(/^prc_/);
    expect(runners.authenticate(credential.token)).toEqual({ tokenId: credential.id, holder: "gpu-1" });
    expect(registry.authenticate(credential.token)).toBeUndefined();
    expect(runners.authenticate(token.token)).toBeUndefined();
    // The same id and secret with the other kind's prefix is refused too.
    expect(registry.authenticate(credential.token.replace(/^prc_/, "pct_"))).toBeUndefined();
    expect(runners.list().map((t) => t.holder)).toEqual(["gpu-1"]);
    expect(registry.list().some((t) => t.holder === "gpu-1")).toBe(false);
    expect(() => registry.revoke(credential.id)).toThrow(/no participant token with id/);
    expect(runners.revoke(credential.id).revokedAt).not.toBeNull();
    expect(runners.authenticate(credential.token)).toBeUndefined();
  });
});
