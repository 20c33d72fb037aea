/**
 * One upload as both the API (`POST /v1/submissions`, bearer token) and the page (`POST /submit`, session
 * cookie) take it: the size announced is checked before the body is read, the limits before the zip, then
 * the multipart body is streamed into the intake in its order: fields (cpu_or_gpu, note), the submission's
 * file part, and, where the competition takes images, an optional model tarball (a file part named `model`).
 */
import { Readable } from "node:stream";
import type { MultipartFile, Multipart } from "@fastify/multipart";
import type { FastifyRequest } from "fastify";
import type { CpuOrGpu, SubmittedView } from "../gateway-api/index.js";
import { MAX_NOTE_CHARS, UploadTooLargeError, type Intake } from "../intake/index.js";
import { formatBytes } from "../units/index.js";
import { HttpError } from "./errors.js";

/** Slack for the multipart framing around the zip when judging Content-Length. */
const MULTIPART_SLACK_BYTES = 64 * 1024;

export async function receiveUpload(
  intake: Intake,
  request: FastifyRequest,
  participant: string,
): Promise<SubmittedView> {
  if (!request.isMultipart()) {
    throw new HttpError(
      415,
      "not_multipart",
      "send the zip as multipart/form-data with one file part, e.g. " +
        "`curl -F submission=@submission.zip`, or use `proctor submit`",
    );
  }
  const max = intake.maxZipBytes;
  const maxModel = intake.maxModelBytes;
  const declared = Number(request.headers["content-length"]);
  if (Number.isFinite(declared) && declared > max + (maxModel ?? 0) + MULTIPART_SLACK_BYTES)
    throw new UploadTooLargeError(max);
  intake.checkOpen(participant);
  await intake.checkQuota(participant);

  const parts = request.parts({
    limits: {
      // Each file's own cap is the intake's (the zip's) or the model meter's below: past it, they name it.
      fileSize: Math.max(max, maxModel ?? 0) + 1,
      files: 2,
      fields: 6,
      fieldSize: MAX_NOTE_CHARS * 4,
      parts: 9,
      headerPairs: 50,
    },
  });
  const fields = new Map<string, string>();
  let part: MultipartFile | undefined;
  for (;;) {
    const next = await parts.next();
    if (next.done)
      throw new HttpError(400, "no_file", "the upload has no file part: attach the zip as a file");
    if (next.value.type === "file") {
      part = next.value;
      break;
    }
    if (!fields.has(next.value.fieldname)) fields.set(next.value.fieldname, String(next.value.value));
  }
  const file = part;
  if (file.fieldname === "model") {
    file.file.destroy();
    throw new HttpError(
      400,
      "unexpected_part",
      "the model tarball came before the submission: send the submission's file part first, then `model`",
    );
  }
  const query = (request.query as Record<string, unknown>)["cpu_or_gpu"];
  const cpuOrGpu = (typeof query === "string" ? query : fields.get("cpu_or_gpu")) ?? "cpu";
  if (cpuOrGpu !== "cpu" && cpuOrGpu !== "gpu") {
    file.file.destroy();
    throw new HttpError(400, "bad_request", `cpu_or_gpu must be cpu or gpu, got ${JSON.stringify(cpuOrGpu)}`);
  }
  try {
    intake.checkRunnerKind(cpuOrGpu);
  } catch (error) {
    file.file.destroy();
    throw error;
  }
  // The parts' file names are ignored: the stored names are the server-made submission id's.
  return intake.accept({
    participant,
    cpuOrGpu: cpuOrGpu as CpuOrGpu,
    data: file.file,
    note: fields.get("note"),
    model: () => nextModel(parts, maxModel),
  });
}

/**
 * What follows the submission's file part: nothing (null), or the model tarball, capped, whose stream fails
 * when anything follows it (so that the intake keeps nothing of an upload it did not read whole).
 */
async function nextModel(parts: AsyncIterator<Multipart>, maxModel: number | null): Promise<Readable | null> {
  const next = await parts.next();
  if (next.done) return null;
  const part = next.value;
  const refuse = (what: string) => {
    if (part.type === "file") part.file.destroy();
    return unexpected(what);
  };
  if (part.type !== "file" || part.fieldname !== "model")
    throw refuse(`the part ${JSON.stringify(part.fieldname)} came after the submission's file`);
  if (maxModel === null)
    throw refuse(
      "a model tarball was sent, but this competition takes zips (a model goes only with an image " +
        "submission, submission.kind: image); send the zip alone",
    );
  const file = part.file as Readable;
  // A page's empty file field (no model chosen) is no model.
  if (part.filename === "") {
    for await (const chunk of file) void chunk;
    await noMore(parts);
    return null;
  }
  const cap = maxModel;
  async function* capped() {
    let bytes = 0;
    for await (const chunk of file as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > cap)
        throw new HttpError(
          413,
          "model_too_large",
          `the model tarball is larger than this competition's limit of ${formatBytes(cap)} ` +
            "(submission.image.max_model in competition.yml); nothing was kept. Keep only what inference " +
            "loads, gzip it (tar -czf model.tar.gz -C model .) and submit again",
        );
      yield chunk;
    }
    await noMore(parts);
  }
  return Readable.from(capped(), { objectMode: false });
}

async function noMore(parts: AsyncIterator<Multipart>): Promise<void> {
  const next = await parts.next();
  if (next.done) return;
  if (next.value.type === "file") next.value.file.destroy();
  throw unexpected(`the part ${JSON.stringify(next.value.fieldname)} came after the model tarball`);
}

const unexpected = (what: string) =>
  new HttpError(
    400,
    "unexpected_part",
    `${what}: send the fields (cpu_or_gpu, note) first, then the submission's file part, then optionally ` +
      "the model tarball as a file part named `model` (proctor submit --model model.tar.gz)",
  );
