import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createGitHubClient } from "./client.js";
import { GitHubError, toGitHubError } from "./errors.js";
import { capturingLogger, fastClient } from "./test-support/clients.js";
import { gitBlobSha, startFakeGitHub, type FakeGitHub } from "./test-support/fake-github.js";

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

const getRepo = (client = fastClient(fake)) => client.rest.repos.get({ owner: "org", repo: "comp" });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("fake GitHub", () => {
  it("computes blob shas as git does", () => {
    expect(gitBlobSha("")).toBe("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    expect(gitBlobSha("hello\n")).toBe("ce013625030ba8dba906f756967f9e9ca394464a");
  });

  it("answers a missing token and a wrong one with 401", async () => {
    const wrong = await rejection(getRepo(fastClient(fake, { token: "nope" })));
    expect(wrong).toMatchObject({ status: 401 });
    expect((wrong as { response: { data: { message: string } } }).response.data.message).toBe(
      "Bad credentials",
    );
  });
});

describe("createGitHubClient", () => {
  it("refuses to start without a token", () => {
    expect(() => createGitHubClient({ token: " " })).toThrow(/no GitHub token given/);
    expect(() => createGitHubClient({ token: "t", retries: -1 })).toThrow(/retries must be a non-negative/);
  });

  it("retries 500 and 502 answers, then succeeds", async () => {
    fake.inject({ kind: "server-error", status: 500 });
    fake.inject({ kind: "server-error", status: 502 });
    const { data } = await getRepo();
    expect(data.default_branch).toBe("main");
    expect(fake.requests.map((r) => r.status)).toEqual([500, 502, 200]);
  });

  it("gives up on 5xx after the configured retries with a clear error", async () => {
    fake.inject({ kind: "server-error", status: 503 }, { times: Infinity });
    const error = await rejection(
      getRepo(fastClient(fake, { retries: 2 })).catch((e: unknown) => {
        throw toGitHubError(e, { operation: "reading org/comp" });
      }),
    );
    expect(error).toBeInstanceOf(GitHubError);
    expect((error as GitHubError).status).toBe(503);
    expect((error as Error).message).toMatch(
      /reading org\/comp failed: GitHub answered 503 .*try again later/,
    );
    expect(fake.requests).toHaveLength(3);
  });

  it("honours a secondary rate limit's retry-after, logs it, then succeeds", async () => {
    const logger = capturingLogger();
    fake.inject({ kind: "secondary-rate-limit", retryAfterS: 1 });
    fake.inject({ kind: "secondary-rate-limit", status: 429, retryAfterS: 2 });
    await getRepo(fastClient(fake, { logger }));
    expect(fake.requests.map((r) => r.status)).toEqual([403, 429, 200]);
    expect(logger.warnings).toEqual([
      expect.stringMatching(
        /secondary rate limit on GET \/repos\/\{owner\}\/\{repo\}: retrying after 1s \(retry 1 of 3\)/,
      ),
      expect.stringMatching(/secondary rate limit .*retrying after 2s \(retry 2 of 3\)/),
    ]);
  });

  it("stops retrying a secondary rate limit after the configured retries", async () => {
    const logger = capturingLogger();
    fake.inject({ kind: "secondary-rate-limit" }, { times: Infinity });
    const error = await rejection(getRepo(fastClient(fake, { logger, retries: 2 })));
    expect(toGitHubError(error, { operation: "reading org/comp" }).message).toMatch(
      /secondary rate limit stopped the request .* slow down/,
    );
    expect(fake.requests).toHaveLength(3);
    expect(logger.warnings.at(-1)).toMatch(/giving up after 2 retries/);
  });

  it("waits for the primary rate limit to reset, then succeeds", async () => {
    const logger = capturingLogger();
    fake.inject({ kind: "primary-rate-limit", resetInS: 1 });
    await getRepo(fastClient(fake, { logger }));
    expect(fake.requests.map((r) => r.status)).toEqual([403, 200]);
    expect(logger.warnings).toEqual([
      expect.stringMatching(/rate limit exhausted on GET .*: retrying after [1-3]s/),
    ]);
  });

  it("does not wait for a primary reset further away than maxRateLimitWaitS", async () => {
    fake.inject({ kind: "primary-rate-limit", resetInS: 3600 });
    const error = await rejection(getRepo(fastClient(fake, { maxRateLimitWaitS: 60 })));
    expect(fake.requests).toHaveLength(1);
    expect(toGitHubError(error, { operation: "reading org/comp" }).message).toMatch(
      /rate limit for this token is exhausted .* resets at \d{4}-\d\d-\d\dT/,
    );
  });

  it("never retries bad credentials, and says to check the token", async () => {
    const error = await rejection(getRepo(fastClient(fake, { token: "expired" })));
    expect(fake.requests).toHaveLength(1);
    const wrapped = toGitHubError(error, { operation: "reading org/comp" });
    expect(wrapped.status).toBe(401);
    expect(wrapped.message).toMatch(/GitHub rejected the token \(401 Bad credentials\)\. Check the token/);
  });

  it("retries a request attempt that times out", async () => {
    fake.latencyMs = 400;
    try {
      const error = await rejection(getRepo(fastClient(fake, { requestTimeoutMs: 50, retries: 1 })));
      expect(toGitHubError(error, { operation: "reading org/comp" }).message).toMatch(
        /could not reach GitHub/,
      );
    } finally {
      fake.latencyMs = 0;
    }
    await new Promise((r) => setTimeout(r, 500)); // let the abandoned requests finish before the next test
    expect(fake.requests).toHaveLength(2);
  });

  it("reports an unreachable API as such", async () => {
    const closed = await startFakeGitHub();
    const url = closed.url;
    await closed.close();
    const client = createGitHubClient({ token: "t", baseUrl: url, retries: 1, retryBaseMs: 1 });
    const error = await rejection(client.rest.repos.get({ owner: "o", repo: "r" }));
    expect(toGitHubError(error, { operation: "reading o/r" }).message).toMatch(
      /reading o\/r failed: could not reach GitHub \(.+\); check the network and the API base URL/,
    );
  });
});
