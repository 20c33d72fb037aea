/**
 * A local stand-in for the GitHub REST API (github.com cannot be reached from the test machines). It
 * implements, with GitHub's documented answers and errors, exactly the endpoints the github room uses:
 *
 *   GET  /repos/{o}/{r}                                  repository (default_branch)
 *   GET  /repos/{o}/{r}/git/ref/heads/{branch}           a branch ref          POST .../git/refs   create
 *   GET  /repos/{o}/{r}/git/blobs/{sha}                  a blob (files over the contents API size limit)
 *   GET  /repos/{o}/{r}/contents/{path}?ref=             a file (sha = git blob sha1)
 *   PUT  /repos/{o}/{r}/contents/{path}                  create/update with optimistic concurrency:
 *        existing file without sha -> 422 `Invalid request.\n\n"sha" wasn't supplied.`,
 *        stale sha -> 409 `{path} does not match {sha}`, missing branch -> 404, new file: sha ignored,
 *        another commit landed on the branch while the request was in flight -> 422 `is at X but expected Y`,
 *        a branch under a ruleset (`protectBranch`) -> 409 `Repository rule violations found\n\n{rule}\n\n`
 *   POST /repos/{o}/{r}/statuses/{sha}                   commit status (description <= 140 characters)
 *   POST /repos/{o}/{r}/issues/{n}/comments              a comment on an issue or pull request
 *   GET  /repos/{o}/{r}/issues/{n}/comments              its comments (page, per_page)
 *   PATCH /repos/{o}/{r}/issues/comments/{id}            edit a comment
 *   GET  /repos/{o}/{r}/pulls?state=&head=owner:branch   pull requests (a fork's head included)
 *   POST /repos/{o}/{r}/dispatches                       repository_dispatch (204; 422 over 10 properties)
 *
 * plus token auth (401 `Bad credentials`; more tokens with `addToken`, e.g. a fork PR's read-only one,
 * whose writes answer 403), rate-limit headers on every answer, fault injection (5xx,
 * secondary and primary rate limits, forced conflicts) and artificial latency so concurrent races are
 * real. Everything received is recorded for assertions. Binds 127.0.0.1 only. Test support, not API.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** Git's blob id: sha1("blob <byte length>\0" + content). */
export function gitBlobSha(content: Buffer | string): string {
  const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
  return createHash("sha1")
    .update(Buffer.concat([Buffer.from(`blob ${bytes.length}\0`, "utf8"), bytes]))
    .digest("hex");
}

/** A branch ruleset the organizer set up: every write to the branch is refused with `rule`. */
export interface FakeRuleset {
  branch: string;
  /** GitHub's line for the rule, e.g. "Changes must be made through a pull request." */
  rule: string;
}

export interface FakeRepoInit {
  defaultBranch?: string;
  /** Files of the first commit on the default branch (path -> UTF-8 text). */
  files?: Record<string, string>;
  /** A repository without any commit (GitHub answers git ref look-ups with 409 "Git Repository is empty."). */
  empty?: boolean;
}

export type FakeFault =
  | { kind: "server-error"; status?: number }
  /** 403 `Resource not accessible by integration`: a token without the needed permission. */
  | { kind: "forbidden" }
  | { kind: "secondary-rate-limit"; status?: 403 | 429; retryAfterS?: number }
  | { kind: "primary-rate-limit"; resetInS?: number }
  /** Answers a contents PUT with 409 `{path} does not match {sha}` whatever sha it carried. */
  | { kind: "conflict" }
  /** Another commit lands on the branch while a contents PUT is in flight (GitHub: 422 `is at … but expected …`). */
  | { kind: "branch-moved" };

export interface FaultOptions {
  /** How many matching requests get the fault (default 1; Infinity for all). */
  times?: number;
  method?: string;
  /** Matched against the decoded path (e.g. /^\/repos\/o\/r\/contents\//). */
  path?: RegExp;
}

export interface RecordedRequest {
  method: string;
  /** Decoded path, without the query. */
  path: string;
  query: Record<string, string>;
  body: unknown;
  status: number;
  /** GitHub's `message` in the answer, when it has one (errors). */
  message?: string;
}

export interface FakeCommit {
  sha: string;
  parent: string | null;
  message: string;
  /** Paths whose content this commit changed or added. */
  changed: string[];
  tree: ReadonlyMap<string, Buffer>;
}

export interface FakeLabel {
  id: number;
  name: string;
}

export interface FakeIssue {
  number: number;
  title: string;
  body: string | null;
  state: "open" | "closed";
  state_reason: string | null;
  labels: string[];
  isPullRequest: boolean;
  /** A pull request's head: the (fork's) owner, its branch and commit. */
  head?: FakePullHead;
  createdAt: string;
  updatedAt: string;
}

export interface FakeComment {
  id: number;
  issueNumber: number;
  body: string;
  /** The login of the token that wrote it. */
  author: string;
}

export interface FakePullHead {
  owner: string;
  branch: string;
  sha: string;
}

/** Who a token is: its login, and whether it may only read (a fork pull request's GITHUB_TOKEN). */
export interface FakeTokenIdentity {
  login: string;
  readOnly?: boolean;
}

export interface FakeStatus {
  id: number;
  sha: string;
  state: string;
  context: string;
  description: string | null;
  targetUrl: string | null;
}

export interface FakeDispatch {
  eventType: string;
  clientPayload: Record<string, unknown>;
}

interface Repo {
  id: number;
  owner: string;
  name: string;
  defaultBranch: string;
  commits: Map<string, FakeCommit>;
  branches: Map<string, string>;
  blobs: Map<string, Buffer>;
  issues: FakeIssue[];
  comments: FakeComment[];
  statuses: FakeStatus[];
  dispatches: FakeDispatch[];
  rulesets: FakeRuleset[];
}

export interface FakeGitHubOptions {
  /** The token requests must carry (default "test-token"). */
  token?: string;
  /** Delay before each request is handled and before its answer is sent: [min, max] ms, random within. */
  latencyMs?: number | [number, number];
  /** Files larger than this come back from the contents API without content (GitHub: 1 MB). */
  contentsSizeLimit?: number;
}

class HttpAnswer {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

const DOCS = "https://docs.github.com/rest";

function answer(
  status: number,
  message: string,
  docs = DOCS,
  extra: Record<string, unknown> = {},
): HttpAnswer {
  return new HttpAnswer(status, { message, ...extra, documentation_url: docs, status: String(status) });
}

const notFound = (docs = DOCS) => answer(404, "Not Found", docs);
const invalid = (detail: string, docs = DOCS) => answer(422, `Invalid request.\n\n${detail}`, docs);

function validationFailed(resource: string, field: string, message: string, docs = DOCS): HttpAnswer {
  return answer(422, "Validation Failed", docs, { errors: [{ resource, code: "custom", field, message }] });
}

/** GitHub's answer to a write a repository ruleset refuses. */
function ruleViolation(status: 409 | 422, ruleset: FakeRuleset, docs: string): HttpAnswer {
  return answer(status, `Repository rule violations found\n\n${ruleset.rule}\n\n`, docs);
}

function base64Lines(bytes: Buffer): string {
  const flat = bytes.toString("base64");
  return (flat.match(/.{1,60}/g) ?? []).map((line) => `${line}\n`).join("");
}

function isBase64(text: string): boolean {
  return /^[A-Za-z0-9+/\r\n]*={0,2}[\r\n]*$/.test(text) && text.replace(/[\r\n]/g, "").length % 4 === 0;
}

export class FakeGitHub {
  readonly token: string;
  latencyMs: number | [number, number];
  contentsSizeLimit: number;
  readonly requests: RecordedRequest[] = [];
  #server: Server;
  #url = "";
  #repos = new Map<string, Repo>();
  #faults: { fault: FakeFault; remaining: number; method?: string; path?: RegExp }[] = [];
  #ids = 1000;
  #commitCounter = 0;
  #tokens = new Map<string, FakeTokenIdentity>();

  constructor(options: FakeGitHubOptions = {}) {
    this.token = options.token ?? "test-token";
    this.#tokens.set(this.token, { login: "proctor-bot" });
    this.latencyMs = options.latencyMs ?? 0;
    this.contentsSizeLimit = options.contentsSizeLimit ?? 1024 * 1024;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json; charset=utf-8" });
        res.end(JSON.stringify({ message: `fake-github bug: ${(error as Error).message}` }));
      });
    });
  }

  /** Base URL to give Octokit, e.g. http://127.0.0.1:40123. */
  get url(): string {
    return this.#url;
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(0, "127.0.0.1", () => resolve());
    });
    const { port } = this.#server.address() as AddressInfo;
    this.#url = `http://127.0.0.1:${port}`;
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // ---- setup and inspection -------------------------------------------------------------------------

  addRepo(owner: string, name: string, init: FakeRepoInit = {}): void {
    const repo: Repo = {
      id: this.#ids++,
      owner,
      name,
      defaultBranch: init.defaultBranch ?? "main",
      commits: new Map(),
      branches: new Map(),
      blobs: new Map(),
      issues: [],
      comments: [],
      statuses: [],
      dispatches: [],
      rulesets: [],
    };
    if (!init.empty) {
      const files = init.files ?? { "README.md": `# ${name}\n` };
      const tree = new Map<string, Buffer>();
      for (const [path, text] of Object.entries(files)) {
        const bytes = Buffer.from(text, "utf8");
        tree.set(path, bytes);
        repo.blobs.set(gitBlobSha(bytes), bytes);
      }
      const root = this.#commit(repo, null, tree, "Initial commit", Object.keys(files));
      repo.branches.set(repo.defaultBranch, root.sha);
    }
    this.#repos.set(`${owner}/${name}`.toLowerCase(), repo);
  }

  /** A file's text at the head of a branch (default: the default branch), or undefined. */
  file(owner: string, name: string, path: string, branch?: string): string | undefined {
    const repo = this.#repo(owner, name);
    const head = repo.branches.get(branch ?? repo.defaultBranch);
    return head === undefined ? undefined : repo.commits.get(head)!.tree.get(path)?.toString("utf8");
  }

  /** Writes a file directly (a commit nobody raced), e.g. to seed or corrupt the leaderboard branch. */
  writeFile(owner: string, name: string, path: string, text: string, branch?: string): void {
    const repo = this.#repo(owner, name);
    const ref = branch ?? repo.defaultBranch;
    const head = repo.branches.get(ref);
    if (head === undefined) throw new Error(`fake-github: no branch ${ref}`);
    const bytes = Buffer.from(text, "utf8");
    repo.blobs.set(gitBlobSha(bytes), bytes);
    const tree = new Map(repo.commits.get(head)!.tree);
    tree.set(path, bytes);
    repo.branches.set(ref, this.#commit(repo, head, tree, `seed ${path}`, [path]).sha);
  }

  /**
   * Puts `branch` under a ruleset, as an organizer might (Settings -> Rules -> Rulesets): contents writes
   * to it answer 409 and creating it answers 422, both `Repository rule violations found\n\n{rule}\n\n`.
   */
  protectBranch(owner: string, name: string, branch: string, rule: string): void {
    this.#repo(owner, name).rulesets.push({ branch, rule });
  }

  branchHead(owner: string, name: string, branch: string): string | undefined {
    return this.#repo(owner, name).branches.get(branch);
  }

  /** Commits of a branch, newest first. */
  history(owner: string, name: string, branch: string): FakeCommit[] {
    const repo = this.#repo(owner, name);
    const out: FakeCommit[] = [];
    let sha = repo.branches.get(branch) ?? null;
    while (sha !== null) {
      const commit = repo.commits.get(sha)!;
      out.push(commit);
      sha = commit.parent;
    }
    return out;
  }

  /** Another token the fake accepts, with its identity (a read-only one is refused every write). */
  addToken(token: string, identity: FakeTokenIdentity): void {
    this.#tokens.set(token, identity);
  }

  /** Adds a pull request (it shares issue numbers and shows in the issues list, as on GitHub). */
  addPullRequest(
    owner: string,
    name: string,
    title: string,
    labels: string[] = [],
    head?: FakePullHead,
  ): number {
    const repo = this.#repo(owner, name);
    const now = new Date().toISOString();
    const number = repo.issues.length + 1;
    repo.issues.push({
      number,
      title,
      body: null,
      state: "open",
      state_reason: null,
      labels,
      isPullRequest: true,
      ...(head && { head }),
      createdAt: now,
      updatedAt: now,
    });
    return number;
  }

  comments(owner: string, name: string): readonly FakeComment[] {
    return this.#repo(owner, name).comments;
  }

  statuses(owner: string, name: string): readonly FakeStatus[] {
    return this.#repo(owner, name).statuses;
  }

  dispatches(owner: string, name: string): readonly FakeDispatch[] {
    return this.#repo(owner, name).dispatches;
  }

  /** Makes the next matching requests fail with `fault`. */
  inject(fault: FakeFault, options: FaultOptions = {}): void {
    this.#faults.push({
      fault,
      remaining: options.times ?? 1,
      ...(options.method !== undefined ? { method: options.method.toUpperCase() } : {}),
      ...(options.path !== undefined ? { path: options.path } : {}),
    });
  }

  clearFaults(): void {
    this.#faults = [];
  }

  /** Requests matching method and a path pattern. */
  received(method: string, path: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method.toUpperCase() && path.test(r.path));
  }

  // ---- internals ------------------------------------------------------------------------------------

  #repo(owner: string, name: string): Repo {
    const repo = this.#repos.get(`${owner}/${name}`.toLowerCase());
    if (repo === undefined) throw new Error(`fake-github: no repository ${owner}/${name}`);
    return repo;
  }

  #commit(
    repo: Repo,
    parent: string | null,
    tree: Map<string, Buffer>,
    message: string,
    changed: string[],
  ): FakeCommit {
    this.#commitCounter += 1;
    const sha = createHash("sha1")
      .update(`commit ${repo.owner}/${repo.name} ${this.#commitCounter} ${parent ?? ""} ${message}`)
      .digest("hex");
    const commit: FakeCommit = { sha, parent, message, changed, tree };
    repo.commits.set(sha, commit);
    return commit;
  }

  async #delay(): Promise<void> {
    const l = this.latencyMs;
    const ms = typeof l === "number" ? l : l[0] + Math.random() * (l[1] - l[0]);
    if (ms > 0) await sleep(ms / 2);
  }

  #rateHeaders(): Record<string, string> {
    const used = this.requests.length;
    return {
      "x-ratelimit-limit": "5000",
      "x-ratelimit-remaining": String(Math.max(0, 5000 - used)),
      "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 3600),
      "x-ratelimit-used": String(used),
      "x-ratelimit-resource": "core",
    };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    const method = (req.method ?? "GET").toUpperCase();
    const path = url.pathname.split("/").map(decodeURIComponent).join("/");
    const query = Object.fromEntries(url.searchParams);
    const record: RecordedRequest = { method, path, query, body: undefined, status: 0 };
    this.requests.push(record);

    // GitHub builds a contents commit on the branch head it saw when the request arrived and moves the
    // branch only if it is still there: a commit landing meanwhile (any file) makes it answer 422.
    const repoMatch = /^\/repos\/([^/]+)\/([^/]+)\//.exec(url.pathname);
    const arrivalHeads = new Map(
      this.#repos.get(
        repoMatch
          ? `${decodeURIComponent(repoMatch[1]!)}/${decodeURIComponent(repoMatch[2]!)}`.toLowerCase()
          : "",
      )?.branches ?? [],
    );
    await this.#delay();
    let result: HttpAnswer;
    try {
      record.body = raw.length > 0 ? JSON.parse(raw) : undefined;
      if (repoMatch !== null && this.#takeContentsFault("branch-moved", method, path)) {
        const branch = (record.body as { branch?: unknown } | undefined)?.branch;
        const repo = this.#repo(decodeURIComponent(repoMatch[1]!), decodeURIComponent(repoMatch[2]!));
        this.writeFile(
          repo.owner,
          repo.name,
          "moved-meanwhile.txt",
          `${this.#commitCounter}\n`,
          typeof branch === "string" ? branch : undefined,
        );
      }
      result = this.#route(req, method, url, record, arrivalHeads);
    } catch (error) {
      result =
        error instanceof SyntaxError
          ? answer(400, "Problems parsing JSON")
          : error instanceof HttpAnswer
            ? error
            : answer(500, `fake-github bug: ${(error as Error).message}`);
    }
    record.status = result.status;
    const said = (result.body as { message?: unknown } | undefined)?.message;
    if (typeof said === "string") record.message = said;
    await this.#delay();

    const headers: Record<string, string> = {
      "x-github-request-id": `FAKE:${this.requests.length}`,
      "x-github-media-type": "github.v3; format=json",
      ...this.#rateHeaders(),
      ...result.headers,
    };
    if (result.status === 204) {
      res.writeHead(204, headers);
      res.end();
    } else if (typeof result.body === "string") {
      res.writeHead(result.status, { ...headers, "content-type": "text/html; charset=utf-8" });
      res.end(result.body);
    } else {
      res.writeHead(result.status, { ...headers, "content-type": "application/json; charset=utf-8" });
      res.end(JSON.stringify(result.body));
    }
  }

  #fault(method: string, path: string): HttpAnswer | undefined {
    const index = this.#faults.findIndex(
      (f) =>
        f.remaining > 0 &&
        (f.method === undefined || f.method === method) &&
        (f.path === undefined || f.path.test(path)) &&
        f.fault.kind !== "conflict" &&
        f.fault.kind !== "branch-moved",
    );
    if (index < 0) return undefined;
    const rule = this.#faults[index]!;
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.#faults.splice(index, 1);
    const fault = rule.fault;
    switch (fault.kind) {
      case "server-error": {
        const status = fault.status ?? 500;
        return status === 502
          ? new HttpAnswer(502, "<html><body><h1>502 Bad Gateway</h1></body></html>")
          : new HttpAnswer(status, { message: "Server Error" });
      }
      case "forbidden":
        return answer(403, "Resource not accessible by integration");
      case "secondary-rate-limit":
        return new HttpAnswer(
          fault.status ?? 403,
          {
            message:
              "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. " +
              `If you reach out to GitHub Support for help, please include the request ID FAKE:${this.requests.length}.`,
            documentation_url:
              "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
          },
          { "retry-after": String(fault.retryAfterS ?? 1) },
        );
      case "primary-rate-limit":
        return new HttpAnswer(
          403,
          {
            message: "API rate limit exceeded for user ID 1.",
            documentation_url:
              "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit",
          },
          {
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": String(Math.ceil(Date.now() / 1000 + (fault.resetInS ?? 1))),
          },
        );
      case "conflict":
      case "branch-moved":
        return undefined; // never picked here: #takeContentsFault hands them to the contents PUT
    }
  }

  #route(
    req: IncomingMessage,
    method: string,
    url: URL,
    record: RecordedRequest,
    arrivalHeads: ReadonlyMap<string, string>,
  ): HttpAnswer {
    const auth = req.headers.authorization ?? "";
    const token = auth.replace(/^(token|bearer)\s+/i, "");
    if (auth === "") return answer(401, "Requires authentication");
    const identity = this.#tokens.get(token);
    if (identity === undefined) return answer(401, "Bad credentials");
    if (identity.readOnly && method !== "GET") return answer(403, "Resource not accessible by integration");

    const fault = this.#fault(method, record.path);
    if (fault !== undefined) return fault;
    const forcedConflict = this.#takeContentsFault("conflict", method, record.path);

    const m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(url.pathname);
    if (m === null) return notFound();
    const repo = this.#repos.get(`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`.toLowerCase());
    if (repo === undefined) return notFound();
    const rest = m[3] ?? "";
    const body = (record.body ?? {}) as Record<string, unknown>;
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return answer(400, "Problems parsing JSON");
    }
    const seg = (re: RegExp) => {
      const hit = re.exec(rest);
      return hit === null ? null : hit.slice(1).map((s) => decodeURIComponent(s));
    };
    let s: string[] | null;

    if (rest === "" && method === "GET") return this.#getRepo(repo);
    if ((s = seg(/^\/git\/ref\/(.+)$/)) && method === "GET") return this.#getRef(repo, s[0]!);
    if (rest === "/git/refs" && method === "POST") return this.#createRef(repo, body);
    if ((s = seg(/^\/git\/blobs\/([0-9a-f]+)$/)) && method === "GET") return this.#getBlob(repo, s[0]!);
    if ((s = seg(/^\/contents\/(.+)$/))) {
      if (method === "GET") return this.#getContents(repo, s[0]!, url.searchParams.get("ref"));
      if (method === "PUT") return this.#putContents(repo, s[0]!, body, forcedConflict, arrivalHeads);
    }
    if ((s = seg(/^\/statuses\/([^/]+)$/)) && method === "POST") return this.#createStatus(repo, s[0]!, body);
    if ((s = seg(/^\/issues\/(\d+)\/comments$/)) && method === "POST")
      return this.#createComment(repo, Number(s[0]), body, identity.login);
    if ((s = seg(/^\/issues\/(\d+)\/comments$/)) && method === "GET")
      return this.#listComments(repo, Number(s[0]), url.searchParams);
    if ((s = seg(/^\/issues\/comments\/(\d+)$/)) && method === "PATCH")
      return this.#updateComment(repo, Number(s[0]), body);
    if (rest === "/pulls" && method === "GET") return this.#listPulls(repo, url.searchParams);
    if (rest === "/dispatches" && method === "POST") return this.#repositoryDispatch(repo, body);
    return notFound();
  }

  #takeContentsFault(kind: "conflict" | "branch-moved", method: string, path: string): boolean {
    if (method !== "PUT" || !path.includes("/contents/")) return false;
    const index = this.#faults.findIndex(
      (f) => f.remaining > 0 && f.fault.kind === kind && (f.path === undefined || f.path.test(path)),
    );
    if (index < 0) return false;
    const rule = this.#faults[index]!;
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.#faults.splice(index, 1);
    return true;
  }

  #api(repo: Repo, tail: string): string {
    return `${this.#url}/repos/${repo.owner}/${repo.name}${tail}`;
  }

  #getRepo(repo: Repo): HttpAnswer {
    return new HttpAnswer(200, {
      id: repo.id,
      node_id: `R_${repo.id}`,
      name: repo.name,
      full_name: `${repo.owner}/${repo.name}`,
      owner: { login: repo.owner, id: 1, type: "Organization" },
      private: false,
      default_branch: repo.defaultBranch,
      html_url: `https://github.com/${repo.owner}/${repo.name}`,
      url: this.#api(repo, ""),
    });
  }

  #refBody(repo: Repo, branch: string, sha: string): Record<string, unknown> {
    return {
      ref: `refs/heads/${branch}`,
      node_id: `REF_${branch}`,
      url: this.#api(repo, `/git/refs/heads/${branch}`),
      object: { sha, type: "commit", url: this.#api(repo, `/git/commits/${sha}`) },
    };
  }

  #getRef(repo: Repo, ref: string): HttpAnswer {
    const docs = `${DOCS}/git/refs#get-a-reference`;
    if (repo.commits.size === 0) return answer(409, "Git Repository is empty.", docs);
    if (!ref.startsWith("heads/")) return notFound(docs);
    const branch = ref.slice("heads/".length);
    const sha = repo.branches.get(branch);
    return sha === undefined ? notFound(docs) : new HttpAnswer(200, this.#refBody(repo, branch, sha));
  }

  #createRef(repo: Repo, body: Record<string, unknown>): HttpAnswer {
    const docs = `${DOCS}/git/refs#create-a-reference`;
    if (typeof body.ref !== "string") return invalid(`"ref" wasn't supplied.`, docs);
    if (typeof body.sha !== "string") return invalid(`"sha" wasn't supplied.`, docs);
    if (!body.ref.startsWith("refs/") || body.ref.split("/").length < 3) {
      return answer(422, "Reference name must start with 'refs/' and have at least two slashes.", docs);
    }
    if (!repo.commits.has(body.sha)) return answer(422, "Object does not exist", docs);
    if (!body.ref.startsWith("refs/heads/"))
      return answer(422, "fake-github: only branches are supported", docs);
    const branch = body.ref.slice("refs/heads/".length);
    if (repo.branches.has(branch)) return answer(422, "Reference already exists", docs);
    const ruleset = repo.rulesets.find((r) => r.branch === branch);
    if (ruleset !== undefined) return ruleViolation(422, ruleset, docs);
    repo.branches.set(branch, body.sha);
    return new HttpAnswer(201, this.#refBody(repo, branch, body.sha));
  }

  #getBlob(repo: Repo, sha: string): HttpAnswer {
    const bytes = repo.blobs.get(sha);
    if (bytes === undefined) return notFound(`${DOCS}/git/blobs#get-a-blob`);
    return new HttpAnswer(200, {
      sha,
      node_id: `B_${sha}`,
      size: bytes.length,
      url: this.#api(repo, `/git/blobs/${sha}`),
      content: base64Lines(bytes),
      encoding: "base64",
    });
  }

  #fileMeta(repo: Repo, branch: string, path: string, bytes: Buffer): Record<string, unknown> {
    const sha = gitBlobSha(bytes);
    const self = this.#api(repo, `/contents/${path}?ref=${encodeURIComponent(branch)}`);
    const git = this.#api(repo, `/git/blobs/${sha}`);
    const html = `https://github.com/${repo.owner}/${repo.name}/blob/${branch}/${path}`;
    return {
      name: path.split("/").pop(),
      path,
      sha,
      size: bytes.length,
      url: self,
      html_url: html,
      git_url: git,
      download_url: `https://raw.githubusercontent.com/${repo.owner}/${repo.name}/${branch}/${path}`,
      type: "file",
      _links: { self, git, html },
    };
  }

  #getContents(repo: Repo, path: string, ref: string | null): HttpAnswer {
    const docs = `${DOCS}/repos/contents#get-repository-content`;
    const branch = ref ?? repo.defaultBranch;
    const head = repo.branches.get(branch) ?? (repo.commits.has(branch) ? branch : undefined);
    if (head === undefined) return answer(404, `No commit found for the ref ${branch}`, docs);
    const tree = repo.commits.get(head)!.tree;
    const bytes = tree.get(path);
    if (bytes === undefined) {
      const prefix = `${path.replace(/\/+$/, "")}/`;
      const children = [...tree.keys()].filter((p) => p.startsWith(prefix));
      if (children.length === 0) return notFound(docs);
      const names = [...new Set(children.map((p) => p.slice(prefix.length).split("/")[0]!))];
      return new HttpAnswer(
        200,
        names.map((n) => {
          const full = prefix + n;
          const file = tree.get(full);
          return file === undefined
            ? { name: n, path: full, type: "dir", sha: "", size: 0 }
            : this.#fileMeta(repo, branch, full, file);
        }),
      );
    }
    const large = bytes.length > this.contentsSizeLimit;
    return new HttpAnswer(200, {
      ...this.#fileMeta(repo, branch, path, bytes),
      content: large ? "" : base64Lines(bytes),
      encoding: large ? "none" : "base64",
    });
  }

  #putContents(
    repo: Repo,
    path: string,
    body: Record<string, unknown>,
    forcedConflict: boolean,
    arrivalHeads: ReadonlyMap<string, string>,
  ): HttpAnswer {
    const docs = `${DOCS}/repos/contents#create-or-update-file-contents`;
    if (typeof body.message !== "string") return invalid(`"message" wasn't supplied.`, docs);
    if (typeof body.content !== "string") return invalid(`"content" wasn't supplied.`, docs);
    if (!isBase64(body.content)) return answer(422, "content is not valid Base64", docs);
    const branch = typeof body.branch === "string" ? body.branch : repo.defaultBranch;
    const head = repo.branches.get(branch);
    if (head === undefined) return answer(404, `Branch ${branch} not found`, docs);
    const ruleset = repo.rulesets.find((r) => r.branch === branch);
    if (ruleset !== undefined) return ruleViolation(409, ruleset, docs);
    const tree = repo.commits.get(head)!.tree;
    const existing = tree.get(path);
    const given = typeof body.sha === "string" ? body.sha : undefined;
    if (existing !== undefined || forcedConflict) {
      if (given === undefined && !forcedConflict) return invalid(`"sha" wasn't supplied.`, docs);
      if (forcedConflict || given !== gitBlobSha(existing!)) {
        return answer(409, `${path} does not match ${given ?? ""}`, docs);
      }
    }
    const seen = arrivalHeads.get(branch);
    if (seen !== undefined && seen !== head) return answer(422, `is at ${head} but expected ${seen}`, docs);
    const bytes = Buffer.from(body.content, "base64");
    repo.blobs.set(gitBlobSha(bytes), bytes);
    const next = new Map(tree);
    next.set(path, bytes);
    const commit = this.#commit(repo, head, next, body.message, [path]);
    repo.branches.set(branch, commit.sha);
    const now = new Date().toISOString();
    const person = { name: "proctor-bot", email: "bot@example.invalid", date: now };
    return new HttpAnswer(existing === undefined ? 201 : 200, {
      content: this.#fileMeta(repo, branch, path, bytes),
      commit: {
        sha: commit.sha,
        node_id: `C_${commit.sha}`,
        url: this.#api(repo, `/git/commits/${commit.sha}`),
        html_url: `https://github.com/${repo.owner}/${repo.name}/commit/${commit.sha}`,
        author: person,
        committer: person,
        message: body.message,
        tree: { sha: createHash("sha1").update(commit.sha).digest("hex"), url: "" },
        parents: [{ sha: head, url: this.#api(repo, `/git/commits/${head}`) }],
        verification: { verified: false, reason: "unsigned", signature: null, payload: null },
      },
    });
  }

  #createStatus(repo: Repo, sha: string, body: Record<string, unknown>): HttpAnswer {
    const docs = `${DOCS}/commits/statuses#create-a-commit-status`;
    if (!repo.commits.has(sha)) return answer(422, `No commit found for SHA: ${sha}`, docs);
    const states = ["error", "failure", "pending", "success"];
    if (typeof body.state !== "string") return invalid(`"state" wasn't supplied.`, docs);
    if (!states.includes(body.state)) {
      return validationFailed("Status", "state", "state is not included in the list", docs);
    }
    const description = typeof body.description === "string" ? body.description : null;
    if (description !== null && [...description].length > 140) {
      return validationFailed(
        "Status",
        "description",
        "description is too long (maximum is 140 characters)",
        docs,
      );
    }
    const status: FakeStatus = {
      id: this.#ids++,
      sha,
      state: body.state,
      context: typeof body.context === "string" ? body.context : "default",
      description,
      targetUrl: typeof body.target_url === "string" ? body.target_url : null,
    };
    repo.statuses.push(status);
    const now = new Date().toISOString();
    return new HttpAnswer(201, {
      url: this.#api(repo, `/statuses/${sha}`),
      id: status.id,
      node_id: `SC_${status.id}`,
      state: status.state,
      description: status.description,
      target_url: status.targetUrl,
      context: status.context,
      created_at: now,
      updated_at: now,
      creator: { login: "proctor-bot", id: 2, type: "Bot" },
    });
  }

  #findIssue(repo: Repo, number: number): FakeIssue | undefined {
    return repo.issues.find((i) => i.number === number);
  }

  #createComment(repo: Repo, number: number, body: Record<string, unknown>, author: string): HttpAnswer {
    const docs = `${DOCS}/issues/comments#create-an-issue-comment`;
    if (this.#findIssue(repo, number) === undefined) return notFound(docs);
    if (typeof body.body !== "string") return invalid(`"body" wasn't supplied.`, docs);
    const comment: FakeComment = { id: this.#ids++, issueNumber: number, body: body.body, author };
    repo.comments.push(comment);
    return new HttpAnswer(201, this.#commentBody(repo, comment));
  }

  /** Comments of an issue, oldest first, a page at a time (per_page at most 100, as GitHub). */
  #listComments(repo: Repo, number: number, query: URLSearchParams): HttpAnswer {
    if (this.#findIssue(repo, number) === undefined)
      return notFound(`${DOCS}/issues/comments#list-issue-comments`);
    const perPage = Math.min(100, Number(query.get("per_page") ?? 30) || 30);
    const page = Math.max(1, Number(query.get("page") ?? 1) || 1);
    const all = repo.comments.filter((c) => c.issueNumber === number);
    return new HttpAnswer(
      200,
      all.slice((page - 1) * perPage, page * perPage).map((c) => this.#commentBody(repo, c)),
    );
  }

  /** Edits a comment (a token with write access may edit anyone's: the caller must pick its own). */
  #updateComment(repo: Repo, id: number, body: Record<string, unknown>): HttpAnswer {
    const docs = `${DOCS}/issues/comments#update-an-issue-comment`;
    const comment = repo.comments.find((c) => c.id === id);
    if (comment === undefined) return notFound(docs);
    if (typeof body.body !== "string") return invalid(`"body" wasn't supplied.`, docs);
    comment.body = body.body;
    return new HttpAnswer(200, this.#commentBody(repo, comment));
  }

  /** Pull requests by state and `head` (`owner:branch`, which a fork's pull request is found by). */
  #listPulls(repo: Repo, query: URLSearchParams): HttpAnswer {
    const state = query.get("state") ?? "open";
    const head = query.get("head");
    const pulls = repo.issues.filter(
      (i) =>
        i.isPullRequest &&
        (state === "all" || i.state === state) &&
        (head === null || (i.head !== undefined && head === `${i.head.owner}:${i.head.branch}`)),
    );
    return new HttpAnswer(
      200,
      pulls.map((p) => ({
        number: p.number,
        state: p.state,
        title: p.title,
        head: {
          sha: p.head?.sha ?? "",
          ref: p.head?.branch ?? "",
          label: p.head ? `${p.head.owner}:${p.head.branch}` : "",
          repo: p.head ? { full_name: `${p.head.owner}/${repo.name}`, owner: { login: p.head.owner } } : null,
        },
        base: { ref: repo.defaultBranch, repo: { full_name: `${repo.owner}/${repo.name}` } },
        html_url: `https://github.com/${repo.owner}/${repo.name}/pull/${p.number}`,
      })),
    );
  }

  #commentBody(repo: Repo, c: FakeComment): Record<string, unknown> {
    const now = new Date().toISOString();
    return {
      id: c.id,
      node_id: `IC_${c.id}`,
      url: this.#api(repo, `/issues/comments/${c.id}`),
      html_url: `https://github.com/${repo.owner}/${repo.name}/issues/${c.issueNumber}#issuecomment-${c.id}`,
      issue_url: this.#api(repo, `/issues/${c.issueNumber}`),
      body: c.body,
      user: { login: c.author, id: 2, type: "Bot" },
      created_at: now,
      updated_at: now,
    };
  }

  #repositoryDispatch(repo: Repo, body: Record<string, unknown>): HttpAnswer {
    const docs = `${DOCS}/repos/repos#create-a-repository-dispatch-event`;
    if (typeof body.event_type !== "string" || body.event_type.length === 0) {
      return invalid(`"event_type" wasn't supplied.`, docs);
    }
    if (body.event_type.length > 100) {
      return validationFailed(
        "RepositoryDispatch",
        "event_type",
        "event_type is too long (maximum is 100 characters)",
        docs,
      );
    }
    const payload = body.client_payload ?? {};
    if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
      return invalid(`For 'properties/client_payload', ${JSON.stringify(payload)} is not an object.`, docs);
    }
    const count = Object.keys(payload).length;
    if (count > 10) return invalid(`No more than 10 properties are allowed; ${count} were supplied.`, docs);
    if (Buffer.byteLength(JSON.stringify(payload), "utf8") > 64 * 1024) {
      return answer(422, "client_payload is too large", docs);
    }
    repo.dispatches.push({ eventType: body.event_type, clientPayload: payload as Record<string, unknown> });
    return new HttpAnswer(204, undefined);
  }
}

/** Starts a fake GitHub on 127.0.0.1 (random port). Close it with `await fake.close()`. */
export async function startFakeGitHub(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  return new FakeGitHub(options).listen();
}
