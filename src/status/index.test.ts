import { describe, expect, it } from "vitest";
import { EXIT_CODES, RUN_STATUSES, exitCodeFor, isInfrastructureFault } from "./index.js";

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
