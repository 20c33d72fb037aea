/**
 * Submission limits, checked before a run starts. Days start at UTC midnight. What counts is decided here
 * once (`countedStatuses`), for the stores in memory and in SQL alike: every entry of the participant
 * except infrastructure_error, and — unless `countFailed` — except runs that did not succeed.
 *
 * The check reads the store; it reserves nothing. Two submissions checked at the same moment can both be
 * allowed, so a caller that must be exact serialises check + record per participant.
 */
import { isParticipantOutcome, RUN_STATUSES, type RunStatus } from "../status/index.js";
import type { LeaderboardRules } from "./rules.js";
import type { LeaderboardStore } from "./store.js";

export interface QuotaStatus {
  allowed: boolean;
  usedToday: number;
  /** null: no daily limit. */
  dailyLimit: number | null;
  remainingToday: number | null;
  usedTotal: number;
  /** null: no total limit. */
  totalLimit: number | null;
  remainingTotal: number | null;
  /**
   * When the daily count starts over (next UTC midnight, ISO). null when there is no daily limit, or when
   * the total limit is used up (then nothing resets).
   */
  resetsAt: string | null;
  /** Why the submission is refused: which limit, how it was used, and when (if ever) it resets. */
  reason?: string;
}

/**
 * The run statuses that count toward a participant's submission limits: infrastructure errors and the
 * organizers' scorer failing never count; other failed runs count only when `countFailed` is true.
 */
export function countedStatuses(countFailed: boolean): RunStatus[] {
  return RUN_STATUSES.filter(
    (status) => isParticipantOutcome(status) && (countFailed || status === "succeeded"),
  );
}

/** Whether a run with this status counts toward limits (`countedStatuses`, for a store in memory). */
export function countsTowardLimits(status: RunStatus, countFailed: boolean): boolean {
  return countedStatuses(countFailed).includes(status);
}

/**
 * `countedStatuses` as a SQL condition on a status column, with its parameters, for stores in SQLite:
 * `status IN (?, ?)`.
 */
export function countedStatusesSql(
  column: string,
  countFailed: boolean,
): { sql: string; params: RunStatus[] } {
  const params = countedStatuses(countFailed);
  return { sql: `${column} IN (${params.map(() => "?").join(", ")})`, params };
}

export function startOfUtcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

export function nextUtcMidnight(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
}

function plural(n: number): string {
  return `${n} submission${n === 1 ? "" : "s"}`;
}

export async function checkQuota(
  store: LeaderboardStore,
  participant: string,
  rules: LeaderboardRules,
  now: Date = new Date(),
): Promise<QuotaStatus> {
  if (Number.isNaN(now.getTime())) throw new RangeError("checkQuota: `now` is not a valid date");
  const dayStart = startOfUtcDay(now);
  const [usedToday, usedTotal] = await Promise.all([
    store.countSubmissions(participant, dayStart, rules.countFailed),
    store.countSubmissions(participant, undefined, rules.countFailed),
  ]);
  const { dailyLimit, totalLimit } = rules;
  const remainingToday = dailyLimit === null ? null : Math.max(0, dailyLimit - usedToday);
  const remainingTotal = totalLimit === null ? null : Math.max(0, totalLimit - usedTotal);
  const totalUsedUp = remainingTotal === 0;
  const resetsAt = dailyLimit === null || totalUsedUp ? null : nextUtcMidnight(now).toISOString();
  const counted = rules.countFailed ? "runs, failed ones included," : "successful runs";

  let reason: string | undefined;
  if (totalUsedUp) {
    reason =
      `total submission limit reached: ${participant} has used ${usedTotal} of ${plural(totalLimit!)} ` +
      `allowed for this competition (counting ${counted} infrastructure errors excluded); this limit does ` +
      `not reset`;
  } else if (remainingToday === 0) {
    reason =
      `daily submission limit reached: ${participant} has used ${usedToday} of ${plural(dailyLimit!)} ` +
      `allowed per day (counting ${counted} infrastructure errors excluded); it resets at ${resetsAt} ` +
      `(midnight UTC)`;
  }
  return {
    allowed: reason === undefined,
    usedToday,
    dailyLimit,
    remainingToday,
    usedTotal,
    totalLimit,
    remainingTotal,
    resetsAt,
    ...(reason === undefined ? {} : { reason }),
  };
}
