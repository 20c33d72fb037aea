import { describe, expect, it } from "vitest";
import { Branch, type BranchOptions } from "./branch-file.js";
import { GitHubError } from "./errors.js";
import { fastClient } from "./test-support/clients.js";
import { fakeGitHubPerFile } from "./test-support/per-file.js";

class OwnerError extends Error {}

const github = fakeGitHubPerFile("files");
const freshRepo = () => github.freshRepo({ files: { "README.md": "# main\n" } });

function branch(repo: string, options: Partial<BranchOptions> = {}): Branch {
  return new Branch({
    client: fastClient(github.fake),
    owner: "org",
    repo,
    branch: "data",
    backoff: { baseMs: 5, maxMs: 50 },
    purpose: { what: "the data", elsewhere: "the data-branch setting" },
    error: (message) => new OwnerError(message),
    ...options,
  });
}

const append = (line: string) => (text: string | undefined) =>
  text?.includes(line) ? undefined : `${text ?? ""}${line}\n`;

describe("Branch", () => {
  it("creates the branch, writes a file, and makes no commit when the edit changes nothing", async () => {
    const repo = freshRepo();
    const b = branch(repo);
    const first = await b.update("log.txt", append("one"), { message: "one", deadline: b.deadline() });
    expect(first).toMatchObject({ ok: true, committed: true, attempts: 1 });
    expect(github.fake.file("org", repo, "log.txt", "data")).toBe("one\n");
    expect(github.fake.file("org", repo, "log.txt", "main")).toBeUndefined();
    const again = await b.update("log.txt", append("one"), { message: "one", deadline: b.deadline() });
    expect(again).toMatchObject({ ok: true, committed: false, attempts: 1 });
    expect((await b.read("log.txt"))?.text).toBe("one\n");
  });

  it("reads again after a conflict, so the edit sees the latest text, and gives up at the time bound", async () => {
    const repo = freshRepo();
    const b = branch(repo);
    await b.update("log.txt", append("one"), { message: "one", deadline: b.deadline() });
    github.fake.inject({ kind: "conflict" }, { times: 1, path: /log\.txt$/ });
    const seen: (string | undefined)[] = [];
    const edit = (text: string | undefined) => (seen.push(text), append("two")(text));
    expect(await b.update("log.txt", edit, { message: "two", deadline: b.deadline() })).toMatchObject({
      ok: true,
      attempts: 2,
    });
    expect(seen).toEqual(["one\n", "one\n"]);
    github.fake.inject({ kind: "conflict" }, { times: Infinity, path: /log\.txt$/ });
    const gaveUp = await branch(repo, { retryForMs: 0 }).update("log.txt", append("three"), {
      message: "three",
      deadline: Date.now(),
    });
    expect(gaveUp).toMatchObject({
      ok: false,
      attempts: 1,
      reason: expect.stringMatching(/^GitHub answered 409/),
    });
  });

  it("leaves a file a newer writer will write, after a conflict", async () => {
    const repo = freshRepo();
    const b = branch(repo);
    await b.update("page.md", append("old"), { message: "old", deadline: b.deadline() });
    expect(
      await b.writeIfChanged("page.md", "old\n", {
        message: "x",
        deadline: b.deadline(),
        superseded: async () => true,
      }),
    ).toBe("unchanged");
    github.fake.inject({ kind: "conflict" }, { times: 1, path: /page\.md$/ });
    expect(
      await b.writeIfChanged("page.md", "new\n", {
        message: "x",
        deadline: b.deadline(),
        superseded: async () => true,
      }),
    ).toBe("superseded");
    expect(
      await b.writeIfChanged("page.md", "new\n", {
        message: "x",
        deadline: b.deadline(),
        superseded: async () => false,
      }),
    ).toBe("written");
    expect(github.fake.file("org", repo, "page.md", "data")).toBe("new\n");
  });

  it("names what the branch holds when a rule refuses a write, and uses the owner's error type", async () => {
    const repo = freshRepo();
    const b = branch(repo);
    await b.ensure();
    github.fake.protectBranch("org", repo, "data", "Changes must be made through a pull request.");
    const error = await b
      .update("log.txt", append("one"), { message: "one", deadline: b.deadline() })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitHubError);
    expect((error as Error).message).toMatch(
      /proctor commits the data to this branch directly.*\(the data-branch setting\)$/,
    );
    github.fake.addRepo("org", `${repo}-empty`, { empty: true });
    await expect(branch(`${repo}-empty`).ensure()).rejects.toThrow(OwnerError);
  });
});
