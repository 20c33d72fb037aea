/**
 * The leaderboard kept on a dedicated branch of a GitHub repository, for competitions whose runners share
 * no disk. The entries live in one JSON file (`leaderboard.json` on branch `leaderboard` by default):
 *
 *   { "format": "proctor.leaderboard-entries/v1", "entries": [ LeaderboardEntry, ... ] }
 *
 * sorted by submission time then id, private scores only ever sealed. It is read and written with
 * optimistic concurrency (branch-file.ts: read it, upsert the entry by submission id, write it back naming
 * the sha it read, read again and retry when another runner wrote in between, up to `retryForMs`).
 * Recording an identical entry again makes no commit, and neither does an entry that does not replace the
 * standing one (status room's `replacesStanding`: only a newer score replaces a score).
 *
 * After the JSON, the pages (`render(entries)`, e.g. README.md and index.html) are regenerated on the same
 * branch the same way, skipping files whose content is already right. Every runner that moves the JSON
 * renders after it, so a runner whose page write lost a race and that then finds the JSON moved past what
 * it renders leaves the page to that newer runner. Pages written by concurrent runners could otherwise end
 * on an older state, so after writing one a runner reads the JSON again and, if it moved meanwhile,
 * renders and writes again from the newer entries: whichever runner writes a page last has checked it
 * matched the JSON afterwards, so the pages converge to the full leaderboard.
 */
import {
  compareBySubmission,
  entryForStorage,
  MemoryLeaderboardStore,
  StoreError,
  type EntryFilter,
  type LeaderboardEntry,
  type LeaderboardStore,
} from "../leaderboard/index.js";
import { replacesStanding } from "../status/index.js";
import { Branch, plural } from "./branch-file.js";
import type { GitHubClient } from "./client.js";

export const LEADERBOARD_ENTRIES_FORMAT = "proctor.leaderboard-entries/v1";

export interface LeaderboardEntriesFile {
  format: typeof LEADERBOARD_ENTRIES_FORMAT;
  entries: LeaderboardEntry[];
}

/**
 * Renders the pages kept beside the JSON: file path on the branch -> content, e.g.
 * `{ "README.md": markdown, "index.html": html }`. Gets the stored entries (privateScore null), sorted.
 * Make it deterministic (e.g. `generatedAt` = the latest submission time, not now), or every record
 * commits the pages even when nothing changed.
 */
export type RenderPages = (entries: LeaderboardEntry[]) => Readonly<Record<string, string>>;

export interface GitHubStoreOptions {
  client: GitHubClient;
  owner: string;
  repo: string;
  /** Branch holding the leaderboard (default "leaderboard"); created from the default branch if missing. */
  branch?: string;
  /** Path of the entries JSON on the branch (default "leaderboard.json"). */
  path?: string;
  /** Regenerates the pages after each write; none when absent. */
  render?: RenderPages;
  /**
   * How long one record keeps retrying writes that lost a race to other runners before it gives up
   * (default 600 000 ms: ten minutes). Time, not a count: the attempts a write needs grow with the number
   * of runners writing at once. At least one attempt is always made.
   */
  retryForMs?: number;
  /**
   * Backoff between conflicting attempts: attempt n waits random(0, min(maxMs, baseMs·2^(n-1))) ("full
   * jitter"; default baseMs 500, maxMs 10 000). baseMs should be about one read-and-write round trip.
   */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Commit author/committer (default: the token's identity). */
  committer?: { name: string; email: string };
}

export interface RecordOutcome {
  /** Whether the entries JSON got a commit (false: this exact entry was already stored). */
  committed: boolean;
  /** Attempts the JSON write took (1: no conflict). */
  attempts: number;
  /** Pages this call committed. */
  pagesWritten: string[];
}

const ENTRY_KEYS = [
  "submissionId",
  "participant",
  "submittedAt",
  "status",
  "publicScore",
  "privateScore",
  "sealedPrivateScore",
  "durationMs",
  "imageDigest",
  "zipSha256",
  "runtime",
  "modelsDigest",
  "phase",
] as const satisfies readonly (keyof LeaderboardEntry)[];

/** The entry with its keys in one fixed order, so equal entries serialise identically; absent keys stay absent. */
function canonical(entry: LeaderboardEntry): LeaderboardEntry {
  const out: Record<string, unknown> = {};
  for (const key of ENTRY_KEYS) if (entry[key] !== undefined) out[key] = entry[key];
  return out as unknown as LeaderboardEntry;
}

/** The file's text for `entries`: sorted, canonical, two-space indent, trailing newline. */
export function serializeEntries(entries: readonly LeaderboardEntry[]): string {
  const file: LeaderboardEntriesFile = {
    format: LEADERBOARD_ENTRIES_FORMAT,
    entries: [...entries].sort(compareBySubmission).map(canonical),
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

export class GitHubLeaderboardStore implements LeaderboardStore {
  readonly owner: string;
  readonly repo: string;
  readonly branch: string;
  readonly path: string;
  readonly retryForMs: number;
  readonly #branch: Branch;
  readonly #render: RenderPages | undefined;
  #closed = false;

  constructor(options: GitHubStoreOptions) {
    for (const key of ["owner", "repo"] as const) {
      if (typeof options[key] !== "string" || options[key].trim() === "") {
        throw new StoreError(`GitHubLeaderboardStore: ${key} must be a non-empty string`);
      }
    }
    this.owner = options.owner;
    this.repo = options.repo;
    this.branch = options.branch ?? "leaderboard";
    this.path = (options.path ?? "leaderboard.json").replace(/^\/+/, "");
    if (this.branch.trim() === "" || this.path === "") {
      throw new StoreError("GitHubLeaderboardStore: branch and path must be non-empty");
    }
    this.retryForMs = options.retryForMs ?? 600_000;
    if (!Number.isFinite(this.retryForMs) || this.retryForMs < 0) {
      throw new StoreError(
        `GitHubLeaderboardStore: retryForMs must be a non-negative number of milliseconds, got ${options.retryForMs}`,
      );
    }
    this.#render = options.render;
    this.#branch = new Branch({
      client: options.client,
      owner: this.owner,
      repo: this.repo,
      branch: this.branch,
      retryForMs: this.retryForMs,
      ...(options.backoff !== undefined && { backoff: options.backoff }),
      ...(options.committer !== undefined && { committer: options.committer }),
      purpose: { what: "the leaderboard", elsewhere: "the action's leaderboard-branch input" },
      error: (message) => new StoreError(message),
    });
  }

  async record(entry: LeaderboardEntry): Promise<void> {
    await this.upsert(entry);
  }

  /** `record`, reporting what it did. */
  async upsert(entry: LeaderboardEntry): Promise<RecordOutcome> {
    this.#open();
    const valid = canonical(entryForStorage(entry));
    const id = JSON.stringify(valid.submissionId);
    const deadline = this.#branch.deadline();
    let entries: LeaderboardEntry[] = [];
    const outcome = await this.#branch.update(
      this.path,
      (text) => {
        const current = text === undefined ? [] : this.#parse(text);
        const index = current.findIndex((e) => e.submissionId === valid.submissionId);
        const standing = index >= 0 ? current[index]! : undefined;
        // A re-run's entry takes the place of the one there by the standing rule only: a failed or
        // given-up re-run leaves the earlier score on the branch, as on the gateway.
        if (
          standing &&
          (JSON.stringify(standing) === JSON.stringify(valid) ||
            !replacesStanding(standing.status, valid.status))
        ) {
          entries = current;
          return undefined;
        }
        entries = index >= 0 ? current.map((e, i) => (i === index ? valid : e)) : [...current, valid];
        return serializeEntries(entries);
      },
      { message: `leaderboard: record submission ${id} (${valid.status})`, deadline },
    );
    if (!outcome.ok) {
      throw new StoreError(
        `recording submission ${id} failed: ${this.#where()} kept changing under us (${outcome.reason}); ` +
          `gave up after ${plural(outcome.attempts, "attempt")} in ${this.#branch.retried()}. Other runners are ` +
          `writing at the same time: record it again (it is idempotent), or raise retryForMs`,
      );
    }
    const pagesWritten = await this.#syncPages(
      entries.sort(compareBySubmission),
      outcome.sha,
      valid.submissionId,
      deadline,
    );
    return { committed: outcome.committed, attempts: outcome.attempts, pagesWritten };
  }

  async get(submissionId: string): Promise<LeaderboardEntry | undefined> {
    return (await this.#snapshot()).get(submissionId);
  }

  async list(filter?: EntryFilter): Promise<LeaderboardEntry[]> {
    return (await this.#snapshot()).list(filter);
  }

  async countSubmissions(
    participant: string,
    since: Date | undefined,
    countFailed: boolean,
  ): Promise<number> {
    return (await this.#snapshot()).countSubmissions(participant, since, countFailed);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  // ---- internals ------------------------------------------------------------------------------------

  /** "leaderboard.json on branch leaderboard of owner/repo" */
  #where(path = this.path): string {
    return this.#branch.where(path);
  }

  #open(): void {
    if (this.#closed) throw new StoreError(`the leaderboard store ${this.#where()} is closed`);
  }

  /** The stored entries in a memory store: the reference semantics of list/get/count, for free. */
  async #snapshot(): Promise<MemoryLeaderboardStore> {
    this.#open();
    const file = await this.#branch.read(this.path);
    const memory = new MemoryLeaderboardStore();
    for (const entry of file === undefined ? [] : this.#parse(file.text)) await memory.record(entry);
    return memory;
  }

  #parse(text: string): LeaderboardEntry[] {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new StoreError(
        `${this.#where()} is not valid JSON (${(error as Error).message}); restore it from the branch ` +
          `history (git log ${this.branch} -- ${this.path})`,
      );
    }
    const format = (data as { format?: unknown } | null)?.format;
    if (typeof data !== "object" || data === null || format !== LEADERBOARD_ENTRIES_FORMAT) {
      const newer = typeof format === "string" && format.startsWith("proctor.leaderboard-entries/");
      throw new StoreError(
        `${this.#where()} has format ${JSON.stringify(format)}; this proctor reads ` +
          `${JSON.stringify(LEADERBOARD_ENTRIES_FORMAT)}` +
          (newer
            ? ": upgrade proctor to read it"
            : ": it is not a proctor leaderboard file; point `path` elsewhere"),
      );
    }
    const entries = (data as { entries?: unknown }).entries;
    if (!Array.isArray(entries)) {
      throw new StoreError(`${this.#where()}: "entries" must be an array`);
    }
    const byId = new Map<string, LeaderboardEntry>();
    entries.forEach((raw, i) => {
      try {
        const entry = canonical(entryForStorage(raw as LeaderboardEntry));
        byId.set(entry.submissionId, entry);
      } catch (error) {
        throw new StoreError(
          `${this.#where()}: entries[${i}] is not a valid stored entry: ${(error as Error).message}`,
        );
      }
    });
    return [...byId.values()].sort(compareBySubmission);
  }

  /**
   * Writes the pages rendered from `entries` (the JSON at `jsonSha`), then re-reads the JSON: when it moved
   * while we wrote, renders from the newer entries and writes again. Every runner that moves the JSON
   * renders after it, so a page write that conflicts and finds the JSON moved past what it renders leaves
   * the page to that newer runner (this is what keeps many runners at once from rewriting every page
   * after every record). Stops when a round wrote nothing (nothing of ours can be stale on the branch) or
   * at the deadline (the runner that moved the JSON renders after it).
   */
  async #syncPages(
    entries: LeaderboardEntry[],
    jsonSha: string | undefined,
    submissionId: string,
    deadline: number,
  ): Promise<string[]> {
    if (this.#render === undefined) return [];
    const written = new Set<string>();
    let current = { entries, sha: jsonSha };
    for (;;) {
      let pages: Readonly<Record<string, string>>;
      try {
        pages = this.#render(current.entries.map((e) => ({ ...e })));
      } catch (error) {
        throw new StoreError(
          `submission ${JSON.stringify(submissionId)} was recorded, but rendering the leaderboard pages ` +
            `failed: ${(error as Error).message}`,
        );
      }
      let wrote = false;
      for (const [path, text] of Object.entries(pages)) {
        if (path === this.path || path.trim() === "" || typeof text !== "string") {
          throw new StoreError(
            `render() returned a bad page ${JSON.stringify(path)}: page paths must be non-empty, differ from ` +
              `${this.path}, and map to strings`,
          );
        }
        const jsonShaNow = current.sha;
        const outcome = await this.#branch.writeIfChanged(path, text, {
          message: `leaderboard: render ${path} (submission ${JSON.stringify(submissionId)})`,
          deadline,
          // When the JSON moved past what this page renders, the runner that moved it renders it after us.
          superseded: async () => {
            const json = await this.#branch.read(this.path);
            return json !== undefined && json.sha !== jsonShaNow;
          },
        });
        if (typeof outcome === "object") {
          throw new StoreError(
            `submission ${JSON.stringify(submissionId)} was recorded, but writing ${this.#where(path)} kept ` +
              `conflicting (${outcome.gaveUp.reason}); gave up after ${plural(outcome.gaveUp.attempts, "attempt")} ` +
              `within ${this.#branch.retried()}. Recording the submission again is safe and regenerates the page`,
          );
        }
        if (outcome === "superseded") break;
        if (outcome === "written") {
          written.add(path);
          wrote = true;
        }
      }
      if (!wrote) break; // nothing of ours can be stale on the branch
      const latest = await this.#branch.read(this.path);
      if (latest === undefined || latest.sha === current.sha || Date.now() >= deadline) break;
      current = { entries: this.#parse(latest.text), sha: latest.sha };
    }
    return [...written];
  }
}
