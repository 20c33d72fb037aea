/**
 * Where the queue stands, for participants (their queued submission's place and wait), for everyone (the
 * public status: runners online, queued and running per kind, waits and run times) and for Prometheus
 * (metrics.ts). It reads the intake's database over a read-only connection of its own, so nothing here
 * can change a submission; waits and run times come from the attempts' recorded times
 * (submission_attempts: queued, started by a runner's claim, ended), places from the claim order itself
 * (CLAIM_ORDER, the order `claimNext` takes them in). Runners online are presence.ts's.
 */
import type { Competition } from "../config/index.js";
import type { CpuOrGpu, KindStatus, PublicStatusView, SubmissionView } from "../gateway-api/index.js";
import { CLAIM_ORDER, INTAKE_SCHEMA_VERSION } from "../intake/index.js";
import { openSqlite, type SqliteDatabase } from "../sqlite/index.js";
import { RunnerPresence, type OnlineRunners } from "./presence.js";
import { summarize } from "./summary.js";

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;
/** How many recent runs of a kind make its typical run time (the estimate's unit). */
const RECENT_RUNS = 50;

export interface QueueStatusOptions {
  /** The intake's database file (intake.sqlite), already created by the intake. */
  dbPath: string;
  competition: Competition;
  /** The intake's clock (the times it records are its). */
  clock: () => Date;
}

/** One attempt as the metrics read it: its kind, and when it was queued, claimed and ended. */
export interface AttemptTimes {
  row: number;
  kind: CpuOrGpu;
  queuedAtMs: number | null;
  startedAtMs: number | null;
  /** ISO time; null while under way ("" when it ended before times were kept). */
  endedAt: string | null;
  status: string | null;
}

interface AttemptTimesRow {
  row: number;
  kind: CpuOrGpu;
  queued: number | null;
  started: number | null;
  ended: string | null;
  status: string | null;
}

export type QueueCounts = Record<CpuOrGpu, { queued: number; running: number }>;

/** Milliseconds from a start (ms) to an ISO end; undefined when either is missing or unreadable. */
export function between(startMs: number | null, endIso: string | null): number | undefined {
  if (startMs === null || !endIso) return undefined;
  const end = Date.parse(endIso);
  return Number.isNaN(end) ? undefined : Math.max(0, end - startMs);
}

export class QueueStatus {
  readonly presence = new RunnerPresence();
  readonly #db: SqliteDatabase;
  readonly #o: QueueStatusOptions;
  /** The last public status, until the database changes or a second passes. */
  #cached: { version: number; atMs: number; view: PublicStatusView } | undefined;

  constructor(options: QueueStatusOptions) {
    this.#o = options;
    this.#db = openSqlite(options.dbPath, {
      what: "the intake database (read-only, for the queue's numbers)",
      schema: { version: INTAKE_SCHEMA_VERSION, migrations: [] },
      error: (message) => new Error(message),
      readonly: true,
    });
  }

  close(): void {
    this.#db.close();
  }

  #now(): number {
    return this.#o.clock().getTime();
  }

  /** A runner slot (`holder/runner`, as its claims are recorded) asked for work of `kind`. */
  asked(slot: string, kind: CpuOrGpu): void {
    this.presence.asked(slot, kind, this.#now());
  }

  /** The runners and slots of `kind` online now: those that asked lately or hold a live claim. */
  online(kind: CpuOrGpu): OnlineRunners {
    const claimed = this.#db
      .prepare<[string, number], { slot: string }>(
        `SELECT claimed_by AS slot FROM submissions WHERE state = 'running' AND cpu_or_gpu = ?
           AND claimed_by IS NOT NULL AND lease_expires_at_ms >= ?`,
      )
      .all(kind, this.#now())
      .map((r) => r.slot);
    return this.presence.online(kind, this.#now(), claimed);
  }

  /** The kinds the competition runs, and any other a submission still waits or runs on. */
  kinds(counts: QueueCounts = this.counts()): CpuOrGpu[] {
    return (["cpu", "gpu"] as const).filter(
      (k) => this.#o.competition.runners.includes(k) || counts[k].queued + counts[k].running > 0,
    );
  }

  /** Submissions queued and running, per kind (every kind the competition runs, zeros included). */
  counts(): QueueCounts {
    const counts: QueueCounts = { cpu: { queued: 0, running: 0 }, gpu: { queued: 0, running: 0 } };
    const rows = this.#db
      .prepare<[], { kind: CpuOrGpu; state: "queued" | "running"; n: number }>(
        `SELECT cpu_or_gpu AS kind, state, COUNT(*) AS n FROM submissions
         WHERE state IN ('queued', 'running') GROUP BY cpu_or_gpu, state`,
      )
      .all();
    for (const r of rows) counts[r.kind][r.state] = r.n;
    return counts;
  }

  /**
   * The views with their queue filled in: a queued one's place in its kind's queue (1 = next), its
   * estimated wait and the slots online for it. Other views are returned as they are.
   */
  place(views: SubmissionView[]): SubmissionView[] {
    const byKind = new Map<CpuOrGpu, { ids: string[]; positions: Map<string, number> }>();
    for (const v of views) {
      if (v.state !== "queued") continue;
      const entry = byKind.get(v.cpu_or_gpu) ?? { ids: [] as string[], positions: new Map<string, number>() };
      entry.ids.push(v.submission_id);
      byKind.set(v.cpu_or_gpu, entry);
    }
    if (byKind.size === 0) return views;
    const eta = new Map<CpuOrGpu, (position: number) => number | null>();
    const slots = new Map<CpuOrGpu, number>();
    for (const [kind, entry] of byKind) {
      for (const r of this.#positions(kind, entry.ids)) entry.positions.set(r.id, r.position);
      const online = this.online(kind).slots;
      slots.set(kind, online);
      eta.set(kind, this.#estimate(kind, online));
    }
    return views.map((v) => {
      const position = byKind.get(v.cpu_or_gpu)?.positions.get(v.submission_id);
      // Claimed since the view was read: it shows as queued a moment longer, with no place.
      if (v.state !== "queued" || position === undefined) return v;
      return {
        ...v,
        queue_position: position,
        eta_seconds: eta.get(v.cpu_or_gpu)!(position),
        slots_online: slots.get(v.cpu_or_gpu)!,
      };
    });
  }

  /** Places of `ids` in the queue of `kind`, counted in the order claims take them. */
  #positions(kind: CpuOrGpu, ids: string[]): { id: string; position: number }[] {
    return this.#db
      .prepare<[string, string], { id: string; position: number }>(
        `SELECT id, position FROM (
           SELECT id, ROW_NUMBER() OVER (ORDER BY ${CLAIM_ORDER}) AS position
           FROM submissions WHERE state = 'queued' AND cpu_or_gpu = ?)
         WHERE id IN (SELECT value FROM json_each(?))`,
      )
      .all(kind, JSON.stringify(ids));
  }

  /**
   * The estimate for a place in the queue of `kind`: the runs ahead of it (those running and those queued
   * before it) beyond the free slots, each slot taking the kind's typical run time (the median of its last
   * RECENT_RUNS runs). Null with no slot online, or no run of the kind finished yet.
   */
  #estimate(kind: CpuOrGpu, slots: number): (position: number) => number | null {
    const runs = this.#db
      .prepare<[string, number], { started: number; ended: string }>(
        `SELECT a.started_at_ms AS started, a.ended_at AS ended
         FROM submission_attempts a JOIN submissions s ON s.id = a.submission_id
         WHERE s.cpu_or_gpu = ? AND a.started_at_ms IS NOT NULL AND a.ended_at IS NOT NULL AND a.ended_at != ''
         ORDER BY a.started_at_ms DESC LIMIT ?`,
      )
      .all(kind, RECENT_RUNS)
      .flatMap((r) => between(r.started, r.ended) ?? []);
    const typical = summarize(runs).median_seconds;
    if (slots === 0 || typical === null) return () => null;
    const running = this.counts()[kind].running;
    return (position) => Math.round((Math.max(0, running + position - slots) * typical) / slots);
  }

  /** The public status: per kind, runners online, queued and running, waits and run times; no names. */
  status(): PublicStatusView {
    const now = this.#now();
    // Recomputed when the database changed (another connection wrote: data_version moves) or each second.
    const version = this.#db.pragma("data_version", { simple: true }) as number;
    const cached = this.#cached;
    let view: PublicStatusView;
    if (cached && cached.version === version && Math.abs(now - cached.atMs) < 1000) {
      view = cached.view;
    } else {
      view = this.#status(now);
      this.#cached = { version, atMs: now, view };
    }
    // Presence is the gateway's memory, not the database's: always current.
    const kinds = { ...view.kinds };
    for (const kind of Object.keys(kinds) as CpuOrGpu[]) {
      const online = this.online(kind);
      kinds[kind] = { ...kinds[kind]!, runners_online: online.runners, slots_online: online.slots };
    }
    return { ...view, kinds };
  }

  #status(now: number): PublicStatusView {
    const sinceDay = now - DAY_MS;
    const waits = this.#db
      .prepare<[number], { kind: CpuOrGpu; at: number; ms: number }>(
        `SELECT s.cpu_or_gpu AS kind, a.started_at_ms AS at, a.started_at_ms - a.queued_at_ms AS ms
         FROM submission_attempts a JOIN submissions s ON s.id = a.submission_id
         WHERE a.started_at_ms >= ? AND a.queued_at_ms IS NOT NULL`,
      )
      .all(sinceDay);
    const runs = this.#db
      .prepare<[string], { kind: CpuOrGpu; started: number; ended: string }>(
        `SELECT s.cpu_or_gpu AS kind, a.started_at_ms AS started, a.ended_at AS ended
         FROM submission_attempts a JOIN submissions s ON s.id = a.submission_id
         WHERE a.started_at_ms IS NOT NULL AND a.ended_at >= ?`,
      )
      .all(new Date(sinceDay).toISOString());
    const lastScored = this.#db
      .prepare<[], { at: string | null }>(
        `SELECT MAX(ended_at) AS at FROM submission_attempts WHERE status = 'succeeded' AND ended_at != ''`,
      )
      .get()?.at;
    const counts = this.counts();
    const kinds: Partial<Record<CpuOrGpu, KindStatus>> = {};
    const active = this.kinds(counts);
    for (const kind of active) {
      const kindWaits = waits.filter((w) => w.kind === kind);
      const kindRuns = runs.flatMap((r) => {
        const ms = r.kind === kind ? between(r.started, r.ended) : undefined;
        return ms === undefined ? [] : [{ at: Date.parse(r.ended), ms }];
      });
      const window = (rows: { at: number; ms: number }[], since: number) =>
        summarize(rows.filter((r) => r.at >= since).map((r) => r.ms));
      kinds[kind] = {
        runners_online: 0,
        slots_online: 0,
        queued: counts[kind].queued,
        running: counts[kind].running,
        queue_wait: { last_hour: window(kindWaits, now - HOUR_MS), last_day: window(kindWaits, sinceDay) },
        run_time: { last_hour: window(kindRuns, now - HOUR_MS), last_day: window(kindRuns, sinceDay) },
      };
    }
    return {
      competition: this.#o.competition.name,
      generated_at: new Date(now).toISOString(),
      kinds,
      last_scored_at: lastScored ?? null,
    };
  }

  /**
   * Attempts recorded after row `after`, and the rows `open` (attempts seen under way): what the metrics
   * observe as they start and end. Rows are appended, and each is started and ended once.
   */
  attempts(after: number, open: readonly number[]): AttemptTimes[] {
    const select = `SELECT a.rowid AS row, s.cpu_or_gpu AS kind, a.queued_at_ms AS queued,
        a.started_at_ms AS started, a.ended_at AS ended, a.status AS status
      FROM submission_attempts a JOIN submissions s ON s.id = a.submission_id`;
    const rows = [
      ...(open.length === 0
        ? []
        : this.#db
            .prepare<[string], AttemptTimesRow>(
              `${select} WHERE a.rowid IN (SELECT value FROM json_each(?)) ORDER BY a.rowid`,
            )
            .all(JSON.stringify(open))),
      ...this.#db
        .prepare<[number], AttemptTimesRow>(`${select} WHERE a.rowid > ? ORDER BY a.rowid`)
        .all(after),
    ];
    return rows.map((r) => ({
      row: r.row,
      kind: r.kind,
      queuedAtMs: r.queued,
      startedAtMs: r.started,
      endedAt: r.ended,
      status: r.status,
    }));
  }
}
