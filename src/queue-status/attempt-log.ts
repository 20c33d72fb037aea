/**
 * The attempts' starts and ends as events, read from their recorded times (submission_attempts) a little at
 * a time: each sync reads the rows appended since the last one, the attempts now running, and the rows it
 * saw under way that are no longer (a run that ended, a queued one cancelled), never the whole table again
 * after the first sync, which reads the history once. Rows are appended, and each is started and ended once
 * (transitions.ts), so every attempt yields one start (when a runner claimed it) and one end. A claim taken
 * back unused (`unclaim`) is no second start: the attempt's wait is the one to its first claim.
 */
import type { CpuOrGpu } from "../gateway-api/index.js";
import type { SqliteDatabase } from "../sqlite/index.js";

export type AttemptEvent =
  | { event: "start"; kind: CpuOrGpu; atMs: number; waitMs: number | null }
  | { event: "end"; kind: CpuOrGpu; atMs: number | null; runMs: number | null; status: string | null };

interface Row {
  row: number;
  kind: CpuOrGpu;
  queued: number | null;
  started: number | null;
  /** ISO time; null while under way ("" when it ended before times were kept). */
  ended: string | null;
  status: string | null;
}

const SELECT = `SELECT a.rowid AS row, s.cpu_or_gpu AS kind, a.queued_at_ms AS queued,
    a.started_at_ms AS started, a.ended_at AS ended, a.status AS status
  FROM submission_attempts a JOIN submissions s ON s.id = a.submission_id`;

export class AttemptLog {
  readonly #db: SqliteDatabase;
  /** Every row up to here was seen; the ones still under way are in the two maps below. */
  #after = 0;
  /** Rows seen queued (not started). */
  readonly #waiting = new Set<number>();
  /** Rows seen started, not ended. */
  readonly #running = new Set<number>();

  constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  /** What started and ended since the last sync (the whole history at the first). */
  sync(): AttemptEvent[] {
    const events: AttemptEvent[] = [];
    const visit = (r: Row) => this.#visit(r, events);
    for (const r of this.#rows(`${SELECT} WHERE a.rowid > ? ORDER BY a.rowid`, this.#after)) {
      this.#after = Math.max(this.#after, r.row);
      visit(r);
    }
    // The attempts running now: the current attempt of each running submission.
    const running = this.#rows(
      `${SELECT} AND a.attempt = s.attempt WHERE s.state = 'running' AND a.rowid <= ?`,
      this.#after,
    );
    const now = new Set(running.map((r) => r.row));
    running.forEach(visit);
    // Seen running, running no more: ended (a result, a cancel, a lost claim given up on).
    this.#byRow([...this.#running].filter((row) => !now.has(row))).forEach(visit);
    // Each queued submission is one row seen waiting; more rows than that: some left the queue unseen
    // (cancelled, or claimed and over between two syncs).
    const queued = this.#db
      .prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM submissions WHERE state = 'queued'")
      .get()!.n;
    if (this.#waiting.size > queued) this.#byRow([...this.#waiting]).forEach(visit);
    return events;
  }

  #rows(sql: string, after: number): Row[] {
    return this.#db.prepare<[number], Row>(sql).all(after);
  }

  #byRow(rows: number[]): Row[] {
    if (rows.length === 0) return [];
    return this.#db
      .prepare<[string], Row>(`${SELECT} WHERE a.rowid IN (SELECT value FROM json_each(?))`)
      .all(JSON.stringify(rows));
  }

  #visit(r: Row, events: AttemptEvent[]): void {
    if (r.started !== null && !this.#running.has(r.row)) {
      this.#waiting.delete(r.row);
      this.#running.add(r.row);
      events.push({
        event: "start",
        kind: r.kind,
        atMs: r.started,
        waitMs: r.queued === null ? null : Math.max(0, r.started - r.queued),
      });
    }
    if (r.ended === null) {
      if (r.started === null) this.#waiting.add(r.row);
      return;
    }
    this.#waiting.delete(r.row);
    this.#running.delete(r.row);
    const end = r.ended ? Date.parse(r.ended) : Number.NaN;
    const atMs = Number.isNaN(end) ? null : end;
    events.push({
      event: "end",
      kind: r.kind,
      atMs,
      runMs: atMs === null || r.started === null ? null : Math.max(0, atMs - r.started),
      status: r.status,
    });
  }
}
