import { describe, expect, it } from "vitest";
import { RulesError, parseRules } from "./rules.js";

describe("parseRules", () => {
  it("fills defaults; only direction is required", () => {
    expect(parseRules({ direction: "lower" })).toEqual({
      direction: "lower",
      precision: 4,
      selection: "best",
      tieBreak: "earlier_submission",
      dailyLimit: null,
      totalLimit: null,
      countFailed: true,
      dayBoundary: "UTC",
    });
  });

  it("names each bad field and the rule it breaks", () => {
    const attempt = () =>
      parseRules(
        { direction: "up", precision: 2.5, dailyLimit: 0, tieBreak: "coin_flip", extra: 1 },
        "competition.yml leaderboard",
      );
    expect(attempt).toThrow(RulesError);
    expect(attempt).toThrow(/^competition\.yml leaderboard are invalid: /);
    for (const field of [
      "direction",
      "precision: must be a whole number",
      "dailyLimit: must be at least 1",
      "tieBreak",
      "extra",
    ]) {
      expect(attempt).toThrow(new RegExp(field));
    }
    expect(() => parseRules({})).toThrow(/direction/);
    expect(() => parseRules({ direction: "higher", dayBoundary: "Europe/Paris" })).toThrow(/dayBoundary/);
  });
});
