import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSqlite, schemaVersion, type SqliteSchema } from "./open.js";

class TestDbError extends Error {}

const schema: SqliteSchema = {
  version: 2,
  migrations: ["CREATE TABLE t (a TEXT) STRICT;", "ALTER TABLE t ADD COLUMN b INTEGER;"],
};
const options = { what: "the test database", schema, error: (m: string) => new TestDbError(m) };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "proctor-sqlite-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("openSqlite", () => {
  it("creates the file 0600 in WAL mode and migrates it to the current version", () => {
    const file = join(dir, "x.sqlite");
    const db = openSqlite(file, options);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("synchronous", { simple: true })).toBe(1); // NORMAL
    expect(db.pragma("busy_timeout", { simple: true })).toBe(10_000);
    expect(schemaVersion(db)).toBe(2);
    db.prepare("INSERT INTO t (a, b) VALUES ('x', 1)").run();
    db.close();
  });

  it("migrates an older file from where it stands, and keeps its rows", () => {
    const file = join(dir, "old.sqlite");
    openSqlite(file, { ...options, schema: { version: 1, migrations: schema.migrations } }).exec(
      "INSERT INTO t (a) VALUES ('kept')",
    );
    const db = openSqlite(file, { ...options, busyTimeoutMs: 50 });
    expect(schemaVersion(db)).toBe(2);
    expect(db.pragma("busy_timeout", { simple: true })).toBe(50);
    expect(db.prepare("SELECT a, b FROM t").all()).toEqual([{ a: "kept", b: null }]);
    db.close();
  });

  it("refuses a newer file, and a read-only open of an older one, in the caller's error type", () => {
    const file = join(dir, "v.sqlite");
    openSqlite(file, { ...options, schema: { version: 1, migrations: schema.migrations } }).close();
    expect(() => openSqlite(file, { ...options, readonly: true })).toThrow(
      new TestDbError(
        `the test database ${file} has schema version 1, expected 2; open it once read-write to migrate it`,
      ),
    );
    openSqlite(file, options).close();
    const db = openSqlite(file, { ...options, readonly: true });
    expect(schemaVersion(db)).toBe(2);
    db.close();
    expect(() =>
      openSqlite(file, { ...options, schema: { version: 1, migrations: schema.migrations } }),
    ).toThrow(
      new TestDbError(
        `the test database ${file} has schema version 2, newer than this proctor understands (1); ` +
          `upgrade proctor to open it`,
      ),
    );
  });

  it("names the file when it cannot be opened, and creates nothing read-only", () => {
    expect(() => openSqlite(join(dir, "no", "such", "dir.sqlite"), options)).toThrow(
      /^cannot open the test database .*dir\.sqlite: /,
    );
    expect(() => openSqlite(join(dir, "missing.sqlite"), { ...options, readonly: true })).toThrow(
      TestDbError,
    );
    expect(() => statSync(join(dir, "missing.sqlite"))).toThrow();
  });
});
