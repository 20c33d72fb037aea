import { describe, expect, it } from "vitest";
import {
  bearer,
  checkDownloadSignature,
  deriveKeys,
  isSubmissionId,
  newParticipantToken,
  newSubmissionId,
  parseParticipantToken,
  resultToken,
  SecretError,
  sha256Hex,
  signDownload,
} from "./secrets.js";

const keys = deriveKeys("s".repeat(32));
const now = new Date("2025-03-01T00:00:00Z");
const inAnHour = Math.floor(now.getTime() / 1000) + 3600;

describe("ids and tokens", () => {
  it("makes random, url-safe submission ids that are also safe file names", () => {
    const ids = new Set(Array.from({ length: 1000 }, newSubmissionId));
    expect(ids.size).toBe(1000);
    for (const id of ids) {
      expect(isSubmissionId(id)).toBe(true);
      expect(id).toMatch(/^[A-Za-z0-9._-]{1,100}$/); // what the submission workflow accepts
    }
    for (const bad of ["..", "../x", "sub-" + "a".repeat(21) + "/", "sub-" + "a".repeat(23), "", 7]) {
      expect(isSubmissionId(bad)).toBe(false);
    }
  });

  it("issues tokens whose secret part is only kept as a sha256", () => {
    const issued = newParticipantToken();
    expect(issued.token).toMatch(/^pct_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(parseParticipantToken(issued.token)).toEqual({ id: issued.id, secretSha256: issued.secretSha256 });
    expect(issued.token).not.toContain(issued.secretSha256);
    expect(parseParticipantToken(issued.token + "x")).toBeUndefined();
    expect(parseParticipantToken("pct_zz_" + "a".repeat(43))).toBeUndefined();
  });

  it("reads bearer credentials strictly", () => {
    expect(bearer("Bearer abc")).toBe("abc");
    expect(bearer("bearer   abc ")).toBe("abc");
    expect(bearer("Basic abc")).toBeUndefined();
    expect(bearer("Bearer a b")).toBeUndefined();
    expect(bearer(undefined)).toBeUndefined();
  });

  it("refuses a server secret under 32 bytes", () => {
    expect(() => deriveKeys("short")).toThrow(SecretError);
    expect(() => deriveKeys("short")).toThrow(/at least 32 random bytes/);
  });

  it("derives result tokens per submission and attempt, different from the url key's signatures", () => {
    const a1 = resultToken(keys, "sub-a", 1);
    expect(a1).toBe(resultToken(keys, "sub-a", 1));
    expect(a1).not.toBe(resultToken(keys, "sub-a", 2));
    expect(a1).not.toBe(resultToken(keys, "sub-b", 1));
    expect(a1).not.toBe(resultToken(deriveKeys("t".repeat(32)), "sub-a", 1));
    expect(sha256Hex(a1)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("signed download links", () => {
  const id = newSubmissionId();
  const signature = signDownload(keys, id, inAnHour);

  it("accepts the link as signed until it expires", () => {
    expect(checkDownloadSignature(keys, id, String(inAnHour), signature, now)).toBe("ok");
    expect(
      checkDownloadSignature(keys, id, String(inAnHour), signature, new Date((inAnHour + 1) * 1000)),
    ).toBe("expired");
  });

  it("refuses any change: id, expiry, signature, another key, malformed values", () => {
    const flipped = (signature[0] === "0" ? "1" : "0") + signature.slice(1);
    expect(checkDownloadSignature(keys, newSubmissionId(), String(inAnHour), signature, now)).toBe("invalid");
    expect(checkDownloadSignature(keys, id, String(inAnHour + 1), signature, now)).toBe("invalid");
    expect(checkDownloadSignature(keys, id, String(inAnHour), flipped, now)).toBe("invalid");
    expect(checkDownloadSignature(deriveKeys("t".repeat(32)), id, String(inAnHour), signature, now)).toBe(
      "invalid",
    );
    expect(checkDownloadSignature(keys, id, `${inAnHour}.0`, signature, now)).toBe("invalid");
    expect(checkDownloadSignature(keys, id, String(inAnHour), signature.toUpperCase(), now)).toBe("invalid");
    expect(checkDownloadSignature(keys, id, undefined, signature, now)).toBe("invalid");
    expect(checkDownloadSignature(keys, id, String(inAnHour), [signature], now)).toBe("invalid");
    // A forged link never learns that it has expired.
    expect(checkDownloadSignature(keys, id, "1", flipped, now)).toBe("invalid");
  });
});
