/**
 * Where leaderboard entries live. Every method is async so a store backed by a remote (e.g. a GitHub
 * branch) can implement the same interface; the SQLite store answers synchronously underneath.
 */
import type { RunStatus } from "../status/index.js";
import { validateEntry, type LeaderboardEntry } from "./entry.js";
import { countsTowardLimits } from "./quota.js";

export interface EntryFilter {
  participant?: string;
  statuses?: readonly RunStatus[];
  /** Entries submitted at or after this instant. */
  since?: Date;
  /** Entries submitted strictly before this instant. */
  until?: Date;
}

export interface LeaderboardStore {
  /**
   * Inserts the entry, or replaces the entry with the same submission id (idempotent). Validates it and
   * refuses a plain `privateScore`: stores keep private scores sealed only.
   */
  record(entry: LeaderboardEntry): Promise<void>;
  get(submissionId: string): Promise<LeaderboardEntry | undefined>;
  /** Entries ordered by submission time, then submission id. `privateScore` is always null. */
  list(filter?: EntryFilter): Promise<LeaderboardEntry[]>;
  /**
   * How many of the participant's submissions (at or after `since`, when given) count toward limits
   * (`countedStatuses` in quota.ts says which).
   */
  countSubmissions(participant: string, since: Date | undefined, countFailed: boolean): Promise<number>;
  close(): Promise<void>;
}

export class StoreError extends Error {
  override name = "StoreError";
}

/** Shared by stores: validates and refuses to persist a plain private score. */
export function entryForStorage(entry: LeaderboardEntry): LeaderboardEntry {
  const valid = validateEntry(entry);
  if (valid.privateScore !== null) {
    throw new StoreError(
      `entry ${JSON.stringify(valid.submissionId)} carries a plain privateScore; stores keep private ` +
        `scores sealed only: seal it with sealScore() into sealedPrivateScore and set privateScore to null`,
    );
  }
  return valid;
}

function matches(entry: LeaderboardEntry, filter: EntryFilter): boolean {
  if (filter.participant !== undefined && entry.participant !== filter.participant) return false;
  if (filter.statuses !== undefined && !filter.statuses.includes(entry.status)) return false;
  const at = Date.parse(entry.submittedAt);
  if (filter.since !== undefined && at < filter.since.getTime()) return false;
  if (filter.until !== undefined && at >= filter.until.getTime()) return false;
  return true;
}

export function compareBySubmission(a: LeaderboardEntry, b: LeaderboardEntry): number {
  const byTime = Date.parse(a.submittedAt) - Date.parse(b.submittedAt);
  if (byTime !== 0) return byTime;
  return a.submissionId < b.submissionId ? -1 : a.submissionId > b.submissionId ? 1 : 0;
}

/**
 * A store in process memory: for tests, previews, and as the reference behaviour other stores (e.g. a
 * GitHub-branch store) must match.
 */
export class MemoryLeaderboardStore implements LeaderboardStore {
  readonly #entries = new Map<string, LeaderboardEntry>();
  #closed = false;

  async record(entry: LeaderboardEntry): Promise<void> {
    this.#open();
    const valid = entryForStorage(entry);
    this.#entries.set(valid.submissionId, valid);
  }

  async get(submissionId: string): Promise<LeaderboardEntry | undefined> {
    this.#open();
    const entry = this.#entries.get(submissionId);
    return entry === undefined ? undefined : { ...entry };
  }

  async list(filter: EntryFilter = {}): Promise<LeaderboardEntry[]> {
    this.#open();
    return [...this.#entries.values()]
      .filter((e) => matches(e, filter))
      .sort(compareBySubmission)
      .map((e) => ({ ...e }));
  }

  async countSubmissions(
    participant: string,
    since: Date | undefined,
    countFailed: boolean,
  ): Promise<number> {
    this.#open();
    let count = 0;
    for (const e of this.#entries.values()) {
      if (e.participant !== participant || !countsTowardLimits(e.status, countFailed)) continue;
      if (since !== undefined && Date.parse(e.submittedAt) < since.getTime()) continue;
      count += 1;
    }
    return count;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new StoreError("the leaderboard store is closed");
  }
}
