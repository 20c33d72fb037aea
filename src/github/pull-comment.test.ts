import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findPullRequestByHead, upsertMarkedComment } from "./pull-comment.js";
import { fastClient } from "./test-support/clients.js";
import { startFakeGitHub, type FakeGitHub } from "./test-support/fake-github.js";

const MARKER = "<!-- proctor:test -->";
let github: FakeGitHub;
beforeAll(async () => {
  github = await startFakeGitHub();
  github.addRepo("org", "comp");
  github.addToken("ghs_fork-read-only", { login: "github-actions[bot]", readOnly: true });
});
afterAll(() => github.close());

describe("findPullRequestByHead", () => {
  it("finds a fork's pull request by owner:branch and the run's commit, and no other", async () => {
    const sha = "a".repeat(40);
    github.addPullRequest("org", "comp", "other", [], { owner: "bob", branch: "main", sha: "c".repeat(40) });
    const pr = github.addPullRequest("org", "comp", "add lightgbm", [], {
      owner: "alice",
      branch: "main",
      sha,
    });
    const client = fastClient(github);
    const head = { owner: "org", repo: "comp", headOwner: "alice", headBranch: "main" };
    expect(await findPullRequestByHead(client, { ...head, headSha: sha })).toBe(pr);
    // Pushed to since the run: the run's diff is not this head's.
    expect(await findPullRequestByHead(client, { ...head, headSha: "b".repeat(40) })).toBeNull();
    expect(await findPullRequestByHead(client, { ...head, headOwner: "mallory", headSha: sha })).toBeNull();
  });
});

describe("upsertMarkedComment", () => {
  it("adds the comment once, then edits its own, never someone's pasted copy of the marker", async () => {
    const pr = github.addPullRequest("org", "comp", "pr");
    github.addToken("ghs_participant", { login: "mallory" });
    github.addToken("ghs_workflow-run", { login: "github-actions[bot]" });
    // A participant pastes the marker into their own comment: not ours to edit.
    await fastClient(github, { token: "ghs_participant" }).rest.issues.createComment({
      owner: "org",
      repo: "comp",
      issue_number: pr,
      body: `${MARKER}\nmine`,
    });
    const bot = fastClient(github, { token: "ghs_workflow-run" });
    const options = {
      owner: "org",
      repo: "comp",
      issueNumber: pr,
      marker: MARKER,
      author: "github-actions[bot]",
    };
    const created = await upsertMarkedComment(bot, { ...options, body: `${MARKER}\none` });
    expect(created.action).toBe("created");
    const updated = await upsertMarkedComment(bot, { ...options, body: `${MARKER}\ntwo` });
    expect(updated).toEqual({ id: created.id, action: "updated" });
    const comments = github.comments("org", "comp").filter((c) => c.issueNumber === pr);
    expect(comments.map((c) => [c.author, c.body])).toEqual([
      ["mallory", `${MARKER}\nmine`],
      ["github-actions[bot]", `${MARKER}\ntwo`],
    ]);
  });

  it("with a fork pull request's read-only token: GitHub refuses, and the error names the permission", async () => {
    const pr = github.addPullRequest("org", "comp", "fork pr");
    const readOnly = fastClient(github, { token: "ghs_fork-read-only" });
    await expect(
      upsertMarkedComment(readOnly, {
        owner: "org",
        repo: "comp",
        issueNumber: pr,
        marker: MARKER,
        author: "github-actions[bot]",
        body: `${MARKER}\nx`,
      }),
    ).rejects.toThrow(/pull-requests: write|issues: write/);
  });

  it("refuses a body without its marker", async () => {
    await expect(
      upsertMarkedComment(fastClient(github), {
        owner: "org",
        repo: "comp",
        issueNumber: 1,
        marker: MARKER,
        author: "x",
        body: "no marker",
      }),
    ).rejects.toThrow(/must start with its marker/);
  });
});
