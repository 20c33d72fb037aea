import { describe, expect, it } from "vitest";
import { RUN_STATUSES } from "../status/index.js";
import {
  finalReport,
  MAX_REPORTED_LOG_CHARS,
  parseResultReport,
  ResultReportError,
} from "./result-report.js";

const outcome = {
  attempt: 1,
  status: "succeeded" as const,
  reason: "scored",
  publicScore: 0.5,
  sealedPrivateScore: "sealed",
  durationMs: 12.6,
  imageDigest: "sha256:abc",
  stdout: "x".repeat(MAX_REPORTED_LOG_CHARS + 10) + "END",
  problems: Array.from({ length: 300 }, (_, i) => `problem ${i}`),
};

describe("the result report", () => {
  it("builds a valid report from any outcome: logs keep their end, scores only when succeeded", () => {
    const report = finalReport(outcome);
    expect(parseResultReport(report)).toEqual(report);
    expect(report.stdout!.endsWith("END")).toBe(true);
    expect(report.stdout!.length).toBe(MAX_REPORTED_LOG_CHARS);
    expect(report.duration_ms).toBe(13);
    expect(report.problems).toHaveLength(200);
    for (const status of RUN_STATUSES) {
      const r = finalReport({ ...outcome, status });
      expect(parseResultReport(r).status).toBe(status);
      if (status !== "succeeded") expect([r.public_score, r.private_score_sealed]).toEqual([null, null]);
      // An infrastructure fault is never the participant's, and shows them nothing of the run.
      if (status === "infrastructure_error") expect([r.stdout, r.stderr]).toEqual([undefined, undefined]);
    }
  });

  it("accepts the running report and nothing else with it; every report names its attempt", () => {
    expect(parseResultReport({ attempt: 2, status: "running" })).toEqual({ attempt: 2, status: "running" });
    expect(() => parseResultReport({ attempt: 1, status: "running", public_score: 1 })).toThrow(
      /public_score/,
    );
    expect(() => parseResultReport({ status: "running" })).toThrow(/attempt/);
    expect(() => parseResultReport({ ...finalReport(outcome), attempt: 1.5 })).toThrow(
      /attempt: must be a whole number/,
    );
  });

  it("refuses logs on an infrastructure_error", () => {
    const report = { ...finalReport({ ...outcome, status: "infrastructure_error" }), stderr: "row 1" };
    expect(() => parseResultReport(report)).toThrow(
      /stderr: an infrastructure_error shows the participant nothing/,
    );
  });

  it("names every offending field", () => {
    const error = (() => {
      try {
        parseResultReport({
          attempt: 1,
          status: "failed",
          reason: 5,
          public_score: 0.1,
          duration_ms: 1.5,
          image_digest: "",
        });
      } catch (e) {
        return e as ResultReportError;
      }
      throw new Error("no error");
    })();
    expect(error).toBeInstanceOf(ResultReportError);
    expect(error.message).toMatch(/reason: /);
    expect(error.message).toMatch(/duration_ms: must be whole milliseconds/);
    expect(() => parseResultReport("nope")).toThrow(/\(body\)/);
    expect(() => parseResultReport({ ...finalReport(outcome), public_score: Number.NaN })).toThrow(
      /public_score/,
    );
  });
});
