/**
 * The default, local leaderboard store: one SQLite file, opened by the sqlite room (WAL, busy timeout,
 * migrations under the write lock). Safe with several processes writing at once: every write is an
 * IMMEDIATE transaction.
 */
import { openSqlite, schemaVersion, type SqliteDatabase, type SqliteStatement } from "../sqlite/index.js";
import type { RunStatus } from "../status/index.js";
import type { LeaderboardEntry } from "./entry.js";
import { countedStatusesSql } from "./quota.js";
import { entryForStorage, StoreError, type EntryFilter, type LeaderboardStore } from "./store.js";

/** Schema version this code writes; `PRAGMA user_version` holds the version of a file. */
export const SCHEMA_VERSION = 2;

/** MIGRATIONS[n] upgrades a file from version n to n + 1. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE entries (
     submission_id        TEXT PRIMARY KEY NOT NULL,
     participant          TEXT NOT NULL,
     submitted_at         TEXT NOT NULL,
     submitted_at_ms      INTEGER NOT NULL,
     status               TEXT NOT NULL,
     public_score         REAL,
     sealed_private_score TEXT,
     duration_ms          INTEGER NOT NULL,
     image_digest         TEXT NOT NULL,
     zip_sha256           TEXT NOT NULL
   ) STRICT;
   CREATE INDEX entries_by_participant_time ON entries (participant, submitted_at_ms);
   CREATE INDEX entries_by_time ON entries (submitted_at_ms, submission_id);`,
  `ALTER TABLE entries ADD COLUMN runtime TEXT;`,
];

export interface SqliteStoreOptions {
  /** How long a writer waits for another process's lock before failing (default 10 s). */
  busyTimeoutMs?: number;
  /** Open an existing file read-only (e.g. to render); it must already hold the current schema. */
  readonly?: boolean;
}

interface Row {
  submission_id: string;
  participant: string;
  submitted_at: string;
  submitted_at_ms: number;
  status: string;
  public_score: number | null;
  sealed_private_score: string | null;
  duration_ms: number;
  image_digest: string;
  zip_sha256: string;
  runtime: string | null;
}

function fromRow(row: Row): LeaderboardEntry {
  return {
    submissionId: row.submission_id,
    participant: row.participant,
    submittedAt: row.submitted_at,
    status: row.status as RunStatus,
    publicScore: row.public_score,
    privateScore: null,
    sealedPrivateScore: row.sealed_private_score,
    durationMs: row.duration_ms,
    imageDigest: row.image_digest,
    zipSha256: row.zip_sha256,
    ...(row.runtime !== null && { runtime: row.runtime }),
  };
}

export class SqliteLeaderboardStore implements LeaderboardStore {
  readonly path: string;
  readonly #db: SqliteDatabase;
  readonly #upsert: SqliteStatement;
  readonly #get: SqliteStatement<[string], Row>;
  #closed = false;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.path = path;
    this.#db = openSqlite(path, {
      what: "leaderboard database",
      schema: { version: SCHEMA_VERSION, migrations: MIGRATIONS },
      error: (message) => new StoreError(message),
      ...options,
    });
    try {
      this.#upsert = this.#db.prepare(
        `INSERT INTO entries (submission_id, participant, submitted_at, submitted_at_ms, status, public_score,
                              sealed_private_score, duration_ms, image_digest, zip_sha256, runtime)
         VALUES (@submission_id, @participant, @submitted_at, @submitted_at_ms, @status, @public_score,
                 @sealed_private_score, @duration_ms, @image_digest, @zip_sha256, @runtime)
         ON CONFLICT (submission_id) DO UPDATE SET
           participant = excluded.participant, submitted_at = excluded.submitted_at,
           submitted_at_ms = excluded.submitted_at_ms, status = excluded.status,
           public_score = excluded.public_score, sealed_private_score = excluded.sealed_private_score,
           duration_ms = excluded.duration_ms, image_digest = excluded.image_digest,
           zip_sha256 = excluded.zip_sha256, runtime = excluded.runtime`,
      );
      this.#get = this.#db.prepare<[string], Row>("SELECT * FROM entries WHERE submission_id = ?");
    } catch (error) {
      this.#db.close();
      throw new StoreError(`cannot open leaderboard database ${path}: ${(error as Error).message}`);
    }
  }

  /** Schema version of the open file. */
  get schemaVersion(): number {
    return schemaVersion(this.#db);
  }

  async record(entry: LeaderboardEntry): Promise<void> {
    this.recordMany([entry]);
  }

  /** Records several entries in one transaction (all or none). Synchronous; used for bulk imports. */
  recordMany(entries: readonly LeaderboardEntry[]): void {
    this.#open();
    const rows = entries.map((entry) => {
      const e = entryForStorage(entry);
      return {
        submission_id: e.submissionId,
        participant: e.participant,
        submitted_at: e.submittedAt,
        submitted_at_ms: Date.parse(e.submittedAt),
        status: e.status,
        public_score: e.publicScore,
        sealed_private_score: e.sealedPrivateScore,
        duration_ms: e.durationMs,
        image_digest: e.imageDigest,
        zip_sha256: e.zipSha256,
        runtime: e.runtime ?? null,
      };
    });
    const write = this.#db.transaction(() => {
      for (const row of rows) this.#upsert.run(row);
    });
    write.immediate();
  }

  async get(submissionId: string): Promise<LeaderboardEntry | undefined> {
    this.#open();
    const row = this.#get.get(submissionId);
    return row === undefined ? undefined : fromRow(row);
  }

  async list(filter: EntryFilter = {}): Promise<LeaderboardEntry[]> {
    this.#open();
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.participant !== undefined) {
      where.push("participant = ?");
      params.push(filter.participant);
    }
    if (filter.statuses !== undefined) {
      if (filter.statuses.length === 0) return [];
      where.push(`status IN (${filter.statuses.map(() => "?").join(", ")})`);
      params.push(...filter.statuses);
    }
    if (filter.since !== undefined) {
      where.push("submitted_at_ms >= ?");
      params.push(filter.since.getTime());
    }
    if (filter.until !== undefined) {
      where.push("submitted_at_ms < ?");
      params.push(filter.until.getTime());
    }
    const sql =
      "SELECT * FROM entries" +
      (where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "") +
      " ORDER BY submitted_at_ms, submission_id";
    return this.#db
      .prepare<(string | number)[], Row>(sql)
      .all(...params)
      .map(fromRow);
  }

  async countSubmissions(
    participant: string,
    since: Date | undefined,
    countFailed: boolean,
  ): Promise<number> {
    this.#open();
    const counted = countedStatusesSql("status", countFailed);
    const sql =
      `SELECT COUNT(*) AS n FROM entries WHERE participant = ? AND ${counted.sql}` +
      (since !== undefined ? " AND submitted_at_ms >= ?" : "");
    const params = [participant, ...counted.params, ...(since !== undefined ? [since.getTime()] : [])];
    const row = this.#db.prepare<(string | number)[], { n: number }>(sql).get(...params);
    return row?.n ?? 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  #open(): void {
    if (this.#closed) throw new StoreError(`the leaderboard store ${this.path} is closed`);
  }
}
