import { describe, expect, it } from "vitest";
import { RUN_STATUSES } from "../status/index.js";
import {
  finalReport,
  MAX_REPORTED_LOG_CHARS,
  parseResultReport,
  ResultReportError,
} from "./result-report.js";

const outcome = {
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
    }
  });

  it("accepts the running report and nothing else with it", () => {
    expect(parseResultReport({ status: "running" })).toEqual({ status: "running" });
    expect(() => parseResultReport({ status: "running", public_score: 1 })).toThrow(/public_score/);
  });

  it("names every offending field", () => {
    const error = (() => {
      try {
        parseResultReport({
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
