/**
 * What a participant is shown of why their run ended: the one policy every place that shows it calls (the
 * gateway's API and pages, and through the API `proctor status`).
 *
 * Anything the program produced can carry the hidden data it read: its logs, and what the checks echo of
 * its output (column names, cells, ids, file names), results.json. So in a phase whose logs are `none` the
 * participant gets the status and a reason class made from structured facts only (the exit code, how many
 * times each format rule was broken), never a word of that text. A refusal before anything ran names only
 * what the participant submitted, so it stays. Where logs are shown, every quoted value echoed in the
 * reason and the problems is cut to ECHO_CHARS, and each field of the program's making stays within
 * `logs.max_bytes`, marked where cut. The organizer's view is not made here: it shows the record whole.
 */
import { PROBLEM_RULES, ruleCount, type ProblemRule } from "../scoring/problems.js";
import { isParticipantOutcome, type RunStatus } from "../status/index.js";
import { cutText } from "../units/index.js";
import { visibleLog, type LogShowing } from "./visibility.js";

/** The structured facts of how a run ended, from which its reason class is made: no text of the program's. */
export interface Diagnosis {
  /** The program's exit code, when it ran and exited. */
  exitCode: number | null;
  /** How many times each format rule was broken, when the predictions were checked. */
  problemCounts: Partial<Record<ProblemRule, number>>;
}

export const REASON_CLASSES = [
  "scored",
  "exit_code",
  "time_limit",
  "memory_limit",
  "refused",
  "no_output_file",
  "output_too_large",
  "wrong_format",
  "scoring_failed",
  "organizer_fault",
  "platform_fault",
] as const;

export type ReasonClassKind = (typeof REASON_CLASSES)[number];

/** Why a run ended, as a class: its kind, and the numbers of it that are facts rather than text. */
export type ReasonClass =
  | { kind: Exclude<ReasonClassKind, "exit_code" | "wrong_format"> }
  | { kind: "exit_code"; exitCode: number | null }
  | { kind: "wrong_format"; problemCounts: Partial<Record<ProblemRule, number>> };

const CLASS_OF: Record<RunStatus, ReasonClassKind> = {
  succeeded: "scored",
  failed: "exit_code",
  timed_out: "time_limit",
  oom_killed: "memory_limit",
  invalid_submission: "refused",
  output_missing: "no_output_file",
  output_invalid: "wrong_format",
  output_too_large: "output_too_large",
  scoring_failed: "scoring_failed",
  scorer_failed: "organizer_fault",
  infrastructure_error: "platform_fault",
};

/** The reason class of a status, with the facts the diagnosis has (none: the class alone). */
export function reasonClass(status: RunStatus, diagnosis: Diagnosis | null): ReasonClass {
  const kind = CLASS_OF[status];
  if (kind === "exit_code") return { kind, exitCode: diagnosis?.exitCode ?? null };
  if (kind === "wrong_format") return { kind, problemCounts: { ...diagnosis?.problemCounts } };
  return { kind };
}

/** The class in words, e.g. "the program exited with code 1", "… format: 3 empty cells, 1 header problem". */
export function describeReasonClass(reason: ReasonClass): string {
  switch (reason.kind) {
    case "scored":
      return "scored";
    case "exit_code":
      return reason.exitCode === null
        ? "the program exited with a non-zero code"
        : `the program exited with code ${reason.exitCode}`;
    case "time_limit":
      return "the program ran past the time limit";
    case "memory_limit":
      return "the program used more than the memory limit";
    case "refused":
      return "refused before running";
    case "no_output_file":
      return "no output file: the program did not write the predictions file";
    case "output_too_large":
      return "the output was too large for the output folder's caps";
    case "wrong_format": {
      const counts = PROBLEM_RULES.flatMap((rule) => {
        const count = reason.problemCounts[rule];
        return count ? [ruleCount(rule, count)] : [];
      });
      return `the predictions do not follow the submission format${counts.length > 0 ? `: ${counts.join(", ")}` : ""}`;
    }
    case "scoring_failed":
      return "the predictions could not be scored";
    case "organizer_fault":
      return (
        "waiting for the organizers: their scorer failed on your predictions, which passed the format " +
        "check; it does not count against your limits, and they re-score it once they fixed it"
      );
    case "platform_fault":
      return "a fault of the platform, not yours: it does not count against your limits";
  }
}

/** What the intake holds of a run, as the runner reported it (the organizer sees all of it). */
export interface RunReport {
  /** Null until the run is final. */
  status: RunStatus | null;
  reason: string | null;
  problems: readonly string[];
  resultsJson: string | null;
  stdout: string | null;
  stderr: string | null;
  /** Null for a run reported without one (an older runner): the class then has no numbers. */
  diagnosis: Diagnosis | null;
}

/** What its owner is shown of it. */
export interface ShownRun {
  reasonClass: ReasonClassKind | null;
  reason: string | null;
  problems: string[];
  resultsJson: string | null;
  stdout: string;
  stderr: string;
}

/** Most characters of one quoted value (a column name, a cell) echoed in a reason or a problem. */
export const ECHO_CHARS = 60;

/** How the phase's `none` is told beside the class. */
const HIDDEN_NOTE = "(this phase shows no details of the run: they could carry the hidden data)";

/**
 * A run as its owner sees it, per the phase's log showing (`maxBytes`: logs.max_bytes). An
 * infrastructure fault shows no logs or results.json in any phase (it is not the participant's, and it is
 * run again), only its reason where the phase shows logs.
 */
export function participantShowing(run: RunReport, logs: LogShowing): ShownRun {
  const kind = run.status === null ? null : CLASS_OF[run.status];
  if (logs.visibility === "none") {
    return {
      reasonClass: kind,
      reason: classOnlyReason(run),
      problems: [],
      resultsJson: null,
      stdout: "",
      stderr: "",
    };
  }
  const diagnostics = withinBytes(
    run.reason === null ? null : capEchoes(run.reason),
    run.problems.map(capEchoes),
    logs.maxBytes,
  );
  const output = run.status !== "infrastructure_error";
  return {
    reasonClass: kind,
    ...diagnostics,
    resultsJson: output && run.resultsJson !== null ? headOf(run.resultsJson, logs.maxBytes) : null,
    stdout: output ? visibleLog(run.stdout, logs) : "",
    stderr: output ? visibleLog(run.stderr, logs) : "",
  };
}

/**
 * Earlier attempts as their owner sees them: where logs are `none`, each reason is its status's class in
 * words (an infrastructure fault's reason can quote the runner's, which can quote the run).
 */
export function participantAttempts<T extends { status: RunStatus; reason: string }>(
  attempts: readonly T[],
  logs: Pick<LogShowing, "visibility">,
): T[] {
  if (logs.visibility !== "none") return [...attempts];
  return attempts.map((a) => {
    const words = describeReasonClass(reasonClass(a.status, null));
    // The other attempts than the one whose result stands: a platform's or organizers' fault says why by
    // itself; a participant's outcome is one a re-run's score replaced, or a re-run that left a score be.
    return { ...a, reason: isParticipantOutcome(a.status) ? `${words}; not the result that stands` : words };
  });
}

/** The reason of a phase that shows no details: the class in words (a refusal: its own words). */
function classOnlyReason(run: RunReport): string | null {
  // Not final (queued, running, cancelled): the intake's own words, if any.
  if (run.status === null) return run.reason;
  // Refused before anything ran: about the files the participant chose, not anything the program wrote.
  if (run.status === "invalid_submission") return run.reason;
  const words = describeReasonClass(reasonClass(run.status, run.diagnosis));
  return run.status === "succeeded" || run.status === "infrastructure_error"
    ? words
    : `${words} ${HIDDEN_NOTE}`;
}

/** Every double-quoted value (raw or JSON-escaped) longer than ECHO_CHARS cut to that, with an ellipsis. */
export function capEchoes(text: string): string {
  return text.replace(/"((?:[^"\\]|\\.)*)"/g, (_quoted, inner: string) => `"${cutText(inner, ECHO_CHARS)}"`);
}

const bytesOf = (text: string) => Buffer.byteLength(text, "utf8");

/** The first `maxBytes` of a text (whole characters), marked where cut; the text itself when it fits. */
export function headOf(text: string, maxBytes: number | undefined): string {
  const bytes = Buffer.from(text, "utf8");
  if (maxBytes === undefined || bytes.length <= maxBytes) return text;
  // Decoding up to a byte offset may end mid-character: drop the replacement character it makes.
  const kept = bytes
    .subarray(0, maxBytes)
    .toString("utf8")
    .replace(/\uFFFD+$/, "");
  return `${kept}\n[… ${bytes.length - bytesOf(kept)} more bytes not shown: logs.max_bytes]`;
}

/** The reason, then as many problems as fit in `maxBytes` together; the rest counted in a last line. */
function withinBytes(
  reason: string | null,
  problems: string[],
  maxBytes: number | undefined,
): { reason: string | null; problems: string[] } {
  if (maxBytes === undefined) return { reason, problems };
  const shownReason = reason === null ? null : headOf(reason, maxBytes);
  let left = maxBytes - (shownReason === null ? 0 : bytesOf(shownReason));
  const shown: string[] = [];
  for (const problem of problems) {
    left -= bytesOf(problem);
    if (left < 0) break;
    shown.push(problem);
  }
  const rest = problems.length - shown.length;
  if (rest > 0) shown.push(`[… ${rest} more problem${rest === 1 ? "" : "s"} not shown: logs.max_bytes]`);
  return { reason: shownReason, problems: shown };
}
