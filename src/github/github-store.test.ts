import { describe, expect, it } from "vitest";
import {
  generateSealingKeys,
  MemoryLeaderboardStore,
  parseRules,
  rankEntries,
  renderHtml,
  renderMarkdown,
  reveal,
  sealScore,
  StoreError,
  type LeaderboardEntry,
} from "../leaderboard/index.js";
import { GitHubError } from "./errors.js";
import {
  GitHubLeaderboardStore,
  LEADERBOARD_ENTRIES_FORMAT,
  serializeEntries,
  type GitHubStoreOptions,
  type RenderPages,
} from "./github-store.js";
import { capturingLogger, fastClient } from "./test-support/clients.js";
import { gitBlobSha } from "./test-support/fake-github.js";
import { fakeGitHubPerFile } from "./test-support/per-file.js";

const github = fakeGitHubPerFile("comp");
const freshRepo = () =>
  github.freshRepo({ files: { "README.md": "# The competition\n", "competition.yml": "name: x\n" } });

function entry(id: string, overrides: Partial<LeaderboardEntry> = {}): LeaderboardEntry {
  return {
    submissionId: id,
    participant: "alice",
    submittedAt: "2025-03-01T12:00:00.000Z",
    status: "succeeded",
    publicScore: 0.5,
    privateScore: null,
    sealedPrivateScore: null,
    durationMs: 1234,
    imageDigest: `sha256:${"ab".repeat(32)}`,
    zipSha256: "cd".repeat(32),
    ...overrides,
  };
}

/** Deterministic pages listing every submission id. */
const render: RenderPages = (entries) => ({
  "README.md": `# Leaderboard\n\n${entries.map((e) => `- ${e.submissionId} (${e.participant}): ${e.publicScore}`).join("\n")}\n`,
  "index.html": `<!doctype html><ul>${entries.map((e) => `<li>${e.submissionId}</li>`).join("")}</ul>\n`,
});

function store(repo: string, options: Partial<GitHubStoreOptions> = {}): GitHubLeaderboardStore {
  return new GitHubLeaderboardStore({
    client: fastClient(github.fake),
    owner: "org",
    repo,
    render,
    backoff: { baseMs: 5, maxMs: 100 },
    ...options,
  });
}

const json = (repo: string, branch = "leaderboard") =>
  JSON.parse(github.fake.file("org", repo, "leaderboard.json", branch) ?? "null") as {
    format: string;
    entries: LeaderboardEntry[];
  } | null;

describe("GitHubLeaderboardStore", () => {
  it("keeps a scored entry when a re-run of it fails or meets an infrastructure error; a newer score replaces it", async () => {
    const repo = freshRepo();
    const board = store(repo);
    await board.upsert(entry("s-1", { publicScore: 0.5 }));
    const commits = github.fake.history("org", repo, "leaderboard").length;
    for (const status of ["failed", "infrastructure_error"] as const) {
      const outcome = await board.upsert(entry("s-1", { status, publicScore: null }));
      expect(outcome.committed).toBe(false);
    }
    expect(github.fake.history("org", repo, "leaderboard")).toHaveLength(commits);
    expect(json(repo)?.entries).toMatchObject([
      { submissionId: "s-1", status: "succeeded", publicScore: 0.5 },
    ]);
    expect((await board.upsert(entry("s-1", { publicScore: 0.25 }))).committed).toBe(true);
    expect(json(repo)?.entries).toMatchObject([{ submissionId: "s-1", publicScore: 0.25 }]);
    // An unscored entry is replaced by a participant's failure, never by an infrastructure error.
    await board.upsert(entry("s-2", { status: "output_invalid", publicScore: null }));
    await board.upsert(entry("s-2", { status: "infrastructure_error", publicScore: null }));
    await board.upsert(entry("s-2", { status: "failed", publicScore: null }));
    expect(json(repo)?.entries.map((e) => [e.submissionId, e.status])).toEqual([
      ["s-1", "succeeded"],
      ["s-2", "failed"],
    ]);
  });

  it("creates the branch from the default branch's head, then the file and the pages", async () => {
    const repo = freshRepo();
    const mainHead = github.fake.branchHead("org", repo, "main")!;
    expect(github.fake.branchHead("org", repo, "leaderboard")).toBeUndefined();

    const outcome = await store(repo).upsert(entry("s-1"));
    expect(outcome).toEqual({ committed: true, attempts: 1, pagesWritten: ["README.md", "index.html"] });

    const history = github.fake.history("org", repo, "leaderboard");
    expect(history.map((c) => c.message)).toEqual([
      'leaderboard: render index.html (submission "s-1")',
      'leaderboard: render README.md (submission "s-1")',
      'leaderboard: record submission "s-1" (succeeded)',
      "Initial commit",
    ]);
    expect(history.at(-1)!.sha).toBe(mainHead);
    expect(github.fake.branchHead("org", repo, "main")).toBe(mainHead); // the default branch is untouched
    expect(json(repo)).toEqual({ format: LEADERBOARD_ENTRIES_FORMAT, entries: [entry("s-1")] });
    expect(github.fake.file("org", repo, "README.md", "leaderboard")).toBe(
      "# Leaderboard\n\n- s-1 (alice): 0.5\n",
    );
    expect(github.fake.file("org", repo, "README.md", "main")).toBe("# The competition\n");
    // The file was created without a sha (it did not exist).
    const [put] = github.fake.received("PUT", /\/contents\/leaderboard\.json$/);
    expect(put!.body).toMatchObject({
      branch: "leaderboard",
      message: 'leaderboard: record submission "s-1" (succeeded)',
    });
    expect(put!.body).not.toHaveProperty("sha");
  });

  it("writes base64 UTF-8 and sends the sha it read", async () => {
    const repo = freshRepo();
    const s = store(repo);
    await s.record(entry("s-1", { participant: "Zoë 🚀" }));
    await s.record(entry("s-2", { participant: "李" }));
    const puts = github.fake.received("PUT", /\/contents\/leaderboard\.json$/);
    const first = Buffer.from((puts[0]!.body as { content: string }).content, "base64").toString("utf8");
    expect((puts[1]!.body as { sha: string }).sha).toBe(gitBlobSha(first));
    expect((await s.list()).map((e) => e.participant)).toEqual(["Zoë 🚀", "李"]);
  });

  it("is idempotent: the same submission twice is one entry, an identical entry again makes no commit", async () => {
    const repo = freshRepo();
    const s = store(repo);
    await s.record(entry("s-1"));
    const commits = github.fake.history("org", repo, "leaderboard").length;

    expect(await s.upsert(entry("s-1"))).toEqual({ committed: false, attempts: 1, pagesWritten: [] });
    expect(github.fake.history("org", repo, "leaderboard")).toHaveLength(commits);

    // A changed entry for the same submission replaces it.
    const rescored = entry("s-1", { publicScore: 0.75 });
    // index.html lists ids only: it is unchanged, so only README.md gets a commit.
    expect(await s.upsert(rescored)).toEqual({ committed: true, attempts: 1, pagesWritten: ["README.md"] });
    expect(json(repo)!.entries).toEqual([rescored]);
    expect(await s.get("s-1")).toEqual(rescored);
  });

  it("answers list, get and countSubmissions exactly like the reference memory store", async () => {
    const repo = freshRepo();
    const s = store(repo, { render: undefined });
    const memory = new MemoryLeaderboardStore();
    const entries = [
      entry("b", { participant: "bob", submittedAt: "2025-03-02T00:00:00+02:00" }),
      entry("a", { participant: "alice", submittedAt: "2025-03-01T10:00:00Z" }),
      entry("c", {
        participant: "alice",
        status: "failed",
        publicScore: null,
        submittedAt: "2025-03-02T10:00:00Z",
      }),
      entry("d", {
        participant: "alice",
        status: "infrastructure_error",
        publicScore: null,
        submittedAt: "2025-03-03T10:00:00Z",
      }),
    ];
    for (const e of entries) {
      await s.record(e);
      await memory.record(e);
    }
    expect(github.fake.file("org", repo, "README.md", "leaderboard")).toBe("# The competition\n"); // no render: no pages
    expect(await s.list()).toEqual(await memory.list());
    expect(await s.list({ participant: "alice", statuses: ["succeeded", "failed"] })).toEqual(
      await memory.list({ participant: "alice", statuses: ["succeeded", "failed"] }),
    );
    const since = new Date("2025-03-02T00:00:00Z");
    expect(await s.list({ since })).toEqual(await memory.list({ since }));
    for (const countFailed of [true, false]) {
      expect(await s.countSubmissions("alice", undefined, countFailed)).toBe(
        await memory.countSubmissions("alice", undefined, countFailed),
      );
    }
    expect(await s.countSubmissions("alice", since, true)).toBe(1);
    expect(await s.get("b")).toEqual({ ...entries[0], submittedAt: "2025-03-01T22:00:00.000Z" });
    expect(await s.get("nope")).toBeUndefined();
    expect(json(repo)!.entries.map((e) => e.submissionId)).toEqual(["a", "b", "c", "d"]);
  });

  it("reads an empty leaderboard when the branch does not exist yet, without creating it", async () => {
    const repo = freshRepo();
    expect(await store(repo).list()).toEqual([]);
    expect(await store(repo).countSubmissions("alice", undefined, true)).toBe(0);
    expect(github.fake.branchHead("org", repo, "leaderboard")).toBeUndefined();
  });

  it("keeps private scores sealed only: refuses a plain privateScore before sending anything", async () => {
    const repo = freshRepo();
    await expect(store(repo).record(entry("s-1", { privateScore: 0.9 }))).rejects.toThrow(
      /carries a plain privateScore; stores keep private scores sealed only/,
    );
    expect(github.fake.requests).toHaveLength(0);

    const keys = generateSealingKeys();
    const s = store(repo);
    await s.record(entry("s-2", { sealedPrivateScore: sealScore(0.91, "s-2", keys.publicKeyPem) }));
    expect(github.fake.file("org", repo, "leaderboard.json", "leaderboard")).not.toContain("0.91");
    expect((await reveal(s, keys.privateKeyPem))[0]!.privateScore).toBe(0.91);
  });

  it("does not lose or double any of 8 results posted at once by 8 runners", async () => {
    const repo = freshRepo();
    github.fake.latencyMs = [2, 25];
    const ids = Array.from({ length: 8 }, (_, i) => `run-${i}`);
    // 8 stores with 8 clients, as 8 runner jobs would have; backoff scaled to the fake's latency as the
    // default is to GitHub's.
    const outcomes = await Promise.all(
      ids.map((id, i) =>
        store(repo, { backoff: { baseMs: 100, maxMs: 2000 } }).upsert(
          entry(id, {
            participant: `p${i}`,
            publicScore: i / 10,
            submittedAt: `2025-03-01T12:00:0${i}.000Z`,
          }),
        ),
      ),
    );
    github.fake.latencyMs = 0;

    const stored = json(repo)!.entries.map((e) => e.submissionId);
    expect(stored).toEqual(ids); // each once, in submission order
    expect(outcomes.every((o) => o.committed)).toBe(true);
    // The race was real: writers collided (422: the file appeared meanwhile; 409: stale sha, or the branch
    // moved while the write was in flight) and retried.
    const puts = github.fake.received("PUT", /\/contents\/leaderboard\.json$/);
    expect(puts.filter((p) => p.status === 409 || p.status === 422).length).toBeGreaterThan(0);
    expect(puts.filter((p) => p.status === 200 || p.status === 201)).toHaveLength(8);
    expect(Math.max(...outcomes.map((o) => o.attempts))).toBeGreaterThan(1);

    // The pages show all 8, and so does the last commit that wrote each of them.
    const history = github.fake.history("org", repo, "leaderboard");
    for (const page of ["README.md", "index.html"]) {
      const text = github.fake.file("org", repo, page, "leaderboard")!;
      for (const id of ids) expect(text).toContain(id);
      const last = history.find((c) => c.changed.includes(page))!;
      expect(last.tree.get(page)!.toString("utf8")).toBe(text);
    }
    expect(github.fake.file("org", repo, "README.md", "leaderboard")).toBe(
      render(json(repo)!.entries)["README.md"],
    );
  });

  it("records every one of 30 results posted at once by 30 runners", async () => {
    const repo = freshRepo();
    github.fake.latencyMs = [2, 25];
    // 30 stores and clients, as 30 runner jobs would have; the default time bound, backoff scaled to the
    // fake's latency as the default is to GitHub's. (With the old bound of 8 attempts, about 1 run in 2
    // lost an entry or a page here.)
    const ids = Array.from({ length: 30 }, (_, i) => `run-${String(i).padStart(2, "0")}`);
    const outcomes = await Promise.all(
      ids.map((id, i) =>
        store(repo, { backoff: { baseMs: 100, maxMs: 2000 } }).upsert(
          entry(id, {
            participant: `p${i}`,
            submittedAt: new Date(Date.UTC(2025, 2, 1, 12, 0, i)).toISOString(),
          }),
        ),
      ),
    );
    github.fake.latencyMs = 0;
    expect(json(repo)!.entries.map((e) => e.submissionId)).toEqual(ids);
    expect(outcomes.every((o) => o.committed)).toBe(true);
    const puts = github.fake.received("PUT", /\/contents\//);
    const conflicts = puts.filter((p) => p.status === 409 || p.status === 422);
    expect(conflicts.length).toBeGreaterThan(0);
    // Writers lost races (409 stale sha, 422 "sha" missing or "is at … but expected …") and retried;
    // each entry got exactly one JSON commit, and the pages show the final JSON.
    expect(puts.filter((p) => p.path.endsWith("/leaderboard.json") && p.status < 300)).toHaveLength(30);
    for (const page of ["README.md", "index.html"]) {
      expect(github.fake.file("org", repo, page, "leaderboard")).toBe(render(json(repo)!.entries)[page]);
    }
  });

  it("retries a conflict with a fresh sha each time until the write lands", async () => {
    const repo = freshRepo();
    await store(repo).record(entry("s-0"));
    github.fake.requests.length = 0;
    github.fake.inject({ kind: "conflict" }, { times: 12, path: /leaderboard\.json$/ });
    const outcome = await store(repo).upsert(entry("s-1"));
    expect(outcome).toMatchObject({ committed: true, attempts: 13 }); // more than any fixed count of old
    const puts = github.fake.received("PUT", /leaderboard\.json$/);
    expect(puts.map((p) => p.status)).toEqual([...Array<number>(12).fill(409), 200]);
    expect(new Set(puts.map((p) => (p.body as { sha: string }).sha)).size).toBe(1); // the sha was right
    expect(github.fake.received("GET", /contents\/leaderboard\.json$/).length).toBeGreaterThanOrEqual(13);
    expect(json(repo)!.entries.map((e) => e.submissionId)).toEqual(["s-0", "s-1"]);
  });

  it('treats 422 "is at … but expected …" (the branch moved while the write was in flight) as a conflict', async () => {
    const repo = freshRepo();
    await store(repo).record(entry("s-0"));
    github.fake.requests.length = 0;
    github.fake.inject({ kind: "branch-moved" }, { path: /leaderboard\.json$/ });
    const outcome = await store(repo, { render: undefined }).upsert(entry("s-1"));
    const puts = github.fake.received("PUT", /leaderboard\.json$/);
    expect(puts.map((p) => p.status)).toEqual([422, 200]);
    expect(puts[0]!.message).toMatch(/^is at [0-9a-f]{40} but expected [0-9a-f]{40}$/);
    expect(outcome).toMatchObject({ committed: true, attempts: 2 });
    expect(json(repo)!.entries.map((e) => e.submissionId)).toEqual(["s-0", "s-1"]);
  });

  it("gives up at the time bound when the file always conflicts, naming the file, the branch and the fix", async () => {
    const repo = freshRepo();
    github.fake.writeFile("org", repo, "seed.txt", "x");
    await store(repo).record(entry("s-0"));
    github.fake.requests.length = 0;
    github.fake.inject({ kind: "conflict" }, { times: Infinity, path: /leaderboard\.json$/ });
    const error = await store(repo, { retryForMs: 50 })
      .record(entry("s-1"))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toMatch(
      /^recording submission "s-1" failed: leaderboard\.json on branch leaderboard of org\/comp-\d+ kept changing under us \(GitHub answered 409: leaderboard\.json does not match [0-9a-f]{40}\); gave up after \d+ attempts? in 50 ms\. .*record it again \(it is idempotent\), or raise retryForMs$/,
    );
    const attempts = Number(/after (\d+) attempts?/.exec((error as Error).message)![1]);
    expect(github.fake.received("PUT", /leaderboard\.json$/)).toHaveLength(attempts);
    expect(github.fake.received("GET", /contents\/leaderboard\.json$/)).toHaveLength(attempts); // a fresh sha each time
  });

  it("says the submission was recorded when only a page keeps conflicting until the time bound", async () => {
    const repo = freshRepo();
    github.fake.inject({ kind: "conflict" }, { times: Infinity, path: /README\.md$/ });
    const error = await store(repo, { retryForMs: 50 })
      .record(entry("s-1"))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toMatch(
      /^submission "s-1" was recorded, but writing README\.md on branch leaderboard of org\/comp-\d+ kept conflicting \(GitHub answered 409: README\.md does not match [0-9a-f]{40}\); gave up after \d+ attempts? within 50 ms\. Recording the submission again is safe and regenerates the page$/,
    );
    expect(json(repo)!.entries.map((e) => e.submissionId)).toEqual(["s-1"]);
  });

  it("makes exactly one attempt with retryForMs 0, and refuses a negative bound", async () => {
    const repo = freshRepo();
    github.fake.inject({ kind: "conflict" }, { times: Infinity });
    await expect(store(repo, { retryForMs: 0 }).record(entry("s-1"))).rejects.toThrow(
      /gave up after 1 attempt in 0 ms/,
    );
    expect(github.fake.received("PUT", /leaderboard\.json$/)).toHaveLength(1);
    expect(() => store(repo, { retryForMs: -1 })).toThrow(
      /retryForMs must be a non-negative number of milliseconds, got -1/,
    );
  });

  it("never retries a write a repository ruleset refuses, and says what the organizer must change", async () => {
    const repo = freshRepo();
    await store(repo).record(entry("s-0"));
    github.fake.protectBranch("org", repo, "leaderboard", "Changes must be made through a pull request.");
    github.fake.requests.length = 0;
    const error = await store(repo)
      .record(entry("s-1"))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitHubError);
    expect(error).toMatchObject({ status: 409 });
    expect((error as Error).message).toMatch(
      /^writing leaderboard\.json on branch leaderboard of org\/comp-\d+ failed: GitHub refused it under a rule on branch leaderboard of org\/comp-\d+ \(409 Repository rule violations found Changes must be made through a pull request\.\)\. .*exclude branch leaderboard from the ruleset .*leaderboard-branch input\)$/,
    );
    expect(github.fake.received("PUT", /contents\//)).toHaveLength(1);
  });

  it("explains a ruleset that forbids creating the leaderboard branch", async () => {
    const repo = freshRepo();
    github.fake.protectBranch(
      "org",
      repo,
      "leaderboard",
      "Cannot create ref due to creations being restricted.",
    );
    const error = await store(repo)
      .record(entry("s-1"))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitHubError);
    expect((error as Error).message).toMatch(
      /^creating branch leaderboard of org\/comp-\d+ from main failed: GitHub refused it under a rule on branch leaderboard .*\(422 Repository rule violations found Cannot create ref due to creations being restricted\.\)/,
    );
    expect(github.fake.received("POST", /\/git\/refs$/)).toHaveLength(1);
  });

  it("retries 5xx answers along the way and still records once", async () => {
    const repo = freshRepo();
    github.fake.inject({ kind: "server-error", status: 502 }, { times: 2, method: "PUT" });
    github.fake.inject({ kind: "server-error", status: 500 }, { times: 1, method: "GET" });
    await store(repo).record(entry("s-1"));
    expect(json(repo)!.entries.map((e) => e.submissionId)).toEqual(["s-1"]);
    expect(github.fake.requests.filter((r) => r.status >= 500)).toHaveLength(3);
  });

  it("honours a secondary rate limit, then records", async () => {
    const repo = freshRepo();
    const logger = capturingLogger();
    github.fake.inject({ kind: "secondary-rate-limit", retryAfterS: 1 }, { method: "PUT" });
    await store(repo, { client: fastClient(github.fake, { logger }) }).record(entry("s-1"));
    expect(json(repo)!.entries).toHaveLength(1);
    expect(logger.warnings).toEqual([
      expect.stringMatching(/secondary rate limit on PUT .*retrying after 1s/),
    ]);
  });

  it("fails fast on bad credentials, saying to check the token", async () => {
    const repo = freshRepo();
    const error = await store(repo, { client: fastClient(github.fake, { token: "wrong" }) })
      .record(entry("s-1"))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitHubError);
    expect((error as Error).message).toMatch(
      /looking up branch leaderboard of org\/comp-\d+ failed: GitHub rejected the token \(401 Bad credentials\)\. Check the token/,
    );
    expect(github.fake.requests).toHaveLength(1);
  });

  it("says what permission a read-only token lacks", async () => {
    const repo = freshRepo();
    await store(repo).record(entry("s-1"));
    github.fake.inject({ kind: "forbidden" }, { method: "PUT" });
    await expect(store(repo).record(entry("s-2"))).rejects.toThrow(
      /writing leaderboard\.json on branch leaderboard of org\/comp-\d+ failed: GitHub refused the request \(403 Resource not accessible by integration\)\. The token lacks permission on org\/comp-\d+: it needs "contents: write"/,
    );
  });

  it("reads a file over the contents API's size limit through the blobs API", async () => {
    const repo = freshRepo();
    const s = store(repo, { render: undefined });
    await s.record(entry("s-1"));
    github.fake.contentsSizeLimit = 100;
    try {
      await s.record(entry("s-2"));
      expect((await s.list()).map((e) => e.submissionId)).toEqual(["s-1", "s-2"]);
      expect(github.fake.received("GET", /\/git\/blobs\//).length).toBeGreaterThan(0);
    } finally {
      github.fake.contentsSizeLimit = 1024 * 1024;
    }
  });

  it("refuses a corrupt, foreign, newer or leaky file with a clear error", async () => {
    const repo = freshRepo();
    await store(repo).record(entry("s-1"));
    const cases: [string, RegExp][] = [
      [
        "{ not json",
        /leaderboard\.json on branch leaderboard of org\/comp-\d+ is not valid JSON .*restore it from the branch history/,
      ],
      [
        JSON.stringify({ rows: [] }),
        /has format undefined; this proctor reads "proctor\.leaderboard-entries\/v1": it is not a proctor leaderboard file/,
      ],
      [
        JSON.stringify({ format: "proctor.leaderboard-entries/v2", entries: [] }),
        /has format "proctor\.leaderboard-entries\/v2".*upgrade proctor/,
      ],
      [
        serializeEntries([entry("s-1")]).replace('"privateScore": null', '"privateScore": 0.9'),
        /entries\[0\] is not a valid stored entry: .*plain privateScore/,
      ],
      [
        serializeEntries([entry("s-1")]).replace('"status": "succeeded"', '"status": "done"'),
        /entries\[0\] is not a valid stored entry: leaderboard entry "s-1" is invalid: status/,
      ],
    ];
    for (const [text, message] of cases) {
      github.fake.writeFile("org", repo, "leaderboard.json", text, "leaderboard");
      await expect(store(repo).list()).rejects.toThrow(message);
      await expect(store(repo).record(entry("s-2"))).rejects.toThrow(message);
    }
  });

  it("explains an empty repository and a missing one", async () => {
    github.fake.addRepo("org", "empty", { empty: true });
    await expect(store("empty").record(entry("s-1"))).rejects.toThrow(
      /cannot create branch leaderboard of org\/empty: its default branch has no commits \(Git Repository is empty\.\); push a first commit/,
    );
    await expect(store("no-such-repo").record(entry("s-1"))).rejects.toThrow(
      /reading repository org\/no-such-repo failed: GitHub answered 404 \(Not Found\): repository org\/no-such-repo does not exist/,
    );
  });

  it("does not read a missing or invisible repository as an empty leaderboard", async () => {
    await expect(store("no-such-repo").list()).rejects.toThrow(
      /reading leaderboard\.json on branch leaderboard of org\/no-such-repo failed: GitHub answered 404 \(Not Found\): repository org\/no-such-repo does not exist, or the token cannot see org\/no-such-repo/,
    );
  });

  it("refuses to be used after close", async () => {
    const s = store(freshRepo());
    await s.close();
    await expect(s.list()).rejects.toThrow(/is closed/);
    await expect(s.record(entry("s-1"))).rejects.toThrow(/is closed/);
  });

  it("tolerates another runner creating the branch at the same moment", async () => {
    const repo = freshRepo();
    github.fake.latencyMs = 20;
    await Promise.all([store(repo).record(entry("s-1")), store(repo).record(entry("s-2"))]);
    expect(json(repo)!.entries.map((e) => e.submissionId)).toEqual(["s-1", "s-2"]);
    const refs = github.fake.received("POST", /\/git\/refs$/);
    expect(refs.map((r) => r.status).sort()).toEqual([201, 422]);
  });

  it("works with a custom branch and path, and the leaderboard room's real renderers", async () => {
    const repo = freshRepo();
    const rules = parseRules({ direction: "higher" });
    const pages: RenderPages = (entries) => {
      const standings = rankEntries(entries, rules);
      const latest = entries.reduce(
        (t, e) => (e.submittedAt > t ? e.submittedAt : t),
        "1970-01-01T00:00:00.000Z",
      );
      const options = { competition: "Demo <cup>", generatedAt: new Date(latest) };
      return {
        "README.md": renderMarkdown(standings, options),
        "docs/index.html": renderHtml(standings, options),
      };
    };
    const s = store(repo, { branch: "results", path: "data/entries.json", render: pages });
    await s.record(entry("s-1", { participant: "alice", publicScore: 0.8 }));
    await s.record(
      entry("s-2", { participant: "bob", publicScore: 0.9, submittedAt: "2025-03-01T13:00:00Z" }),
    );
    expect(
      await s.upsert(
        entry("s-2", { participant: "bob", publicScore: 0.9, submittedAt: "2025-03-01T13:00:00Z" }),
      ),
    ).toEqual({ committed: false, attempts: 1, pagesWritten: [] });
    const readme = github.fake.file("org", repo, "README.md", "results")!;
    expect(readme).toMatch(/\| 1 \| bob \| 0\.9000 \|[\s\S]*\| 2 \| alice \| 0\.8000 \|/);
    expect(github.fake.file("org", repo, "docs/index.html", "results")).toContain("Demo &lt;cup&gt;");
    expect(github.fake.file("org", repo, "data/entries.json", "results")).toBe(
      serializeEntries(await s.list()),
    );
  });
});
