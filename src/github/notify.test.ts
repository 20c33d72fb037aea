import { describe, expect, it } from "vitest";
import { GitHubError } from "./errors.js";
import { commentOnIssue, NotifyError, setCommitStatus, truncate } from "./notify.js";
import { fastClient } from "./test-support/clients.js";
import { fakeGitHubPerFile } from "./test-support/per-file.js";

const github = fakeGitHubPerFile("comp");
const freshRepo = () => github.freshRepo();

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
    const sha = github.fake.branchHead("org", repo, "main")!;
    const description = `failed: ${"the model printed a very long traceback ".repeat(10)}`;
    const result = await setCommitStatus(fastClient(github.fake), {
      owner: "org",
      repo,
      sha,
      state: "failure",
      context: "proctor/submission (cpu)",
      description,
      targetUrl: "https://example.test/run/1",
    });
    const [status] = github.fake.statuses("org", repo);
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
    const error = await fastClient(github.fake)
      .rest.repos.createCommitStatus({
        owner: "org",
        repo,
        sha: github.fake.branchHead("org", repo, "main")!,
        state: "success",
        description: "x".repeat(141),
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 422 });
    expect((error as Error).message).toMatch(/description is too long \(maximum is 140 characters\)/);
  });

  it("refuses a short sha or unknown state before sending, and explains GitHub's refusal of an unknown commit", async () => {
    const repo = freshRepo();
    const client = fastClient(github.fake);
    const base = { owner: "org", repo, context: "proctor", description: "ok" };
    await expect(setCommitStatus(client, { ...base, sha: "abc123", state: "success" })).rejects.toThrow(
      /sha must be a full commit sha \(40 hex characters\), got "abc123"/,
    );
    await expect(
      setCommitStatus(client, { ...base, sha: "a".repeat(40), state: "done" as "success" }),
    ).rejects.toBeInstanceOf(NotifyError);
    expect(github.fake.requests).toHaveLength(0);
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
    github.fake.inject({ kind: "forbidden" });
    const error = await setCommitStatus(fastClient(github.fake), {
      owner: "org",
      repo,
      sha: github.fake.branchHead("org", repo, "main")!,
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
    const client = fastClient(github.fake);
    const number = github.fake.addPullRequest("org", repo, "t");
    const comment = await commentOnIssue(client, {
      owner: "org",
      repo,
      issueNumber: number,
      body: "**scored** 0.93",
    });
    expect(comment.htmlUrl).toContain(`/issues/${number}#issuecomment-${comment.id}`);
    expect(github.fake.comments("org", repo)).toEqual([
      { id: comment.id, issueNumber: number, body: "**scored** 0.93", author: "proctor-bot" },
    ]);
    await expect(commentOnIssue(client, { owner: "org", repo, issueNumber: 999, body: "x" })).rejects.toThrow(
      /commenting on org\/comp-\d+#999 failed: GitHub answered 404 \(Not Found\): issue or pull request #999 does not exist/,
    );
  });

  it("cuts a body over GitHub's 65536 characters, saying so", async () => {
    const repo = freshRepo();
    const client = fastClient(github.fake);
    const number = github.fake.addPullRequest("org", repo, "t");
    await commentOnIssue(client, { owner: "org", repo, issueNumber: number, body: "y".repeat(70_000) });
    const body = github.fake.comments("org", repo)[0]!.body;
    expect(body.length).toBe(65_536);
    expect(body).toMatch(/…\(truncated: GitHub allows 65536 characters\)$/);
  });
});
