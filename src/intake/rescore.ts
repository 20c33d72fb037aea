/**
 * Re-scoring without re-running (`proctor admin rescore`, the admin page's Re-score): after a metric, scorer
 * or ground-truth fix, each chosen submission's kept predictions (predictions.ts) are scored again by a
 * runner, which holds the hidden ground truth, as a scoring-only job (transitions.ts `rescore`); the
 * program never runs again. A re-score's result is recorded on its own attempt and stands only when the
 * organizer applies it (`apply_rescore`, all in one transaction), after seeing old and new scores and what
 * that does to the ranks. So a dry run is the same jobs, never applied: nothing a participant sees
 * changes, and the record keeps what each re-score found.
 */
import type { LeaderboardEntry, LeaderboardRules } from "../leaderboard/index.js";
import { rankEntries } from "../leaderboard/index.js";
import type { RunStatus } from "../status/index.js";
import { isParticipantOutcome } from "../status/index.js";
import { isSubmissionId } from "../gateway-api/index.js";
import type { AttemptRow, IntakeDb, SubmissionRecord } from "./db.js";
import { rankableEntries } from "./standing.js";
import type { PredictionFiles } from "./predictions.js";
import { TransitionRefusedError } from "./transitions.js";

/** The standing statuses a metric fix can change: runs that got as far as scoring. */
export const RESCORE_STATUSES: readonly RunStatus[] = [
  "succeeded",
  "output_invalid",
  "scoring_failed",
  "scorer_failed",
];

/** The attempt whose predictions made the standing result (a standing re-score's: the run it re-scored). */
function predictionsOf(r: SubmissionRecord): AttemptRow | undefined {
  const standing = r.attempts.find((a) => a.attempt === r.standingAttempt);
  return standing?.rescoreOf ? r.attempts.find((a) => a.attempt === standing.rescoreOf) : standing;
}

/** Which submissions: these ids, or every one with a scored standing result (of one phase). */
export interface RescoreSelection {
  ids?: readonly string[];
  phase?: string | undefined;
}

/** A re-score queued: the submission, the attempt it runs as, and the attempt whose predictions it scores. */
export interface RescoreJob {
  submission_id: string;
  participant: string;
  phase: string | null;
  attempt: number;
  of_attempt: number;
}

/** A submission that was not re-scored, and why (the input, the rule, what to do). */
export interface RescoreSkip {
  submission_id: string;
  reason: string;
}

export interface RescoreResult {
  submission_id: string;
  participant: string;
  phase: string | null;
  /** waiting: not scored yet; done: scored (or failed); superseded: something else happened to it since. */
  progress: "waiting" | "done" | "superseded";
  /** The attempt the re-score ended as (a lost one is retried as the next). */
  attempt: number;
  old: { status: RunStatus | null; public_score: number | null; attempt: number | null };
  new: { status: RunStatus | "cancelled" | null; public_score: number | null; reason: string | null };
  /** Whether applying it makes it stand: a participant's outcome; a scorer's or runner's failure never. */
  applicable: boolean;
}

export interface RankChange {
  /** The board: its phase (null where competition.yml names none). */
  phase: string | null;
  participant: string;
  before: number | null;
  after: number | null;
}

export class Rescores {
  constructor(
    private readonly db: IntakeDb,
    private readonly clock: () => Date,
    private readonly files: PredictionFiles,
  ) {}

  /** Queues a re-score of each selected submission that can have one; says why for each that cannot. */
  queue(selection: RescoreSelection): { jobs: RescoreJob[]; skipped: RescoreSkip[] } {
    const jobs: RescoreJob[] = [];
    const skipped: RescoreSkip[] = [];
    for (const [id, record] of this.#selected(selection)) {
      const why = record ? this.#cannot(record) : `no submission ${JSON.stringify(id)}`;
      if (why !== null) {
        skipped.push({ submission_id: id, reason: why });
        continue;
      }
      const r = record!;
      if (!this.db.rescore(id, this.clock().getTime())) {
        const now = this.db.getSubmission(id)!;
        skipped.push({
          submission_id: id,
          reason: new TransitionRefusedError(id, now.state, "rescore").message,
        });
        continue;
      }
      jobs.push({
        submission_id: id,
        participant: r.participant,
        phase: r.phase,
        attempt: r.attempt + 1,
        of_attempt: predictionsOf(r)!.attempt,
      });
    }
    return { jobs, skipped };
  }

  /** Where each job stands: its old (standing) and new result. */
  results(jobs: readonly RescoreJob[]): RescoreResult[] {
    return jobs.map((job) => {
      const r = this.db.getSubmission(job.submission_id)!;
      const mine = r.runFirstAttempt === job.attempt;
      const row = mine ? r.attempts.find((a) => a.attempt === r.attempt) : undefined;
      const done = mine && r.state !== "queued" && r.state !== "running";
      const status = done ? (row?.status ?? null) : null;
      return {
        submission_id: r.id,
        participant: r.participant,
        phase: r.phase,
        progress: !mine ? "superseded" : done ? "done" : "waiting",
        attempt: mine ? r.attempt : job.attempt,
        old: { status: r.status, public_score: r.publicScore, attempt: r.standingAttempt },
        new: {
          status,
          public_score: done ? (row?.publicScore ?? null) : null,
          reason: done ? (row?.reason ?? null) : null,
        },
        applicable:
          done &&
          r.state === "final" &&
          status !== null &&
          status !== "cancelled" &&
          isParticipantOutcome(status),
      };
    });
  }

  /**
   * Applies the finished re-scores that may stand, in one transaction: each one's result takes the place
   * of the standing result (`apply_rescore`, which refuses one that is not the latest attempt any more).
   * Returns the ids applied.
   */
  apply(results: readonly RescoreResult[]): string[] {
    const applicable = results.filter((r) => r.applicable);
    const done = this.db.applyRescores(applicable.map((r) => ({ id: r.submission_id, attempt: r.attempt })));
    const applied = applicable.filter((_, i) => done[i]).map((r) => r.submission_id);
    if (applied.length > 0) this.db.bumpResultsVersion();
    return applied;
  }

  /**
   * How applying `results` would move the public ranks on each board they are on (their phase's, by the
   * board's rules, nothing disqualified): every participant whose rank changes.
   */
  rankChanges(results: readonly RescoreResult[], rules: LeaderboardRules): RankChange[] {
    const changed = new Map(results.filter((r) => r.applicable).map((r) => [r.submission_id, r]));
    const ranks = (entries: LeaderboardEntry[]) =>
      new Map(rankEntries(entries, rules, { mode: "public" }).rows.map((row) => [row.participant, row.rank]));
    return [...new Set(results.map((r) => r.phase))].flatMap((phase) => {
      const before = rankableEntries(this.db, phase);
      const after = before.map((entry): LeaderboardEntry => {
        const r = changed.get(entry.submissionId);
        if (!r || r.new.status === null || r.new.status === "cancelled") return entry;
        const succeeded = r.new.status === "succeeded";
        return { ...entry, status: r.new.status, publicScore: succeeded ? r.new.public_score : null };
      });
      const [was, will] = [ranks(before), ranks(after)];
      return [...new Set([...was.keys(), ...will.keys()])]
        .map((participant) => ({
          phase,
          participant,
          before: was.get(participant) ?? null,
          after: will.get(participant) ?? null,
        }))
        .filter((c) => c.before !== c.after)
        .sort((a, b) => (a.after ?? Infinity) - (b.after ?? Infinity));
    });
  }

  /** The selected ids with their records (undefined: no such submission). */
  #selected(selection: RescoreSelection): [string, SubmissionRecord | undefined][] {
    if (selection.ids && selection.ids.length > 0) {
      return selection.ids.map((id) => [id, isSubmissionId(id) ? this.db.getSubmission(id) : undefined]);
    }
    return this.db
      .listStanding()
      .filter((r) => r.status !== null && RESCORE_STATUSES.includes(r.status))
      .filter((r) => selection.phase === undefined || r.phase === selection.phase)
      .map((r) => [r.id, r]);
  }

  /** Why a submission cannot be re-scored now (null: it can). */
  #cannot(r: SubmissionRecord): string | null {
    if (r.status === null || !RESCORE_STATUSES.includes(r.status)) {
      return (
        `its result is ${r.status ?? r.state}: it never got as far as scoring, so there is nothing to ` +
        `re-score (only ${RESCORE_STATUSES.join(", ")} are); \`proctor admin rerun ${r.id}\` runs it again`
      );
    }
    if (r.state === "queued" || r.state === "running") {
      return `attempt ${r.attempt} of it is ${r.state}: re-score it when that ends (or cancel it first)`;
    }
    const standing = predictionsOf(r);
    if (!standing?.predictionsSha256) {
      return (
        `attempt ${standing?.attempt ?? r.standingAttempt} (whose result stands) left no predictions on the gateway: it was ` +
        `scored before the gateway kept them, or by a runner too old to send them; it cannot be re-scored ` +
        `without running it: \`proctor admin rerun ${r.id}\``
      );
    }
    if (!this.files.has(r.id, standing.attempt)) {
      return (
        `the predictions of attempt ${standing.attempt} are missing from ${this.files.file(r.id, standing.attempt)} ` +
        `(the gateway recorded them, sha256 ${standing.predictionsSha256}): restore the file from a backup, ` +
        `or run it again with \`proctor admin rerun ${r.id}\``
      );
    }
    return null;
  }
}
