import { describe, expect, it } from "vitest";
import { RevealError, SealError, generateSealingKeys, openSealedScore, reveal, sealScore } from "./seal.js";
import { MemoryLeaderboardStore } from "./store.js";
import { makeEntry, makeFailed } from "./test-support/entries.js";

const organizer = generateSealingKeys();
const stranger = generateSealingKeys();

function flipCharAt(text: string, index: number): string {
  const c = text[index]!;
  return text.slice(0, index) + (c === "A" ? "B" : "A") + text.slice(index + 1);
}

describe("sealed private scores", () => {
  it("makes PEM X25519 key pairs", () => {
    expect(organizer.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(organizer.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it("round-trips scores exactly, with a self-describing, fresh, fixed-length sealed string", () => {
    for (const score of [0, -0.5, 0.8234523456789, 1e-300, 123456789.125, Number.MAX_VALUE]) {
      const sealed = sealScore(score, "sub-1", organizer.publicKeyPem);
      expect(sealed).toMatch(/^pscore\.v1\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){4}$/);
      expect(openSealedScore(sealed, "sub-1", organizer.privateKeyPem)).toBe(score);
    }
    const a = sealScore(0.5, "sub-1", organizer.publicKeyPem);
    const b = sealScore(0.5, "sub-1", organizer.publicKeyPem);
    expect(a).not.toBe(b); // ephemeral key and nonce: equal scores are not recognisable
    expect(sealScore(0.123456789, "s", organizer.publicKeyPem).length).toBe(
      sealScore(1, "s", organizer.publicKeyPem).length,
    );
  });

  it("refuses the wrong private key, naming the key ids", () => {
    const sealed = sealScore(0.7, "sub-2", organizer.publicKeyPem);
    expect(() => openSealedScore(sealed, "sub-2", stranger.privateKeyPem)).toThrow(SealError);
    expect(() => openSealedScore(sealed, "sub-2", stranger.privateKeyPem)).toThrow(
      /"sub-2" was sealed for another key/,
    );
  });

  it("refuses a tampered value", () => {
    const sealed = sealScore(0.7, "sub-3", organizer.publicKeyPem);
    const parts = sealed.split(".");
    for (const part of [3, 4, 5, 6]) {
      const tampered = [...parts];
      tampered[part] = flipCharAt(tampered[part]!, 2);
      expect(
        () => openSealedScore(tampered.join("."), "sub-3", organizer.privateKeyPem),
        `part ${part}`,
      ).toThrow(/"sub-3" (failed authentication: it was altered|is malformed)/);
    }
    expect(() => openSealedScore("0.7", "sub-3", organizer.privateKeyPem)).toThrow(/is not a sealed score/);
    expect(() => openSealedScore(sealed.replace(".v1.", ".v9."), "sub-3", organizer.privateKeyPem)).toThrow(
      /format "v9"; only v1/,
    );
    expect(() => openSealedScore(`${sealed}.AAAA`, "sub-3", organizer.privateKeyPem)).toThrow(/malformed/);
  });

  it("refuses a value moved to another submission", () => {
    const sealed = sealScore(0.99, "sub-good", organizer.publicKeyPem);
    expect(() => openSealedScore(sealed, "sub-bad", organizer.privateKeyPem)).toThrow(
      /"sub-bad" failed authentication.*sealed for a different submission/,
    );
  });

  it("explains bad keys and bad scores", () => {
    expect(() => sealScore(Number.NaN, "s", organizer.publicKeyPem)).toThrow(/finite/);
    expect(() => sealScore(1, "s", "not a key")).toThrow(/sealing public key is not a valid PEM/);
    expect(() => sealScore(1, "s", organizer.privateKeyPem)).not.toThrow(); // a private PEM implies its public key
    const sealed = sealScore(1, "s", organizer.publicKeyPem);
    expect(() => openSealedScore(sealed, "s", organizer.publicKeyPem)).toThrow(
      /reveal private key is not a valid PEM/,
    );
  });
});

describe("reveal", () => {
  it("fills privateScore of every sealed entry in memory and leaves the store unchanged", async () => {
    const store = new MemoryLeaderboardStore();
    const sealedEntry = makeEntry({
      submissionId: "r1",
      sealedPrivateScore: sealScore(0.42, "r1", organizer.publicKeyPem),
    });
    await store.record(sealedEntry);
    await store.record(makeEntry({ submissionId: "r2" })); // no private split
    await store.record(makeFailed({ submissionId: "r3" }));
    const revealed = await reveal(store, organizer.privateKeyPem);
    expect(revealed.map((e) => [e.submissionId, e.privateScore])).toEqual([
      ["r1", 0.42],
      ["r2", null],
      ["r3", null],
    ]);
    expect((await store.get("r1"))!.privateScore).toBeNull();
    expect((await store.get("r1"))!.sealedPrivateScore).toBe(sealedEntry.sealedPrivateScore);
  });

  it("fails as a whole, listing every entry that cannot be opened (e.g. a value swapped between entries)", async () => {
    const store = new MemoryLeaderboardStore();
    await store.record(
      makeEntry({ submissionId: "a", sealedPrivateScore: sealScore(0.1, "b", organizer.publicKeyPem) }),
    );
    await store.record(
      makeEntry({ submissionId: "b", sealedPrivateScore: sealScore(0.9, "a", organizer.publicKeyPem) }),
    );
    await store.record(
      makeEntry({ submissionId: "c", sealedPrivateScore: sealScore(0.5, "c", organizer.publicKeyPem) }),
    );
    const error = await reveal(store, organizer.privateKeyPem).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RevealError);
    expect((error as RevealError).failures.map((f) => f.submissionId)).toEqual(["a", "b"]);
    expect((error as Error).message).toMatch(/2 of 3 sealed private scores failed to open/);
    await expect(reveal(store, stranger.privateKeyPem)).rejects.toThrow(/3 of 3 .*sealed for another key/);
  });
});
