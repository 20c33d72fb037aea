/**
 * One leaderboard entry: the outcome of one submission run. The submission id is the key; recording the
 * same id again replaces the entry (so re-posting a result is idempotent).
 *
 * Private scores are sealed (see seal.ts) before they are stored: `sealedPrivateScore` is what a store
 * keeps, `privateScore` is the plain value and only ever lives in memory, after `reveal()`.
 */
import { z } from "zod";
import { PHASE_NAME } from "../lifecycle/index.js";
import { RUN_STATUSES, type RunStatus } from "../status/index.js";

export interface LeaderboardEntry {
  submissionId: string;
  participant: string;
  /** ISO 8601 instant; stores hand it back normalised to UTC (`Date#toISOString`). */
  submittedAt: string;
  status: RunStatus;
  publicScore: number | null;
  /** Plain private score: in memory only (filled by `reveal`); stores refuse to persist it. */
  privateScore: number | null;
  /** The private score sealed to the organizer's public key; what stores persist. */
  sealedPrivateScore: string | null;
  durationMs: number;
  /** Digest of the runtime image the run used; "" when no container ran (e.g. invalid_submission). */
  imageDigest: string;
  /** sha256 (lowercase hex) of the submitted zip; "" when unknown (e.g. the download failed). */
  zipSha256: string;
  /** The OCI runtime the run used (runc, runsc for gVisor); absent where it was not recorded. */
  runtime?: string;
  /**
   * The models image the run had at /code_execution/models (runtime/models.yml's digest, `sha256:<hex>`);
   * absent where the run mounted none (no models, an image submission, no container ran, older entries).
   */
  modelsDigest?: string;
  /**
   * What scored it: the digest of the metric or custom scorer (scoring/setup-digest.ts, 64 hex); absent
   * where it was not recorded. Public: the ground truth's digest never is an entry's.
   */
  scorerDigest?: string;
  /** The competition phase it was submitted in (timeline.phases[].name); absent where there are none. */
  phase?: string;
}

/** A models digest as entries and result reports carry it: anything else is refused where it comes in. */
export const MODELS_DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;
export const MODELS_DIGEST_RULE = "must be sha256: and 64 lowercase hex digits (runtime/models.yml's digest)";

export class EntryError extends Error {
  override name = "EntryError";
}

const score = z.number({ error: "must be a finite number or null" }).nullable();

export const LeaderboardEntrySchema = z
  .object({
    submissionId: z.string().min(1, "must not be empty").max(200, "must be at most 200 characters"),
    participant: z.string().min(1, "must not be empty").max(200, "must be at most 200 characters"),
    submittedAt: z.iso.datetime({ offset: true, message: "must be an ISO 8601 date-time with a time zone" }),
    status: z.enum(RUN_STATUSES),
    publicScore: score,
    privateScore: score,
    sealedPrivateScore: z.string().min(1).nullable(),
    durationMs: z.number().int("must be whole milliseconds").nonnegative(),
    imageDigest: z.string().max(300),
    zipSha256: z.string().regex(/^([0-9a-f]{64})?$/, "must be 64 lowercase hex characters, or empty"),
    runtime: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "must be an OCI runtime name such as runc or runsc")
      .optional(),
    modelsDigest: z.string().regex(MODELS_DIGEST_PATTERN, MODELS_DIGEST_RULE).optional(),
    scorerDigest: z
      .string()
      .regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits (the metric's or scorer's sha256)")
      .optional(),
    phase: z
      .string()
      .regex(
        PHASE_NAME,
        "must be a phase name of competition.yml's timeline (lowercase letters, digits, _ or -)",
      )
      .optional(),
  })
  .strict()
  .superRefine((entry, ctx) => {
    if (entry.status !== "succeeded") {
      for (const key of ["publicScore", "privateScore", "sealedPrivateScore"] as const) {
        if (entry[key] !== null) {
          ctx.addIssue({
            code: "custom",
            path: [key],
            message: `only succeeded runs carry scores, but status is ${entry.status}; set it to null`,
          });
        }
      }
    }
  });

/**
 * Checks an entry and returns a copy with `submittedAt` normalised to UTC. Throws an `EntryError` that
 * names the submission, the field and the rule.
 */
export function validateEntry(input: unknown): LeaderboardEntry {
  const result = LeaderboardEntrySchema.safeParse(input);
  if (!result.success) {
    const id =
      typeof input === "object" && input !== null && "submissionId" in input
        ? JSON.stringify((input as { submissionId: unknown }).submissionId)
        : "(no submissionId)";
    const problems = result.error.issues
      .map((issue) => `${issue.path.join(".") || "(entry)"}: ${issue.message}`)
      .join("; ");
    throw new EntryError(`leaderboard entry ${id} is invalid: ${problems}`);
  }
  return { ...result.data, submittedAt: new Date(result.data.submittedAt).toISOString() };
}

/** A run that produced a public score the leaderboard can rank. */
export function isScored(entry: LeaderboardEntry): boolean {
  return entry.status === "succeeded" && entry.publicScore !== null;
}
