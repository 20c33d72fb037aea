import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DispatchError, dispatchSubmission, dispatchWorkflow } from "./dispatch.js";
import { GitHubError } from "./errors.js";
import { fastClient } from "./test-support/clients.js";
import { startFakeGitHub, type FakeGitHub } from "./test-support/fake-github.js";

let fake: FakeGitHub;

beforeAll(async () => {
  fake = await startFakeGitHub();
  fake.addRepo("org", "comp", {
    workflows: {
      "run-submission.yml": {
        inputs: {
          "submission-id": { required: true },
          "submission-url": { required: true },
          flavour: { type: "choice", options: ["cpu", "gpu"] },
        },
      },
      "ci.yml": { dispatchable: false },
    },
  });
});
afterAll(() => fake.close());
afterEach(() => {
  fake.clearFaults();
  fake.requests.length = 0;
});

const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));

describe("dispatchSubmission", () => {
  it("sends a repository_dispatch with the payload (event type defaults to submission)", async () => {
    const client = fastClient(fake);
    const payload = { submissionId: "s-1", url: "https://example.test/s-1.zip", sha256: "ab".repeat(32) };
    await dispatchSubmission(client, { owner: "org", repo: "comp", payload });
    await dispatchSubmission(client, {
      owner: "org",
      repo: "comp",
      eventType: "smoke-test",
      payload: keys(10),
    });
    expect(fake.dispatches("org", "comp").slice(-2)).toEqual([
      { eventType: "submission", clientPayload: payload },
      { eventType: "smoke-test", clientPayload: keys(10) },
    ]);
  });

  it("refuses a payload of more than 10 top-level properties before sending anything", async () => {
    const error = await dispatchSubmission(fastClient(fake), {
      owner: "org",
      repo: "comp",
      payload: keys(11),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DispatchError);
    expect((error as Error).message).toMatch(
      /repository_dispatch to org\/comp: the payload has 11 top-level properties \("k0", .*"k10"\); GitHub allows at most 10\. Nest/,
    );
    expect(fake.requests).toHaveLength(0);
  });

  it("refuses a payload over 64 KB, and one that is not an object, before sending anything", async () => {
    const client = fastClient(fake);
    await expect(
      dispatchSubmission(client, { owner: "org", repo: "comp", payload: { blob: "x".repeat(64 * 1024) } }),
    ).rejects.toThrow(
      /the payload is 65547 bytes of JSON; the limit is 65536 bytes \(64 KB\)\. Send a reference/,
    );
    await expect(
      dispatchSubmission(client, {
        owner: "org",
        repo: "comp",
        payload: [1, 2] as unknown as Record<string, unknown>,
      }),
    ).rejects.toThrow(/must be a plain JSON object, got an array/);
    await expect(
      dispatchSubmission(client, { owner: "org", repo: "comp", eventType: "e".repeat(101), payload: {} }),
    ).rejects.toThrow(/eventType is 101 characters; GitHub allows at most 100/);
    expect(fake.requests).toHaveLength(0);
    // Exactly at the limit is fine: {"blob":"…"} is 11 bytes of JSON around the string.
    await dispatchSubmission(client, {
      owner: "org",
      repo: "comp",
      payload: { blob: "x".repeat(64 * 1024 - 11) },
    });
    expect(fake.requests).toHaveLength(1);
  });

  it("is what GitHub itself would refuse: the fake answers 11 properties with GitHub's 422", async () => {
    const client = fastClient(fake);
    const error = await client.rest.repos
      .createDispatchEvent({ owner: "org", repo: "comp", event_type: "submission", client_payload: keys(11) })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      status: 422,
      response: {
        data: { message: "Invalid request.\n\nNo more than 10 properties are allowed; 11 were supplied." },
      },
    });
  });

  it("turns an unknown repository into a 404 error that mentions token access", async () => {
    const error = await dispatchSubmission(fastClient(fake), {
      owner: "org",
      repo: "nope",
      payload: {},
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitHubError);
    expect((error as Error).message).toMatch(
      /sending repository_dispatch "submission" to org\/nope failed: GitHub answered 404 .*token cannot see org\/nope/,
    );
  });

  it("says to check the token on bad credentials, after one request", async () => {
    const error = await dispatchSubmission(fastClient(fake, { token: "revoked" }), {
      owner: "org",
      repo: "comp",
      payload: {},
    }).catch((e: unknown) => e);
    expect((error as GitHubError).status).toBe(401);
    expect((error as Error).message).toMatch(/Check the token/);
    expect(fake.requests).toHaveLength(1);
  });
});

describe("dispatchWorkflow", () => {
  const inputs = { "submission-id": "s-1", "submission-url": "https://example.test/s.zip", flavour: "gpu" };

  it("dispatches a workflow by file name with string inputs", async () => {
    await dispatchWorkflow(fastClient(fake), {
      owner: "org",
      repo: "comp",
      workflow: "run-submission.yml",
      ref: "main",
      inputs,
    });
    expect(fake.workflowDispatches("org", "comp").at(-1)).toEqual({
      workflow: "run-submission.yml",
      ref: "main",
      inputs,
    });
  });

  it("explains a 404 for an unknown workflow", async () => {
    const error = await dispatchWorkflow(fastClient(fake), {
      owner: "org",
      repo: "comp",
      workflow: "run.yml",
      ref: "main",
      inputs,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitHubError);
    expect((error as GitHubError).status).toBe(404);
    expect((error as Error).message).toMatch(
      /dispatching workflow "run\.yml" in org\/comp on ref "main" failed: GitHub answered 404 \(Not Found\): no workflow "run\.yml" exists in org\/comp\. Give the file name of a workflow under \.github\/workflows\//,
    );
  });

  it("passes on GitHub's 422 reasons with what to fix", async () => {
    const client = fastClient(fake);
    const run = async (over: object): Promise<Error> => {
      try {
        await dispatchWorkflow(client, {
          owner: "org",
          repo: "comp",
          workflow: "run-submission.yml",
          ref: "main",
          inputs,
          ...over,
        });
      } catch (error) {
        return error as Error;
      }
      throw new Error("expected the dispatch to be refused");
    };
    expect((await run({ inputs: { ...inputs, extra: "1" } })).message).toMatch(
      /422 Unexpected inputs provided: \["extra"\]\)\. The workflow must have an `on: workflow_dispatch` trigger/,
    );
    expect((await run({ inputs: { "submission-id": "s" } })).message).toMatch(
      /Required input 'submission-url' not provided/,
    );
    expect((await run({ ref: "no-such-branch" })).message).toMatch(/No ref found for: no-such-branch/);
    expect((await run({ workflow: "ci.yml", inputs: {} })).message).toMatch(
      /does not have 'workflow_dispatch' trigger/,
    );
  });

  it("refuses non-string inputs and more than 25 inputs before sending", async () => {
    const client = fastClient(fake);
    await expect(
      dispatchWorkflow(client, {
        owner: "org",
        repo: "comp",
        workflow: "run-submission.yml",
        ref: "main",
        inputs: { ...inputs, attempt: 2 } as unknown as Record<string, string>,
      }),
    ).rejects.toThrow(/input "attempt" is number; every input must be a string/);
    const many = Object.fromEntries(Array.from({ length: 26 }, (_, i) => [`i${i}`, "x"]));
    await expect(
      dispatchWorkflow(client, {
        owner: "org",
        repo: "comp",
        workflow: "run-submission.yml",
        ref: "main",
        inputs: many,
      }),
    ).rejects.toThrow(/26 inputs given; GitHub allows at most 25/);
    await expect(
      dispatchWorkflow(client, {
        owner: "org",
        repo: "comp",
        workflow: "run-submission.yml",
        ref: "",
        inputs,
      }),
    ).rejects.toThrow(/ref must be a non-empty string/);
    expect(fake.requests).toHaveLength(0);
  });
});
