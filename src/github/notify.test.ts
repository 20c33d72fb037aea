import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GitHubError } from "./errors.js";
import { commentOnIssue, NotifyError, openOrUpdateIssue, setCommitStatus, truncate } from "./notify.js";
import { fastClient } from "./test-support/clients.js";
import { startFakeGitHub, type FakeGitHub } from "./test-support/fake-github.js";

let fake: FakeGitHub;
let repoCount = 0;

beforeAll(async () => {
  fake = await startFakeGitHub();
});
afterAll(() => fake.close());
afterEach(() => {
  fake.latencyMs = 0;
  fake.requests.length = 0;
});

/** A fresh repository per test, so issue numbers and lists do not leak between tests. */
function freshRepo(): string {
  repoCount += 1;
  const name = `comp-${repoCount}`;
  fake.addRepo("org", name);
  return name;
}

const openWith = (repo: string, label: string) =>
  fake.issues("org", repo).filter((i) => i.state === "open" && !i.isPullRequest && i.labels.includes(label));

describe("truncate", () => {
  it("cuts to the limit in code points, ending with an ellipsis, never splitting a surrogate pair", () => {
    expect(truncate("short", 140)).toBe("short");
    expect(truncate("x".repeat(140), 140)).toBe("x".repeat(140));
    expect(truncate("x".repeat(141), 140)).toBe(`${"x".repeat(139)}…`);
    const emoji = "🏆".repeat(150);
    const cut = truncate(emoji, 140);
    expect(Array.from(cut)).toHaveLength(140);
    expect(cut).toBe(`${"🏆".repeat(139)}…`);
  });
});

describe("setCommitStatus", () => {
  it("truncates the description to the 140 characters GitHub accepts", async () => {
    const repo = freshRepo();
    const sha = fake.branchHead("org", repo, "main")!;
    const description = `failed: ${"the model printed a very long traceback ".repeat(10)}`;
    const result = await setCommitStatus(fastClient(fake), {
      owner: "org",
      repo,
      sha,
      state: "failure",
      context: "proctor/submission (cpu)",
      description,
      targetUrl: "https://example.test/run/1",
    });
    const [status] = fake.statuses("org", repo);
    expect(result.id).toBe(status!.id);
    expect(status).toMatchObject({
      sha,
      state: "failure",
      context: "proctor/submission (cpu)",
      targetUrl: "https://example.test/run/1",
    });
    expect(Array.from(status!.description!)).toHaveLength(140);
    expect(status!.description).toBe(truncate(description, 140));
  });

  it("is needed: the fake refuses 141 characters as GitHub does", async () => {
    const repo = freshRepo();
    const error = await fastClient(fake)
      .rest.repos.createCommitStatus({
        owner: "org",
        repo,
        sha: fake.branchHead("org", repo, "main")!,
        state: "success",
        description: "x".repeat(141),
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 422 });
    expect((error as Error).message).toMatch(/description is too long \(maximum is 140 characters\)/);
  });

  it("refuses a short sha or unknown state before sending, and explains GitHub's refusal of an unknown commit", async () => {
    const repo = freshRepo();
    const client = fastClient(fake);
    const base = { owner: "org", repo, context: "proctor", description: "ok" };
    await expect(setCommitStatus(client, { ...base, sha: "abc123", state: "success" })).rejects.toThrow(
      /sha must be a full commit sha \(40 hex characters\), got "abc123"/,
    );
    await expect(
      setCommitStatus(client, { ...base, sha: "a".repeat(40), state: "done" as "success" }),
    ).rejects.toBeInstanceOf(NotifyError);
    expect(fake.requests).toHaveLength(0);
    const error = await setCommitStatus(client, { ...base, sha: "a".repeat(40), state: "success" }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GitHubError);
    expect((error as Error).message).toMatch(
      /setting commit status "proctor" on org\/comp-\d+@aaaaaaaaaaaa failed: GitHub answered 422: No commit found for SHA/,
    );
  });

  it("names the permission a 403 needs", async () => {
    const repo = freshRepo();
    fake.inject({ kind: "forbidden" });
    const error = await setCommitStatus(fastClient(fake), {
      owner: "org",
      repo,
      sha: fake.branchHead("org", repo, "main")!,
      state: "pending",
      context: "proctor",
      description: "running",
    }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /GitHub refused the request \(403 Resource not accessible by integration\)\. The token lacks permission on org\/comp-\d+: it needs "statuses: write"/,
    );
  });
});

describe("commentOnIssue", () => {
  it("comments, and explains a missing issue", async () => {
    const repo = freshRepo();
    const client = fastClient(fake);
    const { number } = await openOrUpdateIssue(client, {
      owner: "org",
      repo,
      title: "t",
      body: "b",
      label: "x",
    });
    const comment = await commentOnIssue(client, {
      owner: "org",
      repo,
      issueNumber: number,
      body: "**scored** 0.93",
    });
    expect(comment.htmlUrl).toContain(`/issues/${number}#issuecomment-${comment.id}`);
    expect(fake.comments("org", repo)).toEqual([
      { id: comment.id, issueNumber: number, body: "**scored** 0.93" },
    ]);
    await expect(commentOnIssue(client, { owner: "org", repo, issueNumber: 999, body: "x" })).rejects.toThrow(
      /commenting on org\/comp-\d+#999 failed: GitHub answered 404 \(Not Found\): issue or pull request #999 does not exist/,
    );
  });

  it("cuts a body over GitHub's 65536 characters, saying so", async () => {
    const repo = freshRepo();
    const client = fastClient(fake);
    const { number } = await openOrUpdateIssue(client, {
      owner: "org",
      repo,
      title: "t",
      body: "b",
      label: "x",
    });
    await commentOnIssue(client, { owner: "org", repo, issueNumber: number, body: "y".repeat(70_000) });
    const body = fake.comments("org", repo)[0]!.body;
    expect(body.length).toBe(65_536);
    expect(body).toMatch(/…\(truncated: GitHub allows 65536 characters\)$/);
  });
});

describe("openOrUpdateIssue", () => {
  it("creates the issue once, then updates it: never two open issues per label", async () => {
    const repo = freshRepo();
    const client = fastClient(fake);
    const opts = { owner: "org", repo, title: "Runner gpu-1 is failing", label: "runner-health" };
    const first = await openOrUpdateIssue(client, { ...opts, body: "3 infrastructure errors" });
    expect(first).toMatchObject({ action: "created", closedDuplicates: [] });
    const second = await openOrUpdateIssue(client, { ...opts, body: "5 infrastructure errors" });
    expect(second).toMatchObject({ number: first.number, action: "updated" });
    const third = await openOrUpdateIssue(client, { ...opts, body: "5 infrastructure errors" });
    expect(third).toMatchObject({ number: first.number, action: "unchanged" });
    expect(fake.received("PATCH", /\/issues\/\d+$/)).toHaveLength(1);

    const open = openWith(repo, "runner-health");
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({
      number: first.number,
      body: "5 infrastructure errors",
      labels: ["runner-health"],
    });
    expect(fake.received("GET", /\/issues$/)[0]!.query).toMatchObject({
      labels: "runner-health",
      state: "open",
    });
  });

  it("comments instead of editing when asked", async () => {
    const repo = freshRepo();
    const client = fastClient(fake);
    const opts = {
      owner: "org",
      repo,
      title: "Nightly reveal",
      label: "reveal",
      onExisting: "comment" as const,
    };
    const first = await openOrUpdateIssue(client, { ...opts, body: "day 1" });
    const second = await openOrUpdateIssue(client, { ...opts, body: "day 2" });
    expect(second).toMatchObject({ number: first.number, action: "commented" });
    expect(fake.issues("org", repo)[0]!.body).toBe("day 1");
    expect(fake.comments("org", repo).map((c) => c.body)).toEqual(["day 2"]);
  });

  it("ignores pull requests and closed issues with the label", async () => {
    const repo = freshRepo();
    const client = fastClient(fake);
    fake.addPullRequest("org", repo, "a PR", ["runner-health"]);
    const closed = await openOrUpdateIssue(client, {
      owner: "org",
      repo,
      title: "old",
      body: "old",
      label: "runner-health",
    });
    await client.rest.issues.update({ owner: "org", repo, issue_number: closed.number, state: "closed" });
    const result = await openOrUpdateIssue(client, {
      owner: "org",
      repo,
      title: "new",
      body: "new",
      label: "runner-health",
    });
    expect(result.action).toBe("created");
    expect(result.number).not.toBe(closed.number);
    expect(openWith(repo, "runner-health").map((i) => i.number)).toEqual([result.number]);
  });

  it("closes duplicates it finds, keeping the oldest", async () => {
    const repo = freshRepo();
    const client = fastClient(fake);
    for (const n of [1, 2, 3]) {
      await client.rest.issues.create({ owner: "org", repo, title: `dup ${n}`, labels: ["runner-health"] });
    }
    const result = await openOrUpdateIssue(client, {
      owner: "org",
      repo,
      title: "t",
      body: "b",
      label: "runner-health",
    });
    expect(result).toMatchObject({ number: 1, action: "updated", closedDuplicates: [2, 3] });
    expect(openWith(repo, "runner-health").map((i) => i.number)).toEqual([1]);
    expect(fake.issues("org", repo)[1]).toMatchObject({ state: "closed", state_reason: "not_planned" });
    expect(fake.comments("org", repo).map((c) => c.body)).toEqual([
      'Duplicate of #1 (one open issue per label "runner-health").',
      'Duplicate of #1 (one open issue per label "runner-health").',
    ]);
  });

  it("converges to one open issue when two callers race to create it", async () => {
    const repo = freshRepo();
    fake.latencyMs = 30; // the three look-ups overlap, so all three create one
    const run = (body: string) =>
      openOrUpdateIssue(fastClient(fake), {
        owner: "org",
        repo,
        title: "Runner down",
        body,
        label: "runner-down",
      });
    const results = await Promise.all([run("from job A"), run("from job B"), run("from job C")]);
    expect(openWith(repo, "runner-down")).toHaveLength(1);
    const keeper = openWith(repo, "runner-down")[0]!.number;
    expect(results.every((r) => r.number === keeper)).toBe(true);
    expect(fake.issues("org", repo)).toHaveLength(3);
    expect(results.flatMap((r) => r.closedDuplicates).sort()).toEqual([2, 3]);
  });

  it("refuses a label with a comma", async () => {
    await expect(
      openOrUpdateIssue(fastClient(fake), { owner: "org", repo: "x", title: "t", body: "b", label: "a,b" }),
    ).rejects.toThrow(/must not contain a comma/);
  });
});
