import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SCHEMA_VERSION, SqliteLeaderboardStore, type BoardKey } from "./sqlite-store.js";
import { MemoryLeaderboardStore, StoreError, type LeaderboardStore } from "./store.js";
import type { LeaderboardEntry } from "./entry.js";
import { makeEntry, makeFailed } from "./test-support/entries.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "proctor-leaderboard-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const stores: [string, () => LeaderboardStore][] = [
  ["sqlite", () => new SqliteLeaderboardStore(join(dir, "board.db"))],
  ["memory", () => new MemoryLeaderboardStore()],
];

describe.each(stores)("%s store contract", (_name, open) => {
  it("records an entry and hands it back with submittedAt normalised to UTC", async () => {
    const store = open();
    const entry = makeEntry({ submittedAt: "2025-03-01T13:00:00+01:00", publicScore: 0.125 });
    await store.record(entry);
    expect(await store.get(entry.submissionId)).toEqual({
      ...entry,
      submittedAt: "2025-03-01T12:00:00.000Z",
    });
    expect(await store.get("nope")).toBeUndefined();
    await store.close();
  });

  it("upserts: recording the same submission id again replaces the entry, never duplicates it", async () => {
    const store = open();
    const first = makeEntry({ submissionId: "s1", status: "failed", publicScore: null });
    await store.record(first);
    await store.record(first);
    const rescored = { ...first, status: "succeeded" as const, publicScore: 0.9, durationMs: 99 };
    await store.record(rescored);
    await store.record(rescored);
    const all = await store.list();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({
      submissionId: "s1",
      status: "succeeded",
      publicScore: 0.9,
      durationMs: 99,
    });
    await store.close();
  });

  it("lists in submission order and filters by participant, status and time", async () => {
    const store = open();
    const a2 = makeEntry({ participant: "a", submittedAt: "2025-03-02T00:00:00Z" });
    const a1 = makeEntry({ participant: "a", submittedAt: "2025-03-01T00:00:00Z" });
    const b1 = makeFailed({ participant: "b", submittedAt: "2025-03-01T06:00:00Z" });
    for (const e of [a2, a1, b1]) await store.record(e);
    const ids = async (f?: Parameters<LeaderboardStore["list"]>[0]) =>
      (await store.list(f)).map((e) => e.submissionId);
    expect(await ids()).toEqual([a1.submissionId, b1.submissionId, a2.submissionId]);
    expect(await ids({ participant: "a" })).toEqual([a1.submissionId, a2.submissionId]);
    expect(await ids({ statuses: ["failed"] })).toEqual([b1.submissionId]);
    expect(await ids({ statuses: [] })).toEqual([]);
    expect(await ids({ since: new Date("2025-03-01T06:00:00Z") })).toEqual([
      b1.submissionId,
      a2.submissionId,
    ]);
    expect(await ids({ until: new Date("2025-03-01T06:00:00Z") })).toEqual([a1.submissionId]);
    await store.close();
  });

  it("counts submissions toward limits: infrastructure errors never, failed runs only when asked", async () => {
    const store = open();
    await store.record(makeEntry({ participant: "a", submittedAt: "2025-03-01T10:00:00Z" }));
    await store.record(makeFailed({ participant: "a", submittedAt: "2025-03-02T10:00:00Z" }));
    await store.record(
      makeFailed({ participant: "a", status: "timed_out", submittedAt: "2025-03-02T11:00:00Z" }),
    );
    await store.record(makeFailed({ participant: "a", status: "infrastructure_error" }));
    await store.record(makeEntry({ participant: "b" }));
    expect(await store.countSubmissions("a", undefined, true)).toBe(3);
    expect(await store.countSubmissions("a", undefined, false)).toBe(1);
    expect(await store.countSubmissions("a", new Date("2025-03-02T00:00:00Z"), true)).toBe(2);
    expect(await store.countSubmissions("a", new Date("2025-03-02T00:00:00Z"), false)).toBe(0);
    expect(await store.countSubmissions("nobody", undefined, true)).toBe(0);
    await store.close();
  });

  it("refuses invalid entries and plain private scores, naming the submission and the field", async () => {
    const store = open();
    await expect(store.record(makeEntry({ submissionId: "x1", privateScore: 0.3 }))).rejects.toThrow(
      /"x1" carries a plain privateScore.*sealScore/,
    );
    await expect(store.record(makeEntry({ submissionId: "x2", submittedAt: "yesterday" }))).rejects.toThrow(
      /"x2".*submittedAt/,
    );
    await expect(store.record(makeEntry({ submissionId: "x3", publicScore: Number.NaN }))).rejects.toThrow(
      /"x3".*publicScore: must be a finite number or null/,
    );
    await expect(store.record(makeFailed({ submissionId: "x4", publicScore: 0.1 }))).rejects.toThrow(
      /"x4".*only succeeded runs carry scores/,
    );
    expect(await store.list()).toEqual([]);
    await store.close();
    await expect(store.list()).rejects.toThrow(StoreError);
  });
});

/** An entry as an older schema's file holds it (version 2 adds the runtime column). */
function insertRaw(raw: Database.Database, e: LeaderboardEntry, ...runtime: [] | [string | null]): void {
  const values = [
    ...[e.submissionId, e.participant, e.submittedAt, Date.parse(e.submittedAt), e.status, e.publicScore],
    ...[e.sealedPrivateScore, e.durationMs, e.imageDigest, e.zipSha256, ...runtime],
  ];
  raw.prepare(`INSERT INTO entries VALUES (${values.map(() => "?").join(", ")})`).run(...values);
}

describe("SqliteLeaderboardStore", () => {
  it("keeps the runtime a run used, and migrates a version-1 file (its entries keep no runtime)", async () => {
    const path = join(dir, "v1.db");
    const raw = new Database(path);
    raw.exec(`CREATE TABLE entries (submission_id TEXT PRIMARY KEY NOT NULL, participant TEXT NOT NULL,
      submitted_at TEXT NOT NULL, submitted_at_ms INTEGER NOT NULL, status TEXT NOT NULL, public_score REAL,
      sealed_private_score TEXT, duration_ms INTEGER NOT NULL, image_digest TEXT NOT NULL,
      zip_sha256 TEXT NOT NULL) STRICT`);
    const old = makeEntry({ submissionId: "old" });
    insertRaw(raw, old);
    raw.pragma("user_version = 1");
    raw.close();

    const store = new SqliteLeaderboardStore(path);
    expect(store.schemaVersion).toBe(SCHEMA_VERSION);
    expect(await store.get("old")).toEqual(old);
    const gvisor = makeEntry({ submissionId: "new", runtime: "runsc" });
    await store.record(gvisor);
    expect(await store.get("new")).toEqual(gvisor);
    await store.close();
  });

  it("keeps the models a run had mounted, and migrates a version-3 file (its entries have none)", async () => {
    const path = join(dir, "v3.db");
    const v3 = new SqliteLeaderboardStore(path);
    const old = makeEntry({ submissionId: "before-models", runtime: "runc" });
    await v3.record(old);
    await v3.close();
    const raw = new Database(path);
    raw.exec("ALTER TABLE entries DROP COLUMN models_digest");
    raw.pragma("user_version = 3");
    raw.close();

    const store = new SqliteLeaderboardStore(path);
    expect(store.schemaVersion).toBe(SCHEMA_VERSION);
    expect(await store.get("before-models")).toEqual(old);
    const withModels = makeEntry({ submissionId: "with-models", modelsDigest: `sha256:${"0f".repeat(32)}` });
    await store.record(withModels);
    expect(await store.get("with-models")).toEqual(withModels);
    await expect(store.record(makeEntry({ submissionId: "bad", modelsDigest: "models-0f" }))).rejects.toThrow(
      /"bad".*modelsDigest: must be sha256: and 64 lowercase hex digits/,
    );
    await store.close();
  });

  it("keeps one board per competition and scoring setup: a changed ground truth starts a new one and says what changed", async () => {
    const path = join(dir, "boards.db");
    const penguins: BoardKey = {
      competition: "Penguins",
      metricDigest: "f1_macro",
      groundTruthDigest: "gt-1",
      formatDigest: "fmt-1",
    };
    const first = new SqliteLeaderboardStore(path, { board: penguins });
    expect(first.boardIsNew).toBe(true);
    expect(first.otherBoards()).toEqual([]);
    const old = makeEntry({ participant: "a", publicScore: 0.99 });
    await first.record(old);
    await first.close();

    const changed = new SqliteLeaderboardStore(path, { board: { ...penguins, groundTruthDigest: "gt-2" } });
    expect(changed.boardIsNew).toBe(true);
    expect(await changed.list()).toEqual([]);
    expect(await changed.get(old.submissionId)).toBeUndefined();
    expect(await changed.countSubmissions("a", undefined, true)).toBe(0);
    expect(changed.otherBoards()).toEqual([
      { competition: "Penguins", entries: 1, changed: ["ground truth"] },
    ]);
    await changed.record(makeEntry({ participant: "a", publicScore: 0.5 }));
    await changed.close();

    const other = new SqliteLeaderboardStore(path, {
      board: { competition: "House prices", metricDigest: "rmse", groundTruthDigest: "x", formatDigest: "y" },
    });
    expect(other.otherBoards()).toEqual([
      { competition: "Penguins", entries: 1, changed: [] },
      { competition: "Penguins", entries: 1, changed: [] },
    ]);
    await other.close();

    const again = new SqliteLeaderboardStore(path, { board: penguins });
    expect(again.boardIsNew).toBe(false);
    expect((await again.list()).map((e) => e.submissionId)).toEqual([old.submissionId]);
    expect(again.otherBoards()).toEqual([{ competition: "Penguins", entries: 1, changed: ["ground truth"] }]);
    await again.close();
  });

  it("migrates a version-2 file: its entries belong to the unknown setup, never shown with a known board", async () => {
    const path = join(dir, "v2.db");
    const v2 = new Database(path);
    v2.exec(`CREATE TABLE entries (submission_id TEXT PRIMARY KEY NOT NULL, participant TEXT NOT NULL,
      submitted_at TEXT NOT NULL, submitted_at_ms INTEGER NOT NULL, status TEXT NOT NULL, public_score REAL,
      sealed_private_score TEXT, duration_ms INTEGER NOT NULL, image_digest TEXT NOT NULL,
      zip_sha256 TEXT NOT NULL, runtime TEXT) STRICT`);
    const old = makeEntry({ submissionId: "f1-entry" });
    insertRaw(v2, old, null);
    v2.pragma("user_version = 2");
    v2.close();

    const store = new SqliteLeaderboardStore(path, {
      board: { competition: "House prices", metricDigest: "rmse", groundTruthDigest: "x", formatDigest: "y" },
    });
    expect(store.schemaVersion).toBe(SCHEMA_VERSION);
    expect(await store.list()).toEqual([]);
    expect(store.otherBoards()).toEqual([{ competition: null, entries: 1, changed: [] }]);
    await store.close();
    const unknown = new SqliteLeaderboardStore(path);
    expect(await unknown.get("f1-entry")).toEqual(old);
    await unknown.close();
  });

  it("reopens an existing file with its entries, in WAL mode, at the current schema version", async () => {
    const path = join(dir, "board.db");
    const first = new SqliteLeaderboardStore(path);
    const entry = makeEntry({ sealedPrivateScore: "pscore.v1.x", publicScore: 1 / 3 });
    await first.record(entry);
    await first.close();
    await first.close(); // idempotent

    const again = new SqliteLeaderboardStore(path);
    expect(again.schemaVersion).toBe(SCHEMA_VERSION);
    expect(await again.get(entry.submissionId)).toEqual(entry); // float64 and sealed text round-trip exactly
    await again.close();

    const raw = new Database(path, { readonly: true });
    expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    raw.close();

    const readonly = new SqliteLeaderboardStore(path, { readonly: true });
    expect(await readonly.list()).toHaveLength(1);
    await readonly.close();
  });

  it("refuses a file written by a newer schema version, saying what to do", () => {
    const path = join(dir, "future.db");
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => new SqliteLeaderboardStore(path)).toThrow(
      new RegExp(`schema version ${SCHEMA_VERSION + 1}, newer .*upgrade proctor`),
    );
  });

  it("records many entries in one all-or-nothing transaction", () => {
    const store = new SqliteLeaderboardStore(join(dir, "board.db"));
    const good = makeEntry();
    const bad = makeEntry({ zipSha256: "not-hex" });
    expect(() => store.recordMany([good, bad])).toThrow(/zipSha256/);
    store.recordMany([good, makeEntry()]);
    return expect(store.list()).resolves.toHaveLength(2);
  });

  it("keeps every entry exactly once when 4 processes write 200 entries each at the same time", async () => {
    const path = join(dir, "shared.db"); // fresh: the processes also race to create the schema
    const startFile = join(dir, "go");
    const fixture = fileURLToPath(new URL("./test-support/concurrent-writer.ts", import.meta.url));
    const workers = 4;
    const perWorker = 200;
    const shared = 25;
    const children = Array.from({ length: workers }, (_, w) => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", fixture, path, String(w), String(perWorker), String(shared), startFile],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      return new Promise<void>((resolve, reject) =>
        child.on("exit", (code) =>
          code === 0 ? resolve() : reject(new Error(`writer ${w} exited ${code}: ${stderr}`)),
        ),
      );
    });
    const done = Promise.all(children); // handled from now on, even if a writer fails early
    // Let them all start and open the file, then release them together.
    await new Promise((r) => setTimeout(r, 1500));
    writeFileSync(startFile, "");
    await done;

    const store = new SqliteLeaderboardStore(path);
    const all = await store.list();
    const ids = all.map((e) => e.submissionId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(workers * perWorker + shared);
    for (let w = 0; w < workers; w += 1) {
      for (let i = 0; i < perWorker; i += 1) expect(ids).toContain(`w${w}-${i}`);
    }
    expect(store.schemaVersion).toBe(SCHEMA_VERSION);
    await store.close();
  }, 60_000);
});
