/** The sqlite room: the one place that loads better-sqlite3 and opens, configures and migrates a file. */
export {
  openSqlite,
  schemaVersion,
  type OpenSqliteOptions,
  type SqliteDatabase,
  type SqliteSchema,
  type SqliteStatement,
} from "./open.js";
