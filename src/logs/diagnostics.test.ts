import { describe, expect, it } from "vitest";
import { ProblemCollector, formatProblem } from "../scoring/problems.js";
import { RUN_STATUSES } from "../status/index.js";
import { printable } from "./printable.js";
import {
  capEchoes,
  describeReasonClass,
  headOf,
  participantAttempts,
  participantShowing,
  reasonClass,
  type RunReport,
} from "./diagnostics.js";

/** Hidden features, as a program would smuggle them: base32 chunks used as column names. */
const HIDDEN = "MZXW6YTBOI2DGMJQGAYDAMBQGEYDCMBQGAYDAMJRGAYDAMBQGAYTCMBRGEYDCMJQ";

/** An output_invalid run whose header is made of hidden text, as the runner reports it. */
function smuggled(): RunReport {
  const collector = new ProblemCollector("submission.csv");
  for (const chunk of [HIDDEN.slice(0, 32), HIDDEN.slice(32)]) {
    collector.add("header", () => ({
      line: 1,
      column: chunk,
      message: `unexpected column "${chunk}"; the format has no such column`,
      fix: "make the first line exactly: id,species",
    }));
  }
  for (let line = 2; line < 40; line++) {
    collector.add("float", () => ({ line, column: "p", message: `"${HIDDEN}" is not a number`, fix: "fix" }));
  }
  const failure = collector.failure();
  return {
    status: "output_invalid",
    reason: failure.summary,
    problems: failure.problems.map(formatProblem),
    resultsJson: `{"leak": "${HIDDEN}"}`,
    stdout: `${HIDDEN}\n`,
    stderr: `${HIDDEN}\n`,
    diagnosis: { exitCode: 0, problemCounts: failure.counts },
  };
}

const none = { visibility: "none", tailLines: 5, maxBytes: 16 * 1024 } as const;
const full = { visibility: "full", tailLines: 5, maxBytes: 16 * 1024 } as const;

describe("reasonClass", () => {
  it("has a class for every status, in words that carry only its numbers", () => {
    for (const status of RUN_STATUSES) {
      const words = describeReasonClass(reasonClass(status, { exitCode: 3, problemCounts: {} }));
      expect(words, status).toMatch(/^[a-z]/);
    }
    expect(describeReasonClass(reasonClass("failed", { exitCode: 137, problemCounts: {} }))).toBe(
      "the program exited with code 137",
    );
    expect(describeReasonClass(reasonClass("failed", null))).toBe("the program exited with a non-zero code");
    expect(reasonClass("timed_out", null)).toEqual({ kind: "time_limit" });
    expect(reasonClass("oom_killed", null)).toEqual({ kind: "memory_limit" });
    expect(reasonClass("output_missing", null)).toEqual({ kind: "no_output_file" });
  });

  it("counts the format rules broken, in the rules' order, with their nouns", () => {
    const words = describeReasonClass(
      reasonClass("output_invalid", { exitCode: 0, problemCounts: { missing_id: 40, header: 1, float: 12 } }),
    );
    expect(words).toBe(
      "the predictions do not follow the submission format: 1 header problem, 12 values that are not numbers, 40 missing ids",
    );
    expect(describeReasonClass(reasonClass("output_invalid", null))).toBe(
      "the predictions do not follow the submission format",
    );
  });
});

describe("participantShowing", () => {
  it("shows a hidden-set phase the status's class and counts, and nothing the program wrote", () => {
    const run = smuggled();
    // What the runner reported does carry the hidden text: the organizer's view keeps it.
    expect(run.reason).toContain(HIDDEN.slice(0, 32));
    const shown = participantShowing(run, none);
    expect(shown).toEqual({
      reasonClass: "wrong_format",
      reason:
        "the predictions do not follow the submission format: 2 header problems, 38 values that are not numbers " +
        "(this phase shows no details of the run: they could carry the hidden data)",
      problems: [],
      resultsJson: null,
      stdout: "",
      stderr: "",
    });
    for (const chunk of [HIDDEN.slice(0, 8), HIDDEN.slice(32, 40)])
      expect(JSON.stringify(shown)).not.toContain(chunk);
  });

  it("never echoes a reason the program could have written into, whatever the status", () => {
    for (const status of RUN_STATUSES.filter((s) => s !== "invalid_submission")) {
      const shown = participantShowing(
        { ...smuggled(), status, reason: `wrote "${HIDDEN}" in output/${HIDDEN}.txt` },
        none,
      );
      expect(shown.reason, status).not.toContain(HIDDEN.slice(0, 8));
      expect(shown.reasonClass, status).toBe(reasonClass(status, null).kind);
    }
  });

  it("keeps a refusal before running: it names what the participant submitted, nothing of a run", () => {
    const refusal = 'zip entry "../evil.py": a path that leaves the submission folder; pack it again';
    const shown = participantShowing({ ...smuggled(), status: "invalid_submission", reason: refusal }, none);
    expect(shown).toMatchObject({ reasonClass: "refused", reason: refusal, problems: [], resultsJson: null });
  });

  it("shows an infrastructure fault's reason where logs are shown, never its output, nothing before the end", () => {
    const run = {
      ...smuggled(),
      status: "infrastructure_error",
      reason: "no runner picked it up",
      problems: [],
    } as const;
    expect(participantShowing(run, full)).toEqual({
      reasonClass: "platform_fault",
      reason: "no runner picked it up",
      problems: [],
      resultsJson: null,
      stdout: "",
      stderr: "",
    });
    expect(participantShowing(run, none).reason).toBe(
      "a fault of the platform, not yours: it does not count against your limits",
    );
    const queued = participantShowing(
      { ...smuggled(), status: null, reason: null, problems: [], diagnosis: null },
      none,
    );
    expect(queued).toMatchObject({ reasonClass: null, reason: null });
  });

  it("where logs are shown, cuts each quoted value to 60 characters", () => {
    const shown = participantShowing(smuggled(), full);
    expect(shown.reasonClass).toBe("wrong_format");
    expect(shown.problems.join("\n")).toContain(`"${HIDDEN.slice(0, 32)}"`);
    expect(shown.problems.join("\n")).toContain(`"${HIDDEN.slice(0, 60)}…" is not a number`);
    expect(shown.reason).not.toContain(HIDDEN);
    expect(shown.resultsJson).toBe(`{"leak": "${HIDDEN}"}`);
    expect(shown.stdout).toBe(`${HIDDEN}\n`);
  });

  it("holds the reason with the problems, results.json and each log to logs.max_bytes, and says so", () => {
    const big = { ...smuggled(), resultsJson: JSON.stringify({ values: "x".repeat(60_000) }) };
    const shown = participantShowing(big, { ...full, maxBytes: 1024 });
    const bytes = (text: string) => Buffer.byteLength(text);
    expect(bytes(shown.resultsJson!)).toBeLessThan(1024 + 80);
    expect(shown.resultsJson).toMatch(/\n\[… \d+ more bytes not shown: logs\.max_bytes\]$/);
    const diagnostics = [shown.reason!, ...shown.problems.slice(0, -1)].map(bytes).reduce((a, b) => a + b);
    expect(diagnostics).toBeLessThanOrEqual(1024 + 80);
    expect(shown.problems.at(-1)).toMatch(/^\[… \d+ more problems? not shown: logs\.max_bytes\]$/);
  });
});

describe("participantAttempts", () => {
  const attempts = [
    {
      attempt: 1,
      status: "infrastructure_error" as const,
      reason: `the runner could not run it (${HIDDEN})`,
      at: "t",
    },
    {
      attempt: 2,
      status: "output_invalid" as const,
      reason: "re-run by the organizers; this result was replaced",
      at: "t",
    },
  ];
  it("tells each earlier attempt's class where logs are none, and keeps the reasons elsewhere", () => {
    expect(participantAttempts(attempts, none).map((a) => a.reason)).toEqual([
      "a fault of the platform, not yours: it does not count against your limits",
      "the predictions do not follow the submission format; not the result that stands",
    ]);
    expect(participantAttempts(attempts, full)).toEqual(attempts);
  });
});

describe("capEchoes and headOf", () => {
  it("cuts raw and JSON-escaped quoted values, and keeps short ones and the rest of the text", () => {
    const long = "é".repeat(70);
    expect(capEchoes(`column "${long}": bad`)).toBe(`column "${"é".repeat(60)}…": bad`);
    expect(capEchoes(`cell "a\\"b" and "${"z".repeat(61)}"`)).toBe(`cell "a\\"b" and "${"z".repeat(60)}…"`);
    expect(capEchoes("no quotes at all")).toBe("no quotes at all");
  });

  it("keeps the start at a character boundary and counts what it cut", () => {
    expect(headOf("héllo", 10)).toBe("héllo");
    expect(headOf("héllo", 2)).toBe("h\n[… 5 more bytes not shown: logs.max_bytes]");
    expect(headOf("abc", undefined)).toBe("abc");
  });
});

describe("printable: program text on a terminal", () => {
  it("turns control characters (escape sequences, bells, carriage returns) into ?", () => {
    expect(printable("ok \u001b[2J\u001b]0;pwned\u0007 done\r")).toBe("ok ?[2J?]0;pwned? done?");
    expect(printable("naïve ✓")).toBe("naïve ✓");
  });
});
