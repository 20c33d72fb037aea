/**
 * The participant's client of the gateway API (contract.ts): upload a zip (streamed, with progress), read one
 * submission or the list, cancel one, and wait for a result by polling with backoff.
 */
import { createReadStream, promises as fsp } from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { SubmissionListView, SubmissionView, SubmittedView } from "./contract.js";
import { apiError, GatewayApiError, requestJson, type GatewayCredentials } from "./http.js";

export function getSubmission(credentials: GatewayCredentials, id: string): Promise<SubmissionView> {
  return requestJson(credentials, `/v1/submissions/${encodeURIComponent(id)}`);
}

export function listSubmissions(credentials: GatewayCredentials): Promise<SubmissionListView> {
  return requestJson(credentials, "/v1/submissions");
}

/**
 * Cancels a submission: a queued one without counting, a running one stopped by its runner at its next
 * heartbeat and counted (409 not_cancellable once it is over, or for the organizers' re-run).
 */
export function cancelSubmission(credentials: GatewayCredentials, id: string): Promise<SubmittedView> {
  return requestJson(credentials, `/v1/submissions/${encodeURIComponent(id)}/cancel`, { method: "POST" });
}

export interface UploadOptions {
  zipPath: string;
  /** A model tarball sent with an image (a second file part, `model`): Grand Challenge's /opt/ml/model. */
  modelPath?: string;
  cpuOrGpu?: "cpu" | "gpu";
  /** Called as bytes of the zip (and the model after it) go out. */
  onProgress?: (sentBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
}

/**
 * Uploads a zip as multipart/form-data (one file part, then the model's if any), streamed with a known
 * Content-Length. An answer that comes while the body is still going out (413, 401, 429...) is taken as
 * the answer.
 */
export async function uploadSubmission(
  credentials: GatewayCredentials,
  options: UploadOptions,
): Promise<SubmittedView> {
  const boundary = `----proctor${randomBytes(12).toString("hex")}`;
  const filePart = (field: string, file: string, type: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; ` +
    `filename="${path.basename(file).replace(/["\r\n\\]/g, "_")}"\r\nContent-Type: ${type}\r\n\r\n`;
  const files = [{ file: options.zipPath, head: filePart("submission", options.zipPath, "application/zip") }];
  if (options.modelPath !== undefined)
    files.push({
      file: options.modelPath,
      head: `\r\n${filePart("model", options.modelPath, "application/gzip")}`,
    });
  const sizes = await Promise.all(files.map(async ({ file }) => (await fsp.stat(file)).size));
  const size = sizes.reduce((a, b) => a + b, 0);
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="cpu_or_gpu"\r\n\r\n${options.cpuOrGpu ?? "cpu"}\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const framing = head.length + tail.length + files.reduce((n, f) => n + Buffer.byteLength(f.head), 0);
  let sent = 0;
  async function* body() {
    yield head;
    for (const { file, head: part } of files) {
      yield Buffer.from(part);
      for await (const chunk of createReadStream(file, {
        highWaterMark: 256 * 1024,
      }) as AsyncIterable<Buffer>) {
        sent += chunk.length;
        options.onProgress?.(sent, size);
        yield chunk;
      }
    }
    yield tail;
  }
  const url = new URL(`${credentials.server}/v1/submissions`);
  const transport = url.protocol === "https:" ? https : http;

  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    let answered = false;
    const request = transport.request(url, {
      method: "POST",
      headers: {
        authorization: `Bearer ${credentials.token}`,
        "content-type": `multipart/form-data; boundary=${boundary}`,
        "content-length": String(framing + size),
        accept: "application/json",
      },
      ...(options.signal && { signal: options.signal }),
    });
    const file = Readable.from(body(), { objectMode: false });
    request.on("response", (response) => {
      answered = true;
      file.destroy();
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") });
        request.destroy();
      });
      response.on("error", reject);
    });
    request.on("error", (error) => {
      // Once the answer is in, a reset of the rest of the body (the server cut it off) is expected.
      if (!answered) {
        reject(
          new GatewayApiError(
            `could not upload to ${credentials.server}: ${error.message}`,
            undefined,
            undefined,
          ),
        );
      }
    });
    file.on("error", (error) => request.destroy(error));
    file.pipe(request);
  });
  if (status !== 202 && status !== 200) throw apiError(status, text);
  return JSON.parse(text) as SubmittedView;
}

export interface WaitOptions {
  /** Give up after this long (the submission keeps going; `proctor status` shows it later). */
  timeoutMs: number;
  /** First wait between polls (default 1 s); each wait is 1.5 × the previous, at most `maxIntervalMs`. */
  initialIntervalMs?: number;
  maxIntervalMs?: number;
  /** Called with each state seen. */
  onUpdate?: (view: SubmissionView) => void;
}

/** Polls until the submission is final; returns the last view seen (not final when the wait timed out). */
export async function waitForFinal(
  credentials: GatewayCredentials,
  id: string,
  options: WaitOptions,
): Promise<SubmissionView> {
  const deadline = Date.now() + options.timeoutMs;
  let interval = options.initialIntervalMs ?? 1000;
  const max = options.maxIntervalMs ?? 15_000;
  for (;;) {
    let view: SubmissionView | undefined;
    try {
      view = await getSubmission(credentials, id);
    } catch (error) {
      // A gateway briefly unreachable (restart) is waited out; its refusals are not.
      if (!(error instanceof GatewayApiError) || !error.transient) throw error;
      if (Date.now() >= deadline) throw error;
    }
    if (view) {
      options.onUpdate?.(view);
      if (view.state === "final" || view.state === "cancelled" || Date.now() >= deadline) return view;
    }
    await sleep(Math.max(0, Math.min(interval, deadline - Date.now())));
    interval = Math.min(max, interval * 1.5);
  }
}
