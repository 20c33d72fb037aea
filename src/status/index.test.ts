import { describe, expect, it } from "vitest";
import { EXIT_CODES, RUN_STATUSES, exitCodeFor, isInfrastructureFault, replacesStanding } from "./index.js";

describe("run statuses", () => {
  it("maps success, participant failures and infrastructure errors to three distinct exit codes", () => {
    expect(exitCodeFor("succeeded")).toBe(0);
    for (const s of RUN_STATUSES.filter((s) => s !== "succeeded" && s !== "infrastructure_error")) {
      expect(exitCodeFor(s)).toBe(EXIT_CODES.participantFailure);
      expect(isInfrastructureFault(s)).toBe(false);
    }
    expect(exitCodeFor("infrastructure_error")).toBe(EXIT_CODES.infrastructureError);
    expect(EXIT_CODES.participantFailure).not.toBe(EXIT_CODES.infrastructureError);
  });
});

describe("replacesStanding", () => {
  const failures = RUN_STATUSES.filter((s) => s !== "succeeded" && s !== "infrastructure_error");
  it("a newer score always stands; anything stands where nothing did", () => {
    for (const standing of [null, ...RUN_STATUSES])
      expect(replacesStanding(standing, "succeeded")).toBe(true);
    for (const incoming of RUN_STATUSES) expect(replacesStanding(null, incoming)).toBe(true);
  });
  it("a score is never replaced by a failure or an infrastructure error", () => {
    for (const incoming of [...failures, "infrastructure_error" as const])
      expect(replacesStanding("succeeded", incoming)).toBe(false);
  });
  it("a participant's failure replaces an unscored result; an infrastructure error replaces none", () => {
    for (const standing of [...failures, "infrastructure_error" as const]) {
      for (const incoming of failures) expect(replacesStanding(standing, incoming)).toBe(true);
      expect(replacesStanding(standing, "infrastructure_error")).toBe(false);
    }
  });
});
