/**
 * Where the queue stands, for participants (their queued submission's place and wait), for everyone (the
 * public status: runners online, queued and running per kind, waits and run times) and for Prometheus
 * (metrics.ts). It reads the intake's database over a read-only connection of its own, so nothing here
 * can change a submission. Places come from the claim order itself (CLAIM_ORDER, the order `claimNext`
 * takes them in); waits and run times from the attempts' recorded times, followed as they start and end
 * (attempt-log.ts) and kept for the last day in memory; runners online are presence.ts's.
 */
import type { Competition } from "../config/index.js";
import type { CpuOrGpu, KindStatus, PublicStatusView, SubmissionView } from "../gateway-api/index.js";
import { CLAIM_ORDER, INTAKE_SCHEMA_VERSION } from "../intake/index.js";
import { openSqlite, type SqliteDatabase } from "../sqlite/index.js";
import { AttemptLog, type AttemptEvent } from "./attempt-log.js";
import { RunnerPresence, type OnlineRunners } from "./presence.js";
import { nearestRank, summarize } from "./summary.js";

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

export type QueueCounts = Record<CpuOrGpu, { queued: number; running: number }>;

/** A duration and when it ended (a wait: when the runner claimed it; a run: when it ended). */
interface Timed {
  atMs: number;
  ms: number;
}

/** One kind's last day of waits and runs, and its last runs (the estimate's unit). */
class Recent {
  waits: Timed[] = [];
  runs: Timed[] = [];
  readonly lastRuns: number[] = [];

  prune(sinceMs: number): void {
    this.waits = this.waits.filter((t) => t.atMs >= sinceMs);
    this.runs = this.runs.filter((t) => t.atMs >= sinceMs);
  }
}

export class QueueStatus {
  readonly presence = new RunnerPresence();
  readonly #db: SqliteDatabase;
  readonly #o: QueueStatusOptions;
  readonly #log: AttemptLog;
  readonly #listeners: ((events: AttemptEvent[]) => void)[] = [];
  readonly #recent: Record<CpuOrGpu, Recent> = { cpu: new Recent(), gpu: new Recent() };
  #lastScoredAtMs: number | null = null;
  /** Moves with every batch of events: the public status is computed again when it or the second moves. */
  #generation = 0;
  #prunedAtMs = 0;
  #status: { key: string; view: PublicStatusView } | undefined;

  constructor(options: QueueStatusOptions) {
    this.#o = options;
    this.#db = openSqlite(options.dbPath, {
      what: "the intake database (read-only, for the queue's numbers)",
      schema: { version: INTAKE_SCHEMA_VERSION, migrations: [] },
      error: (message) => new Error(message),
      readonly: true,
    });
    this.#log = new AttemptLog(this.#db);
  }

  close(): void {
    this.#db.close();
  }

  #now(): number {
    return this.#o.clock().getTime();
  }

  /** Calls `listener` with every batch of attempt events from now on (the first: the whole history). */
  onEvents(listener: (events: AttemptEvent[]) => void): void {
    this.#listeners.push(listener);
  }

  /** Reads what started and ended since the last call into the last day's numbers and the listeners. */
  sync(): void {
    const events = this.#log.sync();
    const now = this.#now();
    if (events.length > 0) {
      this.#generation += 1;
      for (const e of events) {
        const recent = this.#recent[e.kind];
        if (e.event === "start") {
          if (e.waitMs !== null) recent.waits.push({ atMs: e.atMs, ms: e.waitMs });
          continue;
        }
        if (e.status === "succeeded" && e.atMs !== null)
          this.#lastScoredAtMs = Math.max(this.#lastScoredAtMs ?? 0, e.atMs);
        if (e.runMs === null || e.atMs === null) continue;
        recent.runs.push({ atMs: e.atMs, ms: e.runMs });
        recent.lastRuns.push(e.runMs);
        if (recent.lastRuns.length > RECENT_RUNS) recent.lastRuns.shift();
      }
      for (const listener of this.#listeners) listener(events);
    }
    // What is older than a day is dropped once a minute (and after the first sync's whole history).
    if (events.length > 0 || Math.abs(now - this.#prunedAtMs) >= 60_000) {
      for (const recent of Object.values(this.#recent)) recent.prune(now - DAY_MS);
      this.#prunedAtMs = now;
    }
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
    this.sync();
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
    const typicalMs = nearestRank(
      [...this.#recent[kind].lastRuns].sort((a, b) => a - b),
      50,
    );
    if (slots === 0 || typicalMs === undefined) return () => null;
    const running = this.counts()[kind].running;
    return (position) => Math.round((Math.max(0, running + position - slots) * typicalMs) / slots / 1000);
  }

  /** The public status: per kind, runners online, queued and running, waits and run times; no names. */
  status(): PublicStatusView {
    this.sync();
    const now = this.#now();
    // Computed again when an attempt started or ended, or the second moved (the windows slide).
    const key = `${this.#generation}:${Math.floor(now / 1000)}`;
    if (this.#status?.key !== key) this.#status = { key, view: this.#compute(now) };
    // Presence is the gateway's memory, not the database's: always current.
    const kinds = { ...this.#status.view.kinds };
    for (const kind of Object.keys(kinds) as CpuOrGpu[]) {
      const online = this.online(kind);
      kinds[kind] = { ...kinds[kind]!, runners_online: online.runners, slots_online: online.slots };
    }
    return { ...this.#status.view, kinds };
  }

  #compute(now: number): PublicStatusView {
    const counts = this.counts();
    const kinds: Partial<Record<CpuOrGpu, KindStatus>> = {};
    const window = (rows: Timed[], since: number) =>
      summarize(rows.filter((r) => r.atMs >= since).map((r) => r.ms));
    for (const kind of this.kinds(counts)) {
      const { waits, runs } = this.#recent[kind];
      kinds[kind] = {
        runners_online: 0,
        slots_online: 0,
        queued: counts[kind].queued,
        running: counts[kind].running,
        queue_wait: { last_hour: window(waits, now - HOUR_MS), last_day: window(waits, now - DAY_MS) },
        run_time: { last_hour: window(runs, now - HOUR_MS), last_day: window(runs, now - DAY_MS) },
      };
    }
    return {
      competition: this.#o.competition.name,
      generated_at: new Date(now).toISOString(),
      kinds,
      last_scored_at: this.#lastScoredAtMs === null ? null : new Date(this.#lastScoredAtMs).toISOString(),
    };
  }
}
