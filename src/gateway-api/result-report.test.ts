import { describe, expect, it } from "vitest";
import { RUN_STATUSES } from "../status/index.js";
import {
  MAX_USAGE_SAMPLES,
  usageReport,
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

  it("carries the run's diagnosis, each rule one the format check knows, and refuses any other", () => {
    const diagnosis = { exitCode: 0, problemCounts: { header: 2, missing_id: 40 } };
    const report = finalReport({ ...outcome, status: "output_invalid", publicScore: null, diagnosis });
    expect(report.diagnosis).toEqual({ exit_code: 0, problem_counts: { header: 2, missing_id: 40 } });
    expect(parseResultReport(report)).toEqual(report);
    for (const bad of [
      { exit_code: 0, problem_counts: { "column NFSXG5DFON2A": 1 } },
      { exit_code: 0, problem_counts: { header: 0 } },
      { exit_code: "1", problem_counts: {} },
      { exit_code: 0, problem_counts: {}, note: "text" },
    ]) {
      expect(() => parseResultReport({ ...report, diagnosis: bad }), JSON.stringify(bad)).toThrow(
        /diagnosis/,
      );
    }
  });

  it("carries what the run used, coarse: two significant digits, quantized steps, at most 60 points", () => {
    const samples = Array.from({ length: 120 }, (_, i) => ({
      tMs: i * 1000 + 7,
      memoryBytes: 123_456_789 + i,
      cpu: 0.123 + i / 1000,
      pids: 3,
    }));
    const usage = usageReport(
      {
        peakMemoryBytes: 123_456_789,
        cpuSeconds: 2.8361,
        cpuAverage: 0.5,
        cpuPeak: 1,
        pidsPeak: 3,
        outputBytes: 10,
        tmpBytes: null,
        gpu: null,
        samples,
        intervalMs: 1000,
      },
      { runtime: "runsc", memoryLimitBytes: 1024 ** 3, cpus: 2 },
    );
    expect(usage).toMatchObject({ runtime: "runsc", peak_memory_bytes: 120_000_000, cpu_seconds: 2.8 });
    expect(usage.samples).toHaveLength(MAX_USAGE_SAMPLES);
    expect(usage.samples[1]).toEqual({ t_ms: 2000, memory_bytes: 118111601, cpu_cores: 0.15 });
    // Every sample is a multiple of the steps: a program cannot signal through the low digits.
    for (const s of usage.samples) {
      expect((s.memory_bytes / (1024 ** 3 / 100)) % 1).toBeCloseTo(0, 0);
      expect(Math.round(s.cpu_cores * 20)).toBeCloseTo(s.cpu_cores * 20, 9);
    }
    const report = finalReport({ ...outcome, usage });
    expect(parseResultReport(report)).toEqual(report);
    expect(() =>
      parseResultReport({ ...report, usage: { ...usage, samples: [...usage.samples, ...usage.samples] } }),
    ).toThrow(/usage.samples/);
  });

  it("carries the models digest the run had mounted; a report without it (no models, an older runner) still parses", () => {
    const modelsDigest = `sha256:${"0f".repeat(32)}`;
    const report = finalReport({ ...outcome, modelsDigest });
    expect(report.models_digest).toBe(modelsDigest);
    expect(parseResultReport(report)).toEqual(report);
    // None mounted: left out, so a gateway older than the field takes the report too; null is taken as none.
    const none = finalReport(outcome);
    expect("models_digest" in none).toBe(false);
    expect(parseResultReport(none)).toEqual(none);
    expect(parseResultReport({ ...none, models_digest: null })).toMatchObject({ models_digest: null });
  });

  it("refuses a models digest that is not sha256:<64 hex>, naming the field and the rule", () => {
    const report = finalReport(outcome);
    for (const hostile of [
      '"><script>alert(1)</script>',
      `sha256:${"A".repeat(64)}`,
      "0f".repeat(32),
      `sha256:${"0f".repeat(32)} `,
      `sha256:${"0f".repeat(33)}`,
      "",
    ]) {
      expect(() => parseResultReport({ ...report, models_digest: hostile }), hostile).toThrow(
        /models_digest: must be sha256: and 64 lowercase hex digits \(runtime\/models\.yml's digest\), or null/,
      );
    }
    expect(() => parseResultReport({ ...report, models_digest: 5 })).toThrow(/models_digest/);
  });
});
