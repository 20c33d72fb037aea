import { describe, expect, it } from "vitest";
import { bearer, isSubmissionId } from "../gateway-api/index.js";
import { digestsEqual, newSubmissionId, newToken, parseToken, sha256Hex } from "./secrets.js";

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

  it("issues tokens of each kind whose secret part is only kept as a sha256", () => {
    const participant = newToken("participant");
    expect(participant.token).toMatch(/^pct_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(parseToken(participant.token)).toEqual({
      kind: "participant",
      id: participant.id,
      secretSha256: participant.secretSha256,
    });
    const runner = newToken("runner");
    expect(runner.token).toMatch(/^prc_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(parseToken(runner.token)?.kind).toBe("runner");
    expect(participant.token).not.toContain(participant.secretSha256);
    expect(parseToken(participant.token + "x")).toBeUndefined();
    expect(parseToken("pct_zz_" + "a".repeat(43))).toBeUndefined();
    expect(parseToken("xyz_" + participant.token.slice(4))).toBeUndefined();
  });

  it("reads bearer credentials strictly", () => {
    expect(bearer("Bearer abc")).toBe("abc");
    expect(bearer("bearer   abc ")).toBe("abc");
    expect(bearer("Basic abc")).toBeUndefined();
    expect(bearer("Bearer a b")).toBeUndefined();
    expect(bearer(undefined)).toBeUndefined();
  });

  it("compares digests only when both are well-formed", () => {
    const a = sha256Hex("a");
    expect(digestsEqual(a, sha256Hex("a"))).toBe(true);
    expect(digestsEqual(a, sha256Hex("b"))).toBe(false);
    expect(digestsEqual(a, a.slice(1))).toBe(false);
    expect(digestsEqual(a.toUpperCase(), a)).toBe(false);
  });
});
