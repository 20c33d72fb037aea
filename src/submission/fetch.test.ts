import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadSubmission, redactUrl, SubmissionFetchError } from "./fetch.js";

let server: Server;
let base: string;
let dir: string;
const body = Buffer.alloc(300_000, 7);
const sha = createHash("sha256").update(body).digest("hex");

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-fetch-"));
  server = createServer((req, res) => {
    const url = new URL(req.url!, "http://x");
    if (url.pathname === "/zip") return res.end(body);
    if (url.pathname === "/redirect") return res.writeHead(302, { location: "/zip?sig=abc" }).end();
    if (url.pathname === "/loop") return res.writeHead(302, { location: "/loop" }).end();
    if (url.pathname === "/chunked") {
      // No content-length: the cap must hold while streaming.
      res.writeHead(200, { "transfer-encoding": "chunked" });
      let sent = 0;
      const push = () => {
        while (sent < 5_000_000) {
          sent += 65536;
          if (!res.write(Buffer.alloc(65536))) return res.once("drain", push);
        }
        res.end();
      };
      return push();
    }
    res.writeHead(404).end("not found");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
const dest = () => path.join(dir, `d${++n}.zip`);

describe("downloadSubmission", () => {
  it("follows redirects, hashes on the way and checks the sha256", async () => {
    const to = dest();
    expect(await downloadSubmission(`${base}/redirect`, to, { maxBytes: 1e6, sha256: sha })).toEqual({
      sha256: sha,
      bytes: body.length,
    });
    expect((await readFile(to)).equals(body)).toBe(true);
  });

  it("refuses a digest mismatch as infrastructure_error and leaves nothing", async () => {
    const to = dest();
    const error = await downloadSubmission(`${base}/zip`, to, {
      maxBytes: 1e6,
      sha256: "0".repeat(64),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SubmissionFetchError);
    expect((error as SubmissionFetchError).status).toBe("infrastructure_error");
    expect((error as Error).message).toMatch(/not the 0{64} recorded at submission/);
    expect(existsSync(to)).toBe(false);
  });

  it("caps the size from content-length and while streaming, as invalid_submission", async () => {
    const a = await downloadSubmission(`${base}/zip`, dest(), { maxBytes: 1000 }).catch((e: unknown) => e);
    expect((a as SubmissionFetchError).status).toBe("invalid_submission");
    const to = dest();
    const b = await downloadSubmission(`${base}/chunked`, to, { maxBytes: 1_000_000 }).catch(
      (e: unknown) => e,
    );
    expect((b as SubmissionFetchError).status).toBe("invalid_submission");
    expect((b as Error).message).toMatch(/larger than the 1 MiB limit/);
    expect(existsSync(to)).toBe(false);
  });

  it("reports HTTP errors, redirect loops and bad schemes without leaking the signature", async () => {
    await expect(downloadSubmission(`${base}/missing?sig=secret`, dest(), { maxBytes: 1e6 })).rejects.toThrow(
      /HTTP 404/,
    );
    await expect(
      downloadSubmission(`${base}/missing?sig=secret`, dest(), { maxBytes: 1e6 }),
    ).rejects.not.toThrow(/secret/);
    await expect(downloadSubmission(`${base}/loop`, dest(), { maxBytes: 1e6 })).rejects.toThrow(
      /too many redirects/,
    );
    await expect(downloadSubmission("file:///etc/passwd", dest(), { maxBytes: 1e6 })).rejects.toThrow(
      /not http/,
    );
    await expect(downloadSubmission("http://127.0.0.1:1/zip", dest(), { maxBytes: 1e6 })).rejects.toThrow(
      /failed/,
    );
    expect(redactUrl("https://gw.example/v1/submissions/1/zip?sig=abc&exp=1")).toBe(
      "https://gw.example/v1/submissions/1/zip?…",
    );
  });
});
