/**
 * The leaderboard kept on a dedicated branch of a GitHub repository, for competitions whose runners share
 * no disk. The entries live in one JSON file (`leaderboard.json` on branch `leaderboard` by default):
 *
 *   { "format": "proctor.leaderboard-entries/v1", "entries": [ LeaderboardEntry, ... ] }
 *
 * sorted by submission time then id, private scores only ever sealed. It is read and written through the
 * contents API with optimistic concurrency: read it (fresh sha), upsert the entry by submission id, write
 * it back naming that sha; when another runner wrote in between, GitHub answers 409 (stale sha) or 422
 * (no sha, the file appeared meanwhile) or 409 (another commit moved the branch while ours was in
 * flight), and we read again and retry, with jittered exponential backoff, at most `maxAttempts` times.
 * Recording an identical entry again makes no commit.
 *
 * After the JSON, the pages (`render(entries)`, e.g. README.md and index.html) are regenerated on the same
 * branch the same way, skipping files whose content is already right. Pages written by concurrent runners
 * could otherwise end on an older state, so after writing them a runner reads the JSON again and, if it
 * moved meanwhile, renders and writes again from the newer entries: whichever runner writes a page last
 * has checked it matched the JSON afterwards, so the pages converge to the full leaderboard.
 */
import {
  MemoryLeaderboardStore,
  StoreError,
  type EntryFilter,
  type LeaderboardStore,
} from "../leaderboard/index.js";
import type { LeaderboardEntry } from "../leaderboard/index.js";
import { compareBySubmission, entryForStorage } from "../leaderboard/store.js";
import type { GitHubClient } from "./client.js";
import { gitHubMessage, statusOf, toGitHubError, type ErrorContext } from "./errors.js";

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
  /** Writes tried per file before giving up on conflicts (default 8). */
  maxAttempts?: number;
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

interface RemoteFile {
  sha: string;
  text: string;
}

type PutResult = { ok: true; sha: string } | { ok: false; reason: string };

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
] as const satisfies readonly (keyof LeaderboardEntry)[];

/** The entry with its keys in one fixed order, so equal entries serialise identically. */
function canonical(entry: LeaderboardEntry): LeaderboardEntry {
  const out: Record<string, unknown> = {};
  for (const key of ENTRY_KEYS) out[key] = entry[key];
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

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class GitHubLeaderboardStore implements LeaderboardStore {
  readonly owner: string;
  readonly repo: string;
  readonly branch: string;
  readonly path: string;
  readonly maxAttempts: number;
  readonly #client: GitHubClient;
  readonly #render: RenderPages | undefined;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #committer: { name: string; email: string } | undefined;
  #branchReady = false;
  #repositoryConfirmed = false;
  #closed = false;

  constructor(options: GitHubStoreOptions) {
    for (const key of ["owner", "repo"] as const) {
      if (typeof options[key] !== "string" || options[key].trim() === "") {
        throw new StoreError(`GitHubLeaderboardStore: ${key} must be a non-empty string`);
      }
    }
    this.#client = options.client;
    this.owner = options.owner;
    this.repo = options.repo;
    this.branch = options.branch ?? "leaderboard";
    this.path = (options.path ?? "leaderboard.json").replace(/^\/+/, "");
    if (this.branch.trim() === "" || this.path === "") {
      throw new StoreError("GitHubLeaderboardStore: branch and path must be non-empty");
    }
    this.maxAttempts = options.maxAttempts ?? 8;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw new StoreError(
        `GitHubLeaderboardStore: maxAttempts must be a positive integer, got ${options.maxAttempts}`,
      );
    }
    this.#render = options.render;
    this.#baseMs = Math.max(0, options.backoff?.baseMs ?? 500);
    this.#maxMs = Math.max(this.#baseMs, options.backoff?.maxMs ?? 10_000);
    this.#committer = options.committer;
  }

  /** "leaderboard.json on branch leaderboard of owner/repo" */
  #where(path = this.path): string {
    return `${path} on branch ${this.branch} of ${this.owner}/${this.repo}`;
  }

  async record(entry: LeaderboardEntry): Promise<void> {
    await this.upsert(entry);
  }

  /** `record`, reporting what it did. */
  async upsert(entry: LeaderboardEntry): Promise<RecordOutcome> {
    this.#open();
    const valid = canonical(entryForStorage(entry));
    await this.#ensureBranch();
    const id = JSON.stringify(valid.submissionId);
    const message = `leaderboard: record submission ${id} (${valid.status})`;

    let attempts = 0;
    let written: { entries: LeaderboardEntry[]; sha: string | undefined };
    let committed = false;
    for (;;) {
      attempts += 1;
      const file = await this.#read(this.path, `reading ${this.#where()}`);
      const entries = file === undefined ? [] : this.#parse(file.text);
      const index = entries.findIndex((e) => e.submissionId === valid.submissionId);
      if (index >= 0 && JSON.stringify(entries[index]) === JSON.stringify(valid)) {
        written = { entries, sha: file?.sha };
        break;
      }
      const next = index >= 0 ? entries.map((e, i) => (i === index ? valid : e)) : [...entries, valid];
      const put = await this.#put(this.path, serializeEntries(next), file?.sha, message);
      if (put.ok) {
        written = { entries: next.sort(compareBySubmission), sha: put.sha };
        committed = true;
        break;
      }
      if (attempts >= this.maxAttempts) {
        throw new StoreError(
          `recording submission ${id} failed: ${this.#where()} kept changing under us (${put.reason}); ` +
            `gave up after ${attempts} attempts. Other runners are writing at the same time: record it ` +
            `again (it is idempotent), or raise maxAttempts`,
        );
      }
      await this.#backoff(attempts);
    }
    const pagesWritten = await this.#syncPages(written.entries, written.sha, valid.submissionId);
    return { committed, attempts, pagesWritten };
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

  #open(): void {
    if (this.#closed) throw new StoreError(`the leaderboard store ${this.#where()} is closed`);
  }

  /** The stored entries in a memory store: the reference semantics of list/get/count, for free. */
  async #snapshot(): Promise<MemoryLeaderboardStore> {
    this.#open();
    const file = await this.#read(this.path, `reading ${this.#where()}`);
    const memory = new MemoryLeaderboardStore();
    for (const entry of file === undefined ? [] : this.#parse(file.text)) await memory.record(entry);
    return memory;
  }

  #context(operation: string, notFound?: string): ErrorContext {
    return {
      operation,
      repository: `${this.owner}/${this.repo}`,
      permission: "contents: write",
      ...(notFound !== undefined ? { notFound } : {}),
    };
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

  /** The file at the branch head, or undefined when it (or the branch) does not exist. */
  async #read(path: string, operation: string): Promise<RemoteFile | undefined> {
    let data: unknown;
    try {
      ({ data } = await this.#client.rest.repos.getContent({
        owner: this.owner,
        repo: this.repo,
        path,
        ref: this.branch,
      }));
    } catch (error) {
      if (statusOf(error) === 404) {
        await this.#confirmRepository(error, operation);
        return undefined;
      }
      throw toGitHubError(error, { ...this.#context(operation), permission: "contents: read" });
    }
    const file = data as { type?: string; sha?: string; content?: string; encoding?: string; size?: number };
    if (Array.isArray(data) || file.type !== "file" || typeof file.sha !== "string") {
      throw new StoreError(
        `${this.#where(path)} is not a file (it is a ${Array.isArray(data) ? "directory" : file.type})`,
      );
    }
    let base64 = file.content ?? "";
    if (file.encoding !== "base64" || (base64 === "" && (file.size ?? 0) > 0)) {
      // Over the contents API's 1 MB: the content comes from the blob (up to 100 MB).
      try {
        const blob = await this.#client.rest.git.getBlob({
          owner: this.owner,
          repo: this.repo,
          file_sha: file.sha,
        });
        base64 = blob.data.content;
      } catch (error) {
        throw toGitHubError(error, this.#context(`${operation} (as a blob, it is over 1 MB)`));
      }
    }
    return { sha: file.sha, text: Buffer.from(base64, "base64").toString("utf8") };
  }

  /** One optimistic write: ok with the new blob sha, or a conflict (stale or missing sha). */
  async #put(path: string, text: string, sha: string | undefined, message: string): Promise<PutResult> {
    try {
      const { data } = await this.#client.rest.repos.createOrUpdateFileContents({
        owner: this.owner,
        repo: this.repo,
        path,
        branch: this.branch,
        message,
        content: Buffer.from(text, "utf8").toString("base64"),
        ...(sha !== undefined ? { sha } : {}),
        ...(this.#committer !== undefined ? { committer: this.#committer, author: this.#committer } : {}),
      });
      return { ok: true, sha: data.content?.sha ?? "" };
    } catch (error) {
      const status = statusOf(error);
      // 409: our sha is stale. 422 about "sha": the file appeared since we read it (we sent none).
      if (status === 409 || (status === 422 && /\bsha\b/i.test(gitHubMessage(error)))) {
        return {
          ok: false,
          reason: `GitHub answered ${status}: ${gitHubMessage(error).replace(/\s+/g, " ")}`,
        };
      }
      throw toGitHubError(
        error,
        this.#context(
          `writing ${this.#where(path)}`,
          `branch ${this.branch} of ${this.owner}/${this.repo} does not exist (was it deleted?)`,
        ),
      );
    }
  }

  async #backoff(attempt: number): Promise<void> {
    const window = Math.min(this.#maxMs, this.#baseMs * 2 ** (attempt - 1));
    await sleep(Math.random() * window);
  }

  /** Creates the branch from the default branch's head when it does not exist (once per store). */
  async #ensureBranch(): Promise<void> {
    if (this.#branchReady) return;
    const git = this.#client.rest.git;
    const { owner, repo, branch } = this;
    const target = `${owner}/${repo}`;
    try {
      await git.getRef({ owner, repo, ref: `heads/${branch}` });
      this.#branchReady = true;
      return;
    } catch (error) {
      if (statusOf(error) === 409) throw this.#emptyRepository(error);
      if (statusOf(error) !== 404)
        throw toGitHubError(error, this.#context(`looking up branch ${branch} of ${target}`));
    }
    let base: string;
    try {
      base = (await this.#client.rest.repos.get({ owner, repo })).data.default_branch;
    } catch (error) {
      throw toGitHubError(
        error,
        this.#context(`reading repository ${target}`, `repository ${target} does not exist`),
      );
    }
    let head: string;
    try {
      head = (await git.getRef({ owner, repo, ref: `heads/${base}` })).data.object.sha;
    } catch (error) {
      if (statusOf(error) === 404 || statusOf(error) === 409) throw this.#emptyRepository(error, base);
      throw toGitHubError(error, this.#context(`reading branch ${base} of ${target}`));
    }
    try {
      await git.createRef({ owner, repo, ref: `refs/heads/${branch}`, sha: head });
    } catch (error) {
      // Another runner created it first: just as good.
      if (!(statusOf(error) === 422 && /already exists/i.test(gitHubMessage(error)))) {
        throw toGitHubError(error, this.#context(`creating branch ${branch} of ${target} from ${base}`));
      }
    }
    this.#branchReady = true;
  }

  /**
   * A 404 from the contents API means "no such file", "no such branch" (both: an empty leaderboard) or "no
   * such repository / no access" (an error: an empty leaderboard would silently wave every quota through).
   */
  async #confirmRepository(notFound: unknown, operation: string): Promise<void> {
    if (this.#repositoryConfirmed || this.#branchReady) return;
    try {
      await this.#client.rest.repos.get({ owner: this.owner, repo: this.repo });
    } catch (error) {
      throw toGitHubError(
        statusOf(error) === 404 ? notFound : error,
        this.#context(operation, `repository ${this.owner}/${this.repo} does not exist`),
      );
    }
    this.#repositoryConfirmed = true;
  }

  #emptyRepository(error: unknown, base?: string): StoreError {
    return new StoreError(
      `cannot create branch ${this.branch} of ${this.owner}/${this.repo}: its default branch ` +
        `${base === undefined ? "" : `${base} `}has no commits (${gitHubMessage(error)}); push a first ` +
        `commit, then record again`,
    );
  }

  /**
   * Writes the pages rendered from `entries` (the JSON at `jsonSha`), then re-reads the JSON: when it
   * moved meanwhile, renders from the newer entries and writes again (bounded by maxAttempts rounds;
   * past that, the runner that moved it renders after us anyway).
   */
  async #syncPages(
    entries: LeaderboardEntry[],
    jsonSha: string | undefined,
    submissionId: string,
  ): Promise<string[]> {
    if (this.#render === undefined) return [];
    const written = new Set<string>();
    let current = { entries, sha: jsonSha };
    for (let round = 1; ; round += 1) {
      let pages: Readonly<Record<string, string>>;
      try {
        pages = this.#render(current.entries.map((e) => ({ ...e })));
      } catch (error) {
        throw new StoreError(
          `submission ${JSON.stringify(submissionId)} was recorded, but rendering the leaderboard pages ` +
            `failed: ${(error as Error).message}`,
        );
      }
      for (const [path, text] of Object.entries(pages)) {
        if (path === this.path || path.trim() === "" || typeof text !== "string") {
          throw new StoreError(
            `render() returned a bad page ${JSON.stringify(path)}: page paths must be non-empty, differ from ` +
              `${this.path}, and map to strings`,
          );
        }
        if (await this.#putIfChanged(path, text, submissionId)) written.add(path);
      }
      if (round >= this.maxAttempts) break;
      const latest = await this.#read(this.path, `reading ${this.#where()}`);
      if (latest === undefined || latest.sha === current.sha) break;
      current = { entries: this.#parse(latest.text), sha: latest.sha };
    }
    return [...written];
  }

  /** Writes `text` to `path` unless it is already there; true when it committed. */
  async #putIfChanged(path: string, text: string, submissionId: string): Promise<boolean> {
    const message = `leaderboard: render ${path} (submission ${JSON.stringify(submissionId)})`;
    for (let attempt = 1; ; attempt += 1) {
      const file = await this.#read(path, `reading ${this.#where(path)}`);
      if (file !== undefined && file.text === text) return false;
      const put = await this.#put(path, text, file?.sha, message);
      if (put.ok) return true;
      if (attempt >= this.maxAttempts) {
        throw new StoreError(
          `submission ${JSON.stringify(submissionId)} was recorded, but writing ${this.#where(path)} kept ` +
            `conflicting (${put.reason}); gave up after ${attempt} attempts. Recording the submission again ` +
            `is safe and regenerates the page`,
        );
      }
      await this.#backoff(attempt);
    }
  }
}
