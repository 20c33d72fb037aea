import { describe, expect, it } from "vitest";
import { getJson, rawRequest, startHarness } from "./test-support/harness.js";

describe("each route plugin authenticates in its own onRequest hook", () => {
  it("after the rate limiter: refused credentials still spend their sender's budget", async () => {
    const limited = await startHarness({ rateLimit: { max: 3, uploadsMax: 1, timeWindowMs: 60_000 } });
    try {
      const madeUp = `pct_${"0".repeat(12)}_${"B".repeat(43)}`;
      const statuses: number[] = [];
      for (let i = 0; i < 4; i += 1)
        statuses.push((await getJson(limited, "/v1/submissions", madeUp)).status);
      expect(statuses).toEqual([401, 401, 401, 429]);
    } finally {
      await limited.close();
    }
  });

  it("before the body is read: an unauthenticated request is 401 whatever its body", async () => {
    const h = await startHarness();
    try {
      const r = await rawRequest(h.url, {
        method: "POST",
        path: "/v1/runner/submissions/sub-x/result",
        headers: { "content-type": "application/json", authorization: "Bearer prc_nope" },
        body: Buffer.from("{not json"),
      });
      expect(r.status).toBe(401);
      expect(r.json()["error"]).toBe("unauthorized");
      const page = await rawRequest(h.url, {
        method: "POST",
        path: "/submit",
        headers: { accept: "application/json", "content-type": "multipart/form-data; boundary=x" },
        body: Buffer.from("--x--\r\n"),
      });
      expect(page.status).toBe(401);
      expect(page.json()).toEqual({ error: "unauthorized", message: "sign in first: your session ended" });
    } finally {
      await h.close();
    }
  });
});
