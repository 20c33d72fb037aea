import { describe, expect, it } from "vitest";
import {
  EXIT_CODES,
  RUN_STATUSES,
  exitCodeFor,
  isInfrastructureFault,
  isParticipantOutcome,
  replacesStanding,
} from "./index.js";

describe("run statuses", () => {
  it("maps success, participant failures and infrastructure errors to three distinct exit codes", () => {
    expect(exitCodeFor("succeeded")).toBe(0);
    for (const s of RUN_STATUSES.filter((s) => s !== "succeeded" && isParticipantOutcome(s))) {
      expect(exitCodeFor(s)).toBe(EXIT_CODES.participantFailure);
      expect(isInfrastructureFault(s)).toBe(false);
    }
    expect(exitCodeFor("infrastructure_error")).toBe(EXIT_CODES.infrastructureError);
    // The organizers' scorer failing is not the participant's either.
    expect(exitCodeFor("scorer_failed")).toBe(EXIT_CODES.infrastructureError);
    expect(EXIT_CODES.participantFailure).not.toBe(EXIT_CODES.infrastructureError);
  });
});

describe("replacesStanding", () => {
  const failures = RUN_STATUSES.filter((s) => s !== "succeeded" && isParticipantOutcome(s));
  const notTheirs = ["infrastructure_error", "scorer_failed"] as const;
  it("a newer score always stands; anything stands where nothing did", () => {
    for (const standing of [null, ...RUN_STATUSES])
      expect(replacesStanding(standing, "succeeded")).toBe(true);
    for (const incoming of RUN_STATUSES) expect(replacesStanding(null, incoming)).toBe(true);
  });
  it("a score is never replaced by a failure or an infrastructure error", () => {
    for (const incoming of [...failures, ...notTheirs])
      expect(replacesStanding("succeeded", incoming)).toBe(false);
  });
  it("a participant's failure replaces an unscored result; the platform's or the organizers' fault none", () => {
    for (const standing of [...failures, ...notTheirs]) {
      for (const incoming of failures) expect(replacesStanding(standing, incoming)).toBe(true);
      for (const incoming of notTheirs) expect(replacesStanding(standing, incoming)).toBe(false);
    }
  });
});
