import http from "node:http";
import { describe, expect, it } from "vitest";
import { startHarness } from "./test-support/harness.js";

// Which address the per-address rate limit sees, with Fastify's trustProxy as `proctor serve --trust-proxy`
// passes it: the gateway on 127.0.0.1, the "proxy" is a connection from 127.0.0.1, a client that skips the
// proxy connects from 127.0.0.2 (still loopback). X-Forwarded-For values are only header text: the client
// addresses in them (198.51.100.0/24, documentation addresses) are never contacted.
const LIMIT = { max: 2, uploadsMax: 1, timeWindowMs: 60_000 };

/** An anonymous request's status, from `localAddress`, carrying `forwardedFor` when given. */
function statusOf(url: string, forwardedFor?: string, localAddress = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(
        `${url}/v1/leaderboard`,
        { agent: false, localAddress, headers: forwardedFor ? { "x-forwarded-for": forwardedFor } : {} },
        (response) => {
          response.resume();
          resolve(response.statusCode!);
        },
      )
      .on("error", reject);
  });
}

async function statuses(url: string, requests: [string | undefined, string?][]): Promise<number[]> {
  const answers: number[] = [];
  for (const [forwardedFor, from] of requests) answers.push(await statusOf(url, forwardedFor, from));
  return answers;
}

describe("the rate limit's address behind a trusted proxy", () => {
  it("is the address the proxy appended: a made-up left-most X-Forwarded-For never gets a fresh budget", async () => {
    const h = await startHarness({ rateLimit: LIMIT, trustProxy: ["127.0.0.1/32", "::1"] });
    try {
      // The client sends its own X-Forwarded-For; the proxy appends the address it saw.
      expect(
        await statuses(h.url, [
          ["6.6.6.6, 198.51.100.7"],
          ["7.7.7.7, 198.51.100.7"],
          ["8.8.8.8, 198.51.100.7"],
        ]),
      ).toEqual([200, 200, 429]);
      // Another client behind the same proxy has its own budget.
      expect(await statusOf(h.url, "6.6.6.6, 198.51.100.8")).toBe(200);
    } finally {
      await h.close();
    }
  });

  it("is the connection's address for a client that is not the proxy, whatever it forwards", async () => {
    const h = await startHarness({ rateLimit: LIMIT, trustProxy: ["127.0.0.1"] });
    try {
      expect(
        await statuses(h.url, [
          ["6.6.6.6", "127.0.0.2"],
          ["7.7.7.7", "127.0.0.2"],
          ["198.51.100.7", "127.0.0.2"],
        ]),
      ).toEqual([200, 200, 429]);
      // The budget spent was 127.0.0.2's, not the forwarded addresses'.
      expect(await statusOf(h.url, "6.6.6.6, 198.51.100.7")).toBe(200);
    } finally {
      await h.close();
    }
  });

  it("is the connection's address when no proxy is trusted (the default)", async () => {
    const h = await startHarness({ rateLimit: LIMIT });
    try {
      expect(await statuses(h.url, [["6.6.6.6"], ["7.7.7.7"], ["8.8.8.8, 198.51.100.7"]])).toEqual([
        200, 200, 429,
      ]);
      expect(await statusOf(h.url, undefined, "127.0.0.2")).toBe(200);
    } finally {
      await h.close();
    }
  });

  it("takes addresses, CIDRs of either family and Fastify's named ranges", async () => {
    const h = await startHarness({ trustProxy: ["10.0.0.1", "10.0.0.0/8", "fd00::/8", "loopback"] });
    try {
      expect(await statusOf(h.url)).toBe(200);
    } finally {
      await h.close();
    }
  });
});
