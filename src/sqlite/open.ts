/**
 * The one way proctor opens a SQLite file (better-sqlite3): loaded when a file is opened, not when a module
 * is (bundles that never open one, such as the GitHub Action, run without the native addon); created 0600
 * (SQLite gives -wal/-shm the same mode), since these files hold token hashes and sealed scores; a busy
 * timeout so writers wait for each other instead of failing; WAL journal, `synchronous = NORMAL`; the
 * schema created or migrated under the write lock, guarded by `PRAGMA user_version`, so processes racing
 * to open a fresh file migrate it exactly once.
 */
import type Database from "better-sqlite3";
import { closeSync, openSync } from "node:fs";
import { createRequire } from "node:module";

export type SqliteDatabase = Database.Database;
export type SqliteStatement<P extends unknown[] | object = unknown[], R = unknown> = Database.Statement<P, R>;

const loadSqlite = () => createRequire(import.meta.url)("better-sqlite3") as typeof Database;

export interface SqliteSchema {
  /** The version this code writes; `PRAGMA user_version` holds a file's. */
  version: number;
  /** `migrations[n]` upgrades a file from version n to n + 1. */
  migrations: readonly string[];
}

export interface OpenSqliteOptions {
  /** What the file is, for messages: "the intake database", "leaderboard database". */
  what: string;
  schema: SqliteSchema;
  /** Makes the error thrown for a file that cannot be opened (the caller's error type). */
  error: (message: string) => Error;
  /** How long a writer waits for another process's lock before failing (default 10 s). */
  busyTimeoutMs?: number;
  /** Open an existing file read-only; it must already hold the current schema. */
  readonly?: boolean;
}

/** Opens (creating and migrating when writable) a SQLite file; throws `options.error(…)` naming the file. */
export function openSqlite(path: string, options: OpenSqliteOptions): SqliteDatabase {
  const { what, schema, error: fail } = options;
  const readonly = options.readonly ?? false;
  const cannotOpen = (error: unknown) => fail(`cannot open ${what} ${path}: ${(error as Error).message}`);
  let db: SqliteDatabase;
  try {
    const Sqlite = loadSqlite();
    if (!readonly) closeSync(openSync(path, "a", 0o600));
    db = new Sqlite(path, { readonly, fileMustExist: readonly });
  } catch (error) {
    throw cannotOpen(error);
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 10_000))}`);
    if (readonly) {
      checkVersion(db.pragma("user_version", { simple: true }) as number, true);
    } else {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.transaction(() => {
        const version = db.pragma("user_version", { simple: true }) as number;
        checkVersion(version, false);
        for (let v = version; v < schema.version; v += 1) db.exec(schema.migrations[v]!);
        if (version !== schema.version) db.pragma(`user_version = ${schema.version}`);
      }).immediate();
    }
    return db;
  } catch (error) {
    db.close();
    if (error instanceof SchemaVersionError) throw fail(error.message);
    throw cannotOpen(error);
  }

  function checkVersion(version: number, mustBeCurrent: boolean): void {
    if (version > schema.version) {
      throw new SchemaVersionError(
        `${what} ${path} has schema version ${version}, newer than this proctor understands ` +
          `(${schema.version}); upgrade proctor to open it`,
      );
    }
    if (mustBeCurrent && version < schema.version) {
      throw new SchemaVersionError(
        `${what} ${path} has schema version ${version}, expected ${schema.version}; ` +
          `open it once read-write to migrate it`,
      );
    }
  }
}

class SchemaVersionError extends Error {}

/** The schema version of an open file. */
export function schemaVersion(db: SqliteDatabase): number {
  return db.pragma("user_version", { simple: true }) as number;
}
