import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DispatchError, dispatchSubmission } from "./dispatch.js";
import { GitHubError } from "./errors.js";
import { fastClient } from "./test-support/clients.js";
import { startFakeGitHub, type FakeGitHub } from "./test-support/fake-github.js";

let fake: FakeGitHub;

beforeAll(async () => {
  fake = await startFakeGitHub();
  fake.addRepo("org", "comp");
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
