/**
 * The default, local leaderboard store: one SQLite file, opened by the sqlite room (WAL, busy timeout,
 * migrations under the write lock). Safe with several processes writing at once: every write is an
 * IMMEDIATE transaction.
 *
 * The file holds one board per competition and scoring setup (its name, and digests of its metric or
 * scorer, ground truth and format): a store reads and writes its own board only, so a changed metric or
 * ground truth starts a fresh board instead of ranking old scores with new ones. Entries from before
 * boards existed belong to the "unknown setup" board, never shown with a known one.
 */
import { createHash } from "node:crypto";
import { openSqlite, schemaVersion, type SqliteDatabase, type SqliteStatement } from "../sqlite/index.js";
import type { RunStatus } from "../status/index.js";
import type { LeaderboardEntry } from "./entry.js";
import { countedStatusesSql } from "./quota.js";
import { entryForStorage, StoreError, type EntryFilter, type LeaderboardStore } from "./store.js";

/** Schema version this code writes; `PRAGMA user_version` holds the version of a file. */
export const SCHEMA_VERSION = 4;

/** The board of entries recorded before boards were kept (and of a store opened without a board). */
export const UNKNOWN_BOARD = "unknown";

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
  `CREATE TABLE boards (
     board               TEXT PRIMARY KEY NOT NULL,
     competition         TEXT NOT NULL,
     metric_digest       TEXT NOT NULL,
     ground_truth_digest TEXT NOT NULL,
     format_digest       TEXT NOT NULL,
     created_at          TEXT NOT NULL
   ) STRICT;
   ALTER TABLE entries ADD COLUMN board TEXT NOT NULL DEFAULT '${UNKNOWN_BOARD}';
   CREATE INDEX entries_by_board_time ON entries (board, submitted_at_ms, submission_id);`,
  // The models image a run had mounted (entry.ts `modelsDigest`); older entries had none recorded.
  `ALTER TABLE entries ADD COLUMN models_digest TEXT;`,
];

/** Which competition and scoring setup a board is for: digests of what decides a score. */
export interface BoardKey {
  competition: string;
  /** The built-in metric's name, or the custom scorer's command and files. */
  metricDigest: string;
  groundTruthDigest: string;
  formatDigest: string;
}

/** Another board kept in the same file, as `otherBoards` tells it. */
export interface OtherBoard {
  /** Null for the "unknown setup" board (entries from before boards were kept). */
  competition: string | null;
  entries: number;
  /** What differs from this store's board when the competition is the same: "metric", "ground truth", "format". */
  changed: string[];
}

/** The board's id: the key's digest, so the same setup always finds its board again. */
export function boardId(key: BoardKey): string {
  return createHash("sha256")
    .update(JSON.stringify([key.competition, key.metricDigest, key.groundTruthDigest, key.formatDigest]))
    .digest("hex")
    .slice(0, 32);
}

export interface SqliteStoreOptions {
  /** How long a writer waits for another process's lock before failing (default 10 s). */
  busyTimeoutMs?: number;
  /** Open an existing file read-only (e.g. to render); it must already hold the current schema. */
  readonly?: boolean;
  /** The competition and scoring setup whose board this store reads and writes; default the unknown one. */
  board?: BoardKey;
}

interface BoardRow {
  board: string;
  competition: string;
  metric_digest: string;
  ground_truth_digest: string;
  format_digest: string;
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
  models_digest: string | null;
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
    ...(row.models_digest !== null && { modelsDigest: row.models_digest }),
  };
}

export class SqliteLeaderboardStore implements LeaderboardStore {
  readonly path: string;
  /** The board this store reads and writes (boardId of its key, or UNKNOWN_BOARD). */
  readonly board: string;
  /** Whether opening this store started its board (the file had no board for this setup before). */
  readonly boardIsNew: boolean;
  readonly #key: BoardKey | undefined;
  readonly #db: SqliteDatabase;
  readonly #upsert: SqliteStatement;
  readonly #get: SqliteStatement<[string, string], Row>;
  #closed = false;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.path = path;
    this.#key = options.board;
    this.board = options.board ? boardId(options.board) : UNKNOWN_BOARD;
    this.#db = openSqlite(path, {
      what: "leaderboard database",
      schema: { version: SCHEMA_VERSION, migrations: MIGRATIONS },
      error: (message) => new StoreError(message),
      ...options,
    });
    try {
      this.#upsert = this.#db.prepare(
        `INSERT INTO entries (submission_id, participant, submitted_at, submitted_at_ms, status, public_score,
                              sealed_private_score, duration_ms, image_digest, zip_sha256, runtime, models_digest,
                              board)
         VALUES (@submission_id, @participant, @submitted_at, @submitted_at_ms, @status, @public_score,
                 @sealed_private_score, @duration_ms, @image_digest, @zip_sha256, @runtime, @models_digest,
                 @board)
         ON CONFLICT (submission_id) DO UPDATE SET
           participant = excluded.participant, submitted_at = excluded.submitted_at,
           submitted_at_ms = excluded.submitted_at_ms, status = excluded.status,
           public_score = excluded.public_score, sealed_private_score = excluded.sealed_private_score,
           duration_ms = excluded.duration_ms, image_digest = excluded.image_digest,
           zip_sha256 = excluded.zip_sha256, runtime = excluded.runtime,
           models_digest = excluded.models_digest, board = excluded.board`,
      );
      this.#get = this.#db.prepare<[string, string], Row>(
        "SELECT * FROM entries WHERE submission_id = ? AND board = ?",
      );
      this.boardIsNew = options.board && !options.readonly ? this.#register(options.board) : false;
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
        models_digest: e.modelsDigest ?? null,
        board: this.board,
      };
    });
    const write = this.#db.transaction(() => {
      for (const row of rows) this.#upsert.run(row);
    });
    write.immediate();
  }

  async get(submissionId: string): Promise<LeaderboardEntry | undefined> {
    this.#open();
    const row = this.#get.get(submissionId, this.board);
    return row === undefined ? undefined : fromRow(row);
  }

  async list(filter: EntryFilter = {}): Promise<LeaderboardEntry[]> {
    this.#open();
    const where: string[] = ["board = ?"];
    const params: (string | number)[] = [this.board];
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
      `SELECT * FROM entries WHERE ${where.join(" AND ")}` + " ORDER BY submitted_at_ms, submission_id";
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
      `SELECT COUNT(*) AS n FROM entries WHERE board = ? AND participant = ? AND ${counted.sql}` +
      (since !== undefined ? " AND submitted_at_ms >= ?" : "");
    const params = [
      this.board,
      participant,
      ...counted.params,
      ...(since !== undefined ? [since.getTime()] : []),
    ];
    const row = this.#db.prepare<(string | number)[], { n: number }>(sql).get(...params);
    return row?.n ?? 0;
  }

  /**
   * The file's other boards that hold entries, newest first: earlier setups of this competition (with what
   * changed), other competitions, and the unknown setup of entries from before boards were kept.
   */
  otherBoards(): OtherBoard[] {
    this.#open();
    const rows = this.#db
      .prepare<[string], { board: string; entries: number; created_at: string | null } & Partial<BoardRow>>(
        `SELECT e.board, COUNT(*) AS entries, b.competition, b.metric_digest, b.ground_truth_digest,
                b.format_digest, b.created_at
           FROM entries e LEFT JOIN boards b ON b.board = e.board
          WHERE e.board != ? GROUP BY e.board ORDER BY b.created_at DESC`,
      )
      .all(this.board);
    return rows.map((row) => ({
      competition: row.competition ?? null,
      entries: row.entries,
      changed:
        this.#key && row.competition === this.#key.competition
          ? [
              ...(row.metric_digest !== this.#key.metricDigest ? ["metric"] : []),
              ...(row.ground_truth_digest !== this.#key.groundTruthDigest ? ["ground truth"] : []),
              ...(row.format_digest !== this.#key.formatDigest ? ["format"] : []),
            ]
          : [],
    }));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  /** Adds the board to the file unless it is there; true when it was not. */
  #register(key: BoardKey): boolean {
    const added = this.#db
      .prepare(
        `INSERT INTO boards (board, competition, metric_digest, ground_truth_digest, format_digest, created_at)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (board) DO NOTHING`,
      )
      .run(
        this.board,
        key.competition,
        key.metricDigest,
        key.groundTruthDigest,
        key.formatDigest,
        new Date().toISOString(),
      );
    return added.changes > 0;
  }

  #open(): void {
    if (this.#closed) throw new StoreError(`the leaderboard store ${this.path} is closed`);
  }
}
