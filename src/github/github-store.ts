/**
 * The leaderboard kept on a dedicated branch of a GitHub repository, for competitions whose runners share
 * no disk. The entries live in one JSON file (`leaderboard.json` on branch `leaderboard` by default):
 *
 *   { "format": "proctor.leaderboard-entries/v1", "entries": [ LeaderboardEntry, ... ] }
 *
 * sorted by submission time then id, private scores only ever sealed. It is read and written through the
 * contents API with optimistic concurrency: read it (fresh sha), upsert the entry by submission id, write
 * it back naming that sha; when another runner wrote in between, GitHub answers 409 `… does not match …`
 * (stale sha), 422 `"sha" wasn't supplied` (the file appeared meanwhile) or 422 `is at … but expected …`
 * (another commit moved the branch while ours was in flight), and we read again and retry with jittered
 * exponential backoff. Every commit on the branch conflicts with every write in flight, so the retries
 * needed grow with the number of runners writing at once: the bound is time (`retryForMs`), not a count.
 * A write a repository ruleset or branch protection refuses is never retried: that is the organizer's to
 * change. Recording an identical entry again makes no commit.
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
  MemoryLeaderboardStore,
  StoreError,
  type EntryFilter,
  type LeaderboardStore,
} from "../leaderboard/index.js";
import type { LeaderboardEntry } from "../leaderboard/index.js";
import { compareBySubmission, entryForStorage } from "../leaderboard/store.js";
import type { GitHubClient } from "./client.js";
import { GitHubError, gitHubMessage, statusOf, toGitHubError, type ErrorContext } from "./errors.js";

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

interface RemoteFile {
  sha: string;
  text: string;
}

type PutResult = { ok: true; sha: string } | { ok: false; reason: string };

/** A write lost a race: stale sha, a file that appeared meanwhile, or a branch that moved in flight. */
function isConflict(status: number | undefined, message: string): boolean {
  if (status === 409) return true;
  return (
    status === 422 &&
    (/"sha" wasn't supplied/i.test(message) ||
      /\bis at [0-9a-f]{7,40} but expected [0-9a-f]{7,40}\b/i.test(message))
  );
}

/**
 * A write refused by a repository ruleset or (classic) branch protection: GitHub answers 409 or 422 with
 * e.g. `Repository rule violations found\n\nChanges must be made through a pull request.` Retrying
 * cannot help.
 */
function isRuleViolation(status: number | undefined, message: string): boolean {
  return (
    (status === 409 || status === 422) &&
    /repository rule violations? found|protected branch|cannot (update|create|delete) this protected ref|changes must be made through a pull request|creations being restricted/i.test(
      message,
    )
  );
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

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class GitHubLeaderboardStore implements LeaderboardStore {
  readonly owner: string;
  readonly repo: string;
  readonly branch: string;
  readonly path: string;
  readonly retryForMs: number;
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
    this.retryForMs = options.retryForMs ?? 600_000;
    if (!Number.isFinite(this.retryForMs) || this.retryForMs < 0) {
      throw new StoreError(
        `GitHubLeaderboardStore: retryForMs must be a non-negative number of milliseconds, got ${options.retryForMs}`,
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
    const deadline = Date.now() + this.retryForMs;

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
      if (!(await this.#backoff(attempts, deadline))) {
        throw new StoreError(
          `recording submission ${id} failed: ${this.#where()} kept changing under us (${put.reason}); ` +
            `gave up after ${plural(attempts, "attempt")} in ${this.#retried()}. Other runners are writing at the ` +
            `same time: record it again (it is idempotent), or raise retryForMs`,
        );
      }
    }
    const pagesWritten = await this.#syncPages(written.entries, written.sha, valid.submissionId, deadline);
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

  /** One optimistic write: ok with the new blob sha, or a conflict (stale or missing sha, branch moved). */
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
      const said = gitHubMessage(error);
      if (isRuleViolation(status, said)) throw this.#ruleViolation(error, `writing ${this.#where(path)}`);
      if (isConflict(status, said)) {
        return { ok: false, reason: `GitHub answered ${status}: ${said.replace(/\s+/g, " ").trim()}` };
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

  /**
   * Waits before attempt `attempt + 1`: random(0, min(maxMs, baseMs·2^(attempt-1))), cut short at the
   * deadline. False when the deadline has passed: give up.
   */
  async #backoff(attempt: number, deadline: number): Promise<boolean> {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    const window = Math.min(this.#maxMs, this.#baseMs * 2 ** (attempt - 1));
    await sleep(Math.min(left, Math.random() * window));
    return true;
  }

  /** "10 minutes" / "250 ms": the retry budget, for messages. */
  #retried(): string {
    const ms = this.retryForMs;
    return ms >= 60_000 && ms % 60_000 === 0
      ? plural(ms / 60_000, "minute")
      : ms >= 1000
        ? `${ms / 1000} s`
        : `${ms} ms`;
  }

  /** The organizer protected the branch: say which and what to change. Never retried. */
  #ruleViolation(error: unknown, operation: string): GitHubError {
    const said = gitHubMessage(error).replace(/\s+/g, " ").trim();
    return new GitHubError(
      `${operation} failed: GitHub refused it under a rule on branch ${this.branch} of ` +
        `${this.owner}/${this.repo} (${statusOf(error)} ${said}). proctor commits the leaderboard to this ` +
        `branch directly, so no ruleset or branch protection rule may require pull requests, status checks ` +
        `or signed commits on it, nor restrict creating or updating it: exclude branch ${this.branch} from ` +
        `the ruleset (Settings → Rules → Rulesets → target branches) or remove its branch protection rule ` +
        `(Settings → Branches), or add GitHub Actions to the ruleset's bypass list; or keep the leaderboard ` +
        `on a branch no rule covers (the action's leaderboard-branch input)`,
      statusOf(error),
      operation,
      { cause: error },
    );
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
      const operation = `creating branch ${branch} of ${target} from ${base}`;
      if (isRuleViolation(statusOf(error), gitHubMessage(error))) throw this.#ruleViolation(error, operation);
      // Another runner created it first: just as good.
      if (!(statusOf(error) === 422 && /already exists/i.test(gitHubMessage(error)))) {
        throw toGitHubError(error, this.#context(operation));
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
        const outcome = await this.#putIfChanged(path, text, current.sha, submissionId, deadline);
        if (outcome === "superseded") break;
        if (outcome === "written") {
          written.add(path);
          wrote = true;
        }
      }
      if (!wrote) break; // nothing of ours can be stale on the branch
      const latest = await this.#read(this.path, `reading ${this.#where()}`);
      if (latest === undefined || latest.sha === current.sha || Date.now() >= deadline) break;
      current = { entries: this.#parse(latest.text), sha: latest.sha };
    }
    return [...written];
  }

  /**
   * Writes `text` (rendered from the JSON at `jsonSha`) to `path` unless it is already there. After a
   * conflict, first checks the JSON: when it moved past `jsonSha`, the runner that moved it renders this
   * page after us ("superseded"), so we leave it.
   */
  async #putIfChanged(
    path: string,
    text: string,
    jsonSha: string | undefined,
    submissionId: string,
    deadline: number,
  ): Promise<"written" | "unchanged" | "superseded"> {
    const message = `leaderboard: render ${path} (submission ${JSON.stringify(submissionId)})`;
    for (let attempt = 1; ; attempt += 1) {
      const file = await this.#read(path, `reading ${this.#where(path)}`);
      if (file !== undefined && file.text === text) return "unchanged";
      if (attempt > 1) {
        const json = await this.#read(this.path, `reading ${this.#where()}`);
        if (json !== undefined && json.sha !== jsonSha) return "superseded";
      }
      const put = await this.#put(path, text, file?.sha, message);
      if (put.ok) return "written";
      if (!(await this.#backoff(attempt, deadline))) {
        throw new StoreError(
          `submission ${JSON.stringify(submissionId)} was recorded, but writing ${this.#where(path)} kept ` +
            `conflicting (${put.reason}); gave up after ${plural(attempt, "attempt")} within ${this.#retried()}. ` +
            `Recording the submission again is safe and regenerates the page`,
        );
      }
    }
  }
}
