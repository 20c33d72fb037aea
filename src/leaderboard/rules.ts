/**
 * Leaderboard rules: how entries are ranked and how many submissions a participant may make. The config
 * room maps competition.yml onto this shape; `parseRules` fills the defaults and reports precise errors.
 */
import { z } from "zod";

const limit = z
  .number()
  .int("must be a whole number")
  .positive("must be at least 1 (use null for no limit)")
  .nullable();

export const RulesSchema = z
  .object({
    /** Whether a higher or a lower score is better. No default: it depends on the metric. */
    direction: z.enum(["higher", "lower"]),
    /**
     * Decimals shown. Scores are also *compared* at this precision, so two rows that look equal are
     * ordered by the tie-break, never by float noise below what is shown.
     */
    precision: z.number().int("must be a whole number").min(0).max(12).default(4),
    /** Which of a participant's scored entries represents them: their best, or their latest. */
    selection: z.enum(["best", "latest"]).default("best"),
    /** Equal (shown) scores: the entry submitted earlier ranks higher. */
    tieBreak: z.literal("earlier_submission").default("earlier_submission"),
    /** Submissions per participant per day (day = `dayBoundary`); null for no limit. */
    dailyLimit: limit.default(null),
    /** Submissions per participant for the whole competition; null for no limit. */
    totalLimit: limit.default(null),
    /**
     * Whether runs that did not succeed (failed, timed_out, invalid_submission, ...) count toward the
     * limits. infrastructure_error never counts, whatever this says.
     */
    countFailed: z.boolean().default(true),
    /** When the daily count starts over. Only UTC midnight is supported. */
    dayBoundary: z.literal("UTC").default("UTC"),
  })
  .strict();

/** Rules with every default filled in. */
export type LeaderboardRules = z.output<typeof RulesSchema>;
/** What a caller may write: only `direction` is required. */
export type LeaderboardRulesInput = z.input<typeof RulesSchema>;

export class RulesError extends Error {
  override name = "RulesError";
}

/** Validates rules (e.g. the `leaderboard:` block of competition.yml) and fills defaults. */
export function parseRules(input: unknown, source = "leaderboard rules"): LeaderboardRules {
  const result = RulesSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const where = issue.path.length > 0 ? issue.path.join(".") : "(top level)";
    return `${where}: ${issue.message}`;
  });
  throw new RulesError(`${source} are invalid: ${problems.join("; ")}`);
}
