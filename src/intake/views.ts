/**
 * The server's side of the participant views (contract.ts): a submission record as its owner may see it,
 * its logs, reason, problems and results.json per the phase's log visibility (src/logs/diagnostics.ts:
 * where it is `none`, the status and a reason class only), scores rounded to the competition's precision.
 * `state` and `attempt` are the current attempt's; the status, score and logs are the standing result's
 * (a re-run under way, failed or cancelled leaves the earlier score there), and `earlier_attempts` are
 * the other attempts that ended with a result, each with its own outcome.
 */
import { logVisibility, type Competition, type Phase } from "../config/index.js";
import { roundScore, type QuotaStatus } from "../leaderboard/index.js";
import {
  describeReasonClass,
  participantAttempts,
  participantShowing,
  type LogShowing,
} from "../logs/index.js";
import type { RunStatus } from "../status/index.js";
import type { AttemptRecord, PhaseView, QuotaView, SubmissionView } from "../gateway-api/index.js";
import { phaseAt, type Lifecycle } from "../lifecycle/index.js";
import type { SubmissionRecord } from "./db.js";

export function quotaView(q: QuotaStatus): QuotaView {
  return {
    used_today: q.usedToday,
    daily_limit: q.dailyLimit,
    remaining_today: q.remainingToday,
    used_total: q.usedTotal,
    total_limit: q.totalLimit,
    remaining_total: q.remainingTotal,
    resets_at: q.resetsAt,
  };
}

/** The current phase and the next (PhaseView); null where there are no phases. */
export function phaseView(lifecycle: Lifecycle, now: Date): PhaseView | null {
  if (lifecycle.phases.length === 0) return null;
  const current = phaseAt(lifecycle, now);
  const next = lifecycle.phases.find((p) => p.start > now);
  return {
    current: current
      ? {
          name: current.name,
          title: current.title,
          final: current.final,
          ends_at: current.end?.toISOString() ?? null,
        }
      : null,
    next: next ? { name: next.name, title: next.title, starts_at: next.start.toISOString() } : null,
  };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * The organizers' scorer failing is theirs: its cause (the end of the scorer's stderr) goes to them only;
 * the participant is told it waits for them, whatever the phase shows.
 */
const WAITING = describeReasonClass({ kind: "organizer_fault" });
const participantReason = (status: RunStatus | null, reason: string | null) =>
  status === "scorer_failed" ? WAITING : reason;

/**
 * The attempts that ended with a result other than the standing one (a cancelled one shows as `state`).
 * A re-score that does not stand is the organizers' (a dry run, or one they did not apply): not shown.
 */
function otherAttempts(record: SubmissionRecord): AttemptRecord[] {
  return record.attempts.flatMap((a) =>
    a.attempt === record.standingAttempt ||
    a.status === null ||
    a.status === "cancelled" ||
    a.job === "rescore"
      ? []
      : [{ attempt: a.attempt, status: a.status, reason: a.reason ?? "", at: a.endedAt ?? "" }],
  );
}

export function submissionView(
  record: SubmissionRecord,
  competition: Competition,
  phase: Phase,
): SubmissionView {
  const logs: LogShowing = {
    visibility: logVisibility(competition, phase),
    tailLines: competition.logs.tailLines,
    maxBytes: competition.logs.maxBytes,
  };
  const shown = participantShowing(record, logs);
  return {
    submission_id: record.id,
    participant: record.participant,
    cpu_or_gpu: record.cpuOrGpu,
    submitted_at: record.submittedAt,
    zip_sha256: record.zipSha256,
    zip_bytes: record.zipBytes,
    state: record.state,
    phase: record.phase,
    note: record.note,
    disqualified: record.disqualified,
    chosen: record.chosen,
    status: record.status,
    reason_class: shown.reasonClass,
    reason: participantReason(record.status, shown.reason),
    public_score: roundScore(record.publicScore, competition.leaderboard.precision),
    score_precision: competition.leaderboard.precision,
    duration_ms: record.durationMs,
    image_digest: record.imageDigest,
    started_at: iso(record.startedAtMs),
    finished_at: record.finishedAt,
    // Where it stands in the queue is the queue's to say (src/queue-status: the gateway fills these in).
    queue_position: null,
    eta_seconds: null,
    slots_online: null,
    runner: record.state === "running" ? record.claimedBy : null,
    attempt: record.attempt,
    earlier_attempts: participantAttempts(otherAttempts(record), logs).map((a) => ({
      ...a,
      reason: participantReason(a.status, a.reason)!,
    })),
    dispatch: {
      state: record.dispatchState,
      attempts: record.dispatchAttempts,
      dispatched_at: record.dispatchedAt,
      next_attempt_at:
        record.state === "queued" || record.state === "running" ? iso(record.nextDispatchAtMs) : null,
      last_error:
        record.dispatchError === null
          ? null
          : "the runners could not be reached yet; the intake retries by itself, nothing to do",
    },
    logs: {
      // An infrastructure fault is not the participant's and shows nothing of the run (it is run again).
      visibility: record.status === "infrastructure_error" ? "none" : logs.visibility,
      stdout: shown.stdout,
      stderr: shown.stderr,
    },
    problems: shown.problems,
    usage: record.status === "infrastructure_error" ? null : record.usage,
    results_json: shown.resultsJson,
  };
}
