import { afterAll, afterEach, beforeAll } from "vitest";
import { startFakeGitHub, type FakeGitHub, type FakeRepoInit } from "./fake-github.js";

/**
 * One fake GitHub for a test file, started before its tests and closed after, with latency, faults and
 * recorded requests reset after each test; `freshRepo` makes a repository of its own for one test (so
 * branches, issue numbers and lists never leak between tests).
 */
export function fakeGitHubPerFile(prefix: string) {
  const github = {
    fake: undefined as unknown as FakeGitHub,
    freshRepo(init: FakeRepoInit = {}): string {
      const name = `${prefix}-${++repos}`;
      github.fake.addRepo("org", name, init);
      return name;
    },
  };
  let repos = 0;
  beforeAll(async () => {
    github.fake = await startFakeGitHub();
  });
  afterAll(() => github.fake.close());
  afterEach(() => {
    github.fake.latencyMs = 0;
    github.fake.clearFaults();
    github.fake.requests.length = 0;
  });
  return github;
}
