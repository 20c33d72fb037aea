/**
 * The organizer's hand on the queue (`proctor admin` and the gateway's /admin page): list it with states
 * and ages, read one submission whole (everything the runner reported, the program's text included, which
 * a hidden-set phase never shows its participant), run a submission again, cancel one, disqualify a
 * submission or a participant, and re-score after a metric fix (rescore.ts: the kept predictions scored
 * again, the program not run). Re-runs and cancels are transitions of the table (transitions.ts). It writes the records only:
 * a submission queued again has its dispatch pending and due now, and the gateway's sweeper sends it
 * (within its interval), so this works from the command line beside a running gateway.
 */
import { participantShowing } from "../logs/index.js";
import type { RunStatus } from "../status/index.js";
import type { IntakeDb, SubmissionRecord } from "./db.js";
import { SubmissionNotFoundError } from "./errors.js";
import { isSubmissionId } from "../gateway-api/index.js";
import type { PredictionFiles } from "./predictions.js";
import { Rescores } from "./rescore.js";
import { TransitionRefusedError, type State, type SubmissionEvent } from "./transitions.js";

export class OrganizerError extends Error {
  override name = "OrganizerError";
}

export interface QueueRow {
  submission_id: string;
  participant: string;
  cpu_or_gpu: string;
  phase: string | null;
  state: string;
  status: RunStatus | null;
  attempt: number;
  dispatch: string;
  submitted_at: string;
  /** Since submission, in ms. */
  age_ms: number;
  /** Since the current attempt started running, in ms; null when not running. */
  running_ms: number | null;
  public_score: number | null;
  disqualified: string | null;
  note: string | null;
}

/** A submission as the organizers read it (Organizer.submission). */
export type OrganizerSubmission = Omit<SubmissionRecord, "sealedPrivateScore"> & {
  /** The reason its participant is told in a phase whose logs are `none`. */
  hiddenPhaseReason: string | null;
};

export class Organizer {
  /** Re-scores of kept predictions (rescore.ts). */
  readonly rescores: Rescores;

  constructor(
    private readonly db: IntakeDb,
    private readonly clock: () => Date,
    predictions: PredictionFiles,
  ) {
    this.rescores = new Rescores(db, clock, predictions);
  }

  queue(options: { all?: boolean; limit?: number } = {}): QueueRow[] {
    const now = this.clock().getTime();
    return this.db.listAll({ active: !options.all, limit: options.limit ?? 500 }).map((r) => ({
      submission_id: r.id,
      participant: r.participant,
      cpu_or_gpu: r.cpuOrGpu,
      phase: r.phase,
      state: r.state,
      status: r.status,
      attempt: r.attempt,
      dispatch: r.dispatchState,
      submitted_at: r.submittedAt,
      age_ms: now - r.submittedAtMs,
      running_ms: r.state === "running" && r.startedAtMs !== null ? now - r.startedAtMs : null,
      public_score: r.publicScore,
      disqualified: r.disqualified,
      note: r.note,
    }));
  }

  /**
   * One submission as the organizers see it: the record whole (reason, problems, logs, results.json as the
   * runner reported them; never the private score) and the class its participant is shown where the phase
   * shows no logs. SubmissionNotFoundError when there is none.
   */
  submission(id: string): OrganizerSubmission {
    const { sealedPrivateScore: _sealed, ...record } = this.#record(id);
    return {
      ...record,
      hiddenPhaseReason: participantShowing(record, { visibility: "none", tailLines: 0 }).reason,
    };
  }

  /**
   * `rerun`: a final or cancelled submission again, as its next attempt and a new run with its own tries;
   * its standing result stays on the leaderboard until the re-run's result takes its place (a score does;
   * a failure, a cancel or an infrastructure error leaves it). OrganizerError names the state otherwise.
   */
  rerun(id: string): SubmissionRecord {
    const record = this.#record(id);
    if (!this.db.rerun(id, this.clock().getTime())) {
      throw new OrganizerError(refused(id, this.db.getSubmission(id)?.state ?? record.state, "rerun"));
    }
    this.db.bumpResultsVersion();
    return this.db.getSubmission(id)!;
  }

  /** `cancel` of a queued or running submission (a runner that reports for it afterwards is told 409). */
  cancel(id: string): SubmissionRecord {
    const record = this.#record(id);
    if (!this.db.cancel(id, "organizer", this.clock().toISOString())) {
      throw new OrganizerError(refused(id, this.db.getSubmission(id)?.state ?? record.state, "cancel"));
    }
    return this.db.getSubmission(id)!;
  }

  /** Takes a submission off the leaderboards (reason shown to its owner), or puts it back (null). */
  disqualify(id: string, reason: string | null): SubmissionRecord {
    this.#record(id);
    this.db.setDisqualified(id, reason === null ? null : checkReason(reason));
    this.db.bumpResultsVersion();
    return this.db.getSubmission(id)!;
  }

  /** Takes a participant off the leaderboards and refuses their uploads. */
  disqualifyParticipant(participant: string, reason: string): void {
    this.db.disqualifyParticipant(participant, checkReason(reason), this.clock().toISOString());
    this.db.bumpResultsVersion();
  }

  #record(id: string): SubmissionRecord {
    const record = isSubmissionId(id) ? this.db.getSubmission(id) : undefined;
    if (!record) throw new SubmissionNotFoundError(id);
    return record;
  }
}

const refused = (id: string, state: State, event: SubmissionEvent) =>
  new TransitionRefusedError(id, state, event).message;

function checkReason(reason: string): string {
  const trimmed = reason.trim();
  if (trimmed.length === 0 || trimmed.length > 500) {
    throw new OrganizerError(
      `a disqualification needs a reason of 1 to 500 characters (it is shown to the participant), got ` +
        `${trimmed.length}`,
    );
  }
  return trimmed;
}
