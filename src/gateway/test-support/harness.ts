/**
 * Test support: a gateway on 127.0.0.1 (random port) over a temporary data dir, dispatching to a fake
 * GitHub, with a clock the test moves; plus raw HTTP helpers that can send what honest clients would not.
 */
import { buffer } from "node:stream/consumers";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { loadCompetition, type Competition } from "../../config/index.js";
import { fastClient } from "../../github/test-support/clients.js";
import { startFakeGitHub, type FakeGitHub } from "../../github/test-support/fake-github.js";
import yazl from "yazl";
import type { DispatchPayload } from "../../gateway-api/index.js";
import { runAction } from "../../../test/support/action-runner.js";
import { createGateway, type Gateway, type GatewayOptions } from "../gateway.js";

export const COMPETITION_YML = `
name: Test <Competition>
runtime: { image: proctor/runtime }
limits:
  time: 2s
  grace: 1s
  zip: { max_size: 1m }
paths: { data_dir: data, ground_truth: gt.csv, submission_format: format.yml }
runners: [cpu, gpu]
scoring: { metric: accuracy, direction: higher, precision: 4 }
leaderboard: { daily_limit: 3, total_limit: 10, count_failed: true }
logs: { evaluation: tail, tail_lines: 2 }
`;

/** A clock the test sets and moves. */
export class FakeClock {
  constructor(public now = new Date("2025-03-01T10:00:00Z")) {}
  readonly read = (): Date => new Date(this.now);
  advance(ms: number): void {
    this.now = new Date(this.now.getTime() + ms);
  }
}

export interface Harness {
  gateway: Gateway;
  fake: FakeGitHub;
  clock: FakeClock;
  url: string;
  dir: string;
  dataDir: string;
  competition: Competition;
  /** A fresh participant token. */
  token(participant: string): string;
  /** A runner credential made for this harness. */
  runner: string;
  /** The dispatches the fake GitHub received, in order. */
  dispatches(): DispatchPayload[];
  /** Files in the storage folder (zips and partials). */
  storedFiles(): Promise<string[]>;
  close(): Promise<void>;
}

export async function startHarness(
  overrides: Partial<GatewayOptions> = {},
  competitionYml = COMPETITION_YML,
): Promise<Harness> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "proctor-gateway-"));
  await writeFile(path.join(dir, "competition.yml"), competitionYml);
  const competition = await loadCompetition(path.join(dir, "competition.yml"));
  const fake = await startFakeGitHub();
  fake.addRepo("org", "comp");
  const clock = new FakeClock();
  const dataDir = path.join(dir, "data-dir");
  const gateway = createGateway({
    competition,
    dataDir,
    github: { client: fastClient(fake, { retries: 0 }), owner: "org", repo: "comp" },
    clock: clock.read,
    sweepIntervalMs: 0,
    runningGraceMs: 1000,
    dispatchBackoffMs: { initial: 1000, max: 8000 },
    dispatchWaitMs: 10_000,
    rateLimit: false,
    ...overrides,
  });
  await gateway.app.listen({ port: 0, host: "127.0.0.1" });
  return {
    gateway,
    fake,
    clock,
    url: gateway.publicUrl(),
    dir,
    dataDir,
    competition,
    token: (participant) => gateway.intake.tokens.add(participant).token,
    runner: gateway.intake.runners.add("runner-1").token,
    dispatches: () =>
      fake.dispatches("org", "comp").map((d) => d.clientPayload as unknown as DispatchPayload),
    storedFiles: async () => (await readdir(path.join(dataDir, "submissions"))).sort(),
    close: async () => {
      await gateway.close();
      await fake.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: () => Record<string, unknown>;
}

/**
 * One HTTP request with full control over the body: a Buffer (sent with Content-Length unless `chunked`),
 * or a generator of chunks (sent chunked). Resolves with the answer even when the server answers before
 * the body is all sent and then cuts the connection.
 */
export function rawRequest(
  base: string,
  options: {
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: Buffer | (() => AsyncGenerator<Buffer>);
    chunked?: boolean;
  },
): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    let answered = false;
    const headers: Record<string, string> = { ...options.headers };
    if (Buffer.isBuffer(options.body) && !options.chunked)
      headers["content-length"] = String(options.body.length);
    const request = http.request({
      host: url.hostname,
      port: url.port,
      method: options.method ?? "GET",
      path: options.path,
      headers,
    });
    request.on("response", (response) => {
      answered = true;
      const chunks: Buffer[] = [];
      response.on("data", (c: Buffer) => chunks.push(c));
      response.on("error", () => {});
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          text,
          json: () => JSON.parse(text) as Record<string, unknown>,
        });
        request.destroy();
      });
    });
    request.on("error", (error) => {
      if (!answered) reject(error);
    });
    const body = options.body;
    if (body === undefined) {
      request.end();
    } else if (Buffer.isBuffer(body)) {
      request.end(body);
    } else {
      void (async () => {
        try {
          for await (const chunk of body()) {
            if (answered || request.destroyed) return;
            if (!request.write(chunk)) {
              await new Promise<void>((r) => {
                const done = () => {
                  request.off("drain", done);
                  request.off("close", done);
                  r();
                };
                request.on("drain", done);
                request.on("close", done);
              });
            }
          }
          if (!request.destroyed) request.end();
        } catch {
          // the server cut us off
        }
      })();
    }
  });
}

/** A multipart/form-data body: fields, then one file part with the given file name. */
export function multipart(
  file: Buffer,
  options: { filename?: string; fields?: Record<string, string>; fieldName?: string } = {},
): { body: Buffer; contentType: string } {
  const boundary = "----proctorTestBoundary7MA4YWxkTrZu0gW";
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(options.fields ?? {})) {
    parts.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
    );
  }
  parts.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${options.fieldName ?? "submission"}"; ` +
        `filename="${options.filename ?? "submission.zip"}"\r\nContent-Type: application/zip\r\n\r\n`,
    ),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** Uploads a zip's bytes as a participant. */
export function upload(
  h: Pick<Harness, "url">,
  token: string | undefined,
  zip: Buffer,
  options: { filename?: string; fields?: Record<string, string>; query?: string } = {},
): Promise<RawResponse> {
  const { body, contentType } = multipart(zip, options);
  return rawRequest(h.url, {
    method: "POST",
    path: `/v1/submissions${options.query ?? ""}`,
    headers: {
      "content-type": contentType,
      ...(token !== undefined && { authorization: `Bearer ${token}` }),
    },
    body,
  });
}

export function getJson(h: Pick<Harness, "url">, route: string, token?: string): Promise<RawResponse> {
  return rawRequest(h.url, {
    path: route,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
}

/** POSTs a result report for a submission as a runner (with `token` as its credential). */
export function postResult(
  h: Pick<Harness, "url">,
  id: string,
  token: string | undefined,
  body: unknown,
): Promise<RawResponse> {
  return rawRequest(h.url, {
    method: "POST",
    path: `/v1/runner/submissions/${id}/result`,
    headers: {
      "content-type": "application/json",
      ...(token !== undefined && { authorization: `Bearer ${token}` }),
    },
    body: Buffer.from(JSON.stringify(body)),
  });
}

/** GETs the zip of an attempt as a runner (with `token` as its credential). */
export function download(
  h: Pick<Harness, "url">,
  id: string,
  attempt: number | string,
  token: string | undefined,
): Promise<RawResponse & { bytes: Buffer }> {
  const url = new URL(h.url);
  return new Promise((resolve, reject) => {
    http
      .get(
        {
          host: url.hostname,
          port: url.port,
          path: `/v1/runner/submissions/${id}/zip?attempt=${attempt}`,
          headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (c: Buffer) => chunks.push(c));
          response.on("end", () => {
            const bytes = Buffer.concat(chunks);
            const text = bytes.toString("utf8");
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              text,
              bytes,
              json: () => JSON.parse(text) as Record<string, unknown>,
            });
          });
        },
      )
      .on("error", reject);
  });
}

export const SUCCEEDED = {
  attempt: 1,
  status: "succeeded",
  reason: "scored",
  public_score: 0.875,
  private_score_sealed: "sealed-blob",
  duration_ms: 1234,
  image_digest: "sha256:" + "d".repeat(64),
  stdout: "line 1\nline 2\nline 3\nline 4\n",
  stderr: "",
};

/** An honest zip of the given files, in memory. */
export async function zipOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, content] of Object.entries(files)) {
    zip.addBuffer(Buffer.isBuffer(content) ? content : Buffer.from(content), name, { mode: 0o100644 });
  }
  zip.end();
  return buffer(zip.outputStream);
}

export const GOOD_ZIP = () => zipOf({ "main.py": "print('hello')\n", "model.txt": "weights" });

/**
 * Runs the bundled action's run-submission as a runner of the harness's repository does for one dispatch:
 * the gateway's URL and the runner credential as submission.yml passes them (secrets, masked from the
 * start), `config` the runner's competition.yml, `extra` any other inputs.
 */
export function runSubmissionAction(
  h: Pick<Harness, "url" | "runner" | "fake">,
  id: string,
  inputs: { config: string; image: string } & Record<string, string>,
) {
  return runAction(
    {
      command: "run-submission",
      "cpu-or-gpu": "cpu",
      "submission-id": id,
      attempt: "1",
      "gateway-url": h.url,
      "runner-credential": h.runner,
      "github-token": h.fake.token,
      ...inputs,
    },
    {
      eventName: "repository_dispatch",
      env: { GITHUB_API_URL: h.fake.url, GITHUB_REPOSITORY: "org/comp" },
      secretInputs: ["runner-credential", "gateway-url", "github-token"],
    },
  );
}
