/**
 * Every submission for the organizers (`GET /v1/admin/export?format=csv|json`, `proctor admin export`): its
 * phase, attempts and their statuses, the standing status and scores, what it ran and was scored with (the
 * image, models, scorer and ground truth digests: the last is for organizers only), and whether it or
 * its participant is disqualified. A private score appears only once revealed, and only for the entries the
 * final selection kept (reveal.ts): the sealed values never leave the record.
 */
import { stringify } from "csv-stringify/sync";
import type { IntakeDb, SubmissionRecord } from "./db.js";
import type { RevealedBoard } from "./reveal.js";

export const EXPORT_FORMAT = "proctor.export/v1";
export const EXPORT_FORMATS = ["csv", "json"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportedAttempt {
  attempt: number;
  why: string;
  runner: string | null;
  status: string | null;
  public_score: number | null;
  ended_at: string | null;
}

export interface ExportRow {
  submission_id: string;
  participant: string;
  phase: string | null;
  cpu_or_gpu: string;
  submitted_at: string;
  state: string;
  status: string | null;
  public_score: number | null;
  /** Null until the reveal, and for entries the final selection did not keep. */
  private_score: number | null;
  chosen: boolean;
  /** The submission's disqualification reason, or its participant's; null when neither. */
  disqualified: string | null;
  submission_sha256: string;
  image_digest: string | null;
  /** What made the standing score: the models image, the metric or scorer, the ground truth (organizers only). */
  models_digest: string | null;
  scorer_digest: string | null;
  ground_truth_digest: string | null;
  duration_ms: number | null;
  attempts: ExportedAttempt[];
}

export interface ExportDocument {
  format: typeof EXPORT_FORMAT;
  competition: string;
  exported_at: string;
  /** When the private scores were revealed; null before. */
  revealed_at: string | null;
  submissions: ExportRow[];
}

/** Every submission, oldest first. */
export function exportSubmissions(
  db: IntakeDb,
  competition: string,
  revealed: RevealedBoard | null,
  now: Date,
): ExportDocument {
  const participantsOut = db.disqualifiedParticipants();
  const privateScores = new Map((revealed?.entries ?? []).map((e) => [e.submissionId, e.privateScore]));
  const rows = db.listAll({ limit: Number.MAX_SAFE_INTEGER }).reverse();
  return {
    format: EXPORT_FORMAT,
    competition,
    exported_at: now.toISOString(),
    revealed_at: revealed?.revealedAt ?? null,
    submissions: rows.map((r) => exportRow(r, participantsOut, privateScores)),
  };
}

function exportRow(
  r: SubmissionRecord,
  participantsOut: Map<string, string>,
  privateScores: Map<string, number | null>,
): ExportRow {
  const participantOut = participantsOut.get(r.participant);
  return {
    submission_id: r.id,
    participant: r.participant,
    phase: r.phase,
    cpu_or_gpu: r.cpuOrGpu,
    submitted_at: r.submittedAt,
    state: r.state,
    status: r.status,
    public_score: r.status === "succeeded" ? r.publicScore : null,
    private_score: privateScores.get(r.id) ?? null,
    chosen: r.chosen,
    disqualified: r.disqualified ?? (participantOut === undefined ? null : `participant: ${participantOut}`),
    submission_sha256: r.zipSha256,
    image_digest: r.imageDigest,
    models_digest: r.modelsDigest,
    scorer_digest: r.scorerDigest,
    ground_truth_digest: r.groundTruthDigest,
    duration_ms: r.durationMs,
    attempts: r.attempts.map((a) => ({
      attempt: a.attempt,
      why: a.why,
      runner: a.runner,
      status: a.status,
      public_score: a.publicScore,
      ended_at: a.endedAt,
    })),
  };
}

const CSV_COLUMNS = [
  "submission_id",
  "participant",
  "phase",
  "cpu_or_gpu",
  "submitted_at",
  "state",
  "status",
  "public_score",
  "private_score",
  "chosen",
  "disqualified",
  "submission_sha256",
  "image_digest",
  "models_digest",
  "scorer_digest",
  "ground_truth_digest",
  "duration_ms",
  "attempts",
  "attempt_statuses",
] as const;

/**
 * One row per submission; its attempts as `1:infrastructure_error;2:succeeded`. Text a participant chose
 * (their name, a disqualification reason quoting them) that a spreadsheet would read as a formula is
 * prefixed with a quote mark (OWASP's CSV injection advice); numbers stay numbers.
 */
export function exportCsv(document: ExportDocument): string {
  return stringify(
    document.submissions.map((row) => ({
      ...row,
      participant: inert(row.participant),
      disqualified: row.disqualified === null ? "" : inert(row.disqualified),
      chosen: row.chosen ? "yes" : "no",
      attempts: row.attempts.length,
      attempt_statuses: row.attempts.map((a) => `${a.attempt}:${a.status ?? "under way"}`).join(";"),
    })),
    { header: true, columns: [...CSV_COLUMNS], cast: { number: (n) => String(n) } },
  );
}

const FORMULA_START = /^[=+\-@\t\r]/;

function inert(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}
