/**
 * Files kept on a dedicated branch of a GitHub repository, written through the contents API with optimistic
 * concurrency: read a file (fresh sha), change it, write it back naming that sha; when another writer
 * committed in between, GitHub answers 409 `… does not match …` (stale sha), 422 `"sha" wasn't supplied`
 * (the file appeared meanwhile) or 422 `is at … but expected …` (another commit moved the branch while ours
 * was in flight), and we read again and retry with jittered exponential backoff. Every commit on the branch
 * conflicts with every write in flight, so the retries needed grow with the number of writers: the bound
 * is time (`retryForMs`), not a count. A write a repository ruleset or branch protection refuses is never
 * retried: that is the organizer's to change. What the files mean is the caller's (e.g. the leaderboard
 * store); this module knows branches, shas and conflicts only.
 */
import type { GitHubClient } from "./client.js";
import { GitHubError, gitHubMessage, statusOf, toGitHubError, type ErrorContext } from "./errors.js";

export interface BranchOptions {
  client: GitHubClient;
  owner: string;
  repo: string;
  /** The branch; created from the default branch's head when missing. */
  branch: string;
  /**
   * How long one change keeps retrying writes that lost a race before it gives up (default 600 000 ms:
   * ten minutes). At least one attempt is always made.
   */
  retryForMs?: number;
  /**
   * Backoff between conflicting attempts: attempt n waits random(0, min(maxMs, baseMs·2^(n-1))) ("full
   * jitter"; default baseMs 500, maxMs 10 000). baseMs should be about one read-and-write round trip.
   */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Commit author/committer (default: the token's identity). */
  committer?: { name: string; email: string };
  /** What the branch holds and the setting that moves it elsewhere, for the message when a rule refuses a write. */
  purpose: { what: string; elsewhere: string };
  /** The caller's error type, for what is wrong with the branch but not a GitHub answer (no file there, an empty repository). */
  error: (message: string) => Error;
}

export interface BranchFile {
  sha: string;
  text: string;
}

/** One change's outcome: written (or already as wanted), or given up at the time bound. */
export type UpdateOutcome =
  | { ok: true; committed: boolean; attempts: number; sha: string | undefined }
  | { ok: false; attempts: number; reason: string };

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

export const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Branch {
  readonly owner: string;
  readonly repo: string;
  readonly branch: string;
  readonly retryForMs: number;
  readonly #client: GitHubClient;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #committer: { name: string; email: string } | undefined;
  readonly #purpose: BranchOptions["purpose"];
  readonly #error: (message: string) => Error;
  #ready = false;
  #repositoryConfirmed = false;

  constructor(options: BranchOptions) {
    this.#client = options.client;
    this.owner = options.owner;
    this.repo = options.repo;
    this.branch = options.branch;
    this.retryForMs = options.retryForMs ?? 600_000;
    this.#baseMs = Math.max(0, options.backoff?.baseMs ?? 500);
    this.#maxMs = Math.max(this.#baseMs, options.backoff?.maxMs ?? 10_000);
    this.#committer = options.committer;
    this.#purpose = options.purpose;
    this.#error = options.error;
  }

  /** "leaderboard.json on branch leaderboard of owner/repo" */
  where(path: string): string {
    return `${path} on branch ${this.branch} of ${this.owner}/${this.repo}`;
  }

  /** When a change started now must give up. */
  deadline(): number {
    return Date.now() + this.retryForMs;
  }

  /** "10 minutes" / "250 ms": the retry budget, for messages. */
  retried(): string {
    const ms = this.retryForMs;
    return ms >= 60_000 && ms % 60_000 === 0
      ? plural(ms / 60_000, "minute")
      : ms >= 1000
        ? `${ms / 1000} s`
        : `${ms} ms`;
  }

  /**
   * Changes `path` until the write lands: `edit` gets the file's text at the branch head (undefined when
   * there is none) and returns the new text, or undefined when the file is already as wanted (no commit).
   * Read again on every conflict, so `edit` always sees the latest text.
   */
  async update(
    path: string,
    edit: (text: string | undefined) => string | undefined,
    options: { message: string; deadline: number },
  ): Promise<UpdateOutcome> {
    await this.ensure();
    for (let attempts = 1; ; attempts += 1) {
      const file = await this.read(path);
      const text = edit(file?.text);
      if (text === undefined) return { ok: true, committed: false, attempts, sha: file?.sha };
      const put = await this.#put(path, text, file?.sha, options.message);
      if (put.ok) return { ok: true, committed: true, attempts, sha: put.sha };
      if (!(await this.#backoff(attempts, options.deadline)))
        return { ok: false, attempts, reason: put.reason };
    }
  }

  /**
   * Writes `text` to `path` unless it is already there. After a conflict, first asks `superseded` (e.g.
   * whether what the text was derived from moved on: then a newer writer writes it after us), and leaves
   * the file when it says so.
   */
  async writeIfChanged(
    path: string,
    text: string,
    options: { message: string; deadline: number; superseded: () => Promise<boolean> },
  ): Promise<"written" | "unchanged" | "superseded" | { gaveUp: { attempts: number; reason: string } }> {
    for (let attempt = 1; ; attempt += 1) {
      const file = await this.read(path);
      if (file !== undefined && file.text === text) return "unchanged";
      if (attempt > 1 && (await options.superseded())) return "superseded";
      const put = await this.#put(path, text, file?.sha, options.message);
      if (put.ok) return "written";
      if (!(await this.#backoff(attempt, options.deadline)))
        return { gaveUp: { attempts: attempt, reason: put.reason } };
    }
  }

  /** The file at the branch head, or undefined when it (or the branch) does not exist. */
  async read(path: string): Promise<BranchFile | undefined> {
    const operation = `reading ${this.where(path)}`;
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
      throw this.#error(
        `${this.where(path)} is not a file (it is a ${Array.isArray(data) ? "directory" : file.type})`,
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

  /** Creates the branch from the default branch's head when it does not exist (once per instance). */
  async ensure(): Promise<void> {
    if (this.#ready) return;
    const git = this.#client.rest.git;
    const { owner, repo, branch } = this;
    const target = `${owner}/${repo}`;
    try {
      await git.getRef({ owner, repo, ref: `heads/${branch}` });
      this.#ready = true;
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
      // Another writer created it first: just as good.
      if (!(statusOf(error) === 422 && /already exists/i.test(gitHubMessage(error)))) {
        throw toGitHubError(error, this.#context(operation));
      }
    }
    this.#ready = true;
  }

  // ---- internals ------------------------------------------------------------------------------------

  #context(operation: string, notFound?: string): ErrorContext {
    return {
      operation,
      repository: `${this.owner}/${this.repo}`,
      permission: "contents: write",
      ...(notFound !== undefined ? { notFound } : {}),
    };
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
      if (isRuleViolation(status, said)) throw this.#ruleViolation(error, `writing ${this.where(path)}`);
      if (isConflict(status, said)) {
        return { ok: false, reason: `GitHub answered ${status}: ${said.replace(/\s+/g, " ").trim()}` };
      }
      throw toGitHubError(
        error,
        this.#context(
          `writing ${this.where(path)}`,
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

  /** The organizer protected the branch: say which and what to change. Never retried. */
  #ruleViolation(error: unknown, operation: string): GitHubError {
    const said = gitHubMessage(error).replace(/\s+/g, " ").trim();
    const { what, elsewhere } = this.#purpose;
    return new GitHubError(
      `${operation} failed: GitHub refused it under a rule on branch ${this.branch} of ` +
        `${this.owner}/${this.repo} (${statusOf(error)} ${said}). proctor commits ${what} to this ` +
        `branch directly, so no ruleset or branch protection rule may require pull requests, status checks ` +
        `or signed commits on it, nor restrict creating or updating it: exclude branch ${this.branch} from ` +
        `the ruleset (Settings → Rules → Rulesets → target branches) or remove its branch protection rule ` +
        `(Settings → Branches), or add GitHub Actions to the ruleset's bypass list; or keep ${what} ` +
        `on a branch no rule covers (${elsewhere})`,
      statusOf(error),
      operation,
      { cause: error },
    );
  }

  /**
   * A 404 from the contents API means "no such file", "no such branch" (both: nothing there yet) or "no
   * such repository / no access" (an error: reading it as empty could wave through what it guards).
   */
  async #confirmRepository(notFound: unknown, operation: string): Promise<void> {
    if (this.#repositoryConfirmed || this.#ready) return;
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

  #emptyRepository(error: unknown, base?: string): Error {
    return this.#error(
      `cannot create branch ${this.branch} of ${this.owner}/${this.repo}: its default branch ` +
        `${base === undefined ? "" : `${base} `}has no commits (${gitHubMessage(error)}); push a first ` +
        `commit, then try again`,
    );
  }
}
