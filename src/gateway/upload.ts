/**
 * One upload as both the API (`POST /v1/submissions`, bearer token) and the page (`POST /submit`, session
 * cookie) take it: the size announced is checked before the body is read, the limits before the zip, then
 * the multipart body is streamed into the intake (fields before the file part: cpu_or_gpu, note).
 */
import type { FastifyRequest } from "fastify";
import type { CpuOrGpu, SubmittedView } from "../gateway-api/index.js";
import { MAX_NOTE_CHARS, UploadTooLargeError, type Intake } from "../intake/index.js";
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
  const declared = Number(request.headers["content-length"]);
  if (Number.isFinite(declared) && declared > max + MULTIPART_SLACK_BYTES) throw new UploadTooLargeError(max);
  intake.checkOpen(participant);
  await intake.checkQuota(participant);

  const part = await request.file({
    limits: {
      fileSize: max + 1,
      files: 1,
      fields: 6,
      fieldSize: MAX_NOTE_CHARS * 4,
      parts: 8,
      headerPairs: 50,
    },
  });
  if (!part) throw new HttpError(400, "no_file", "the upload has no file part: attach the zip as a file");
  const field = (name: string): string | undefined => {
    const value = part.fields[name];
    return value && !Array.isArray(value) && value.type === "field" ? String(value.value) : undefined;
  };
  const query = (request.query as Record<string, unknown>)["cpu_or_gpu"];
  const cpuOrGpu = (typeof query === "string" ? query : field("cpu_or_gpu")) ?? "cpu";
  if (cpuOrGpu !== "cpu" && cpuOrGpu !== "gpu") {
    part.file.destroy();
    throw new HttpError(400, "bad_request", `cpu_or_gpu must be cpu or gpu, got ${JSON.stringify(cpuOrGpu)}`);
  }
  try {
    intake.checkRunnerKind(cpuOrGpu);
  } catch (error) {
    part.file.destroy();
    throw error;
  }
  // The part's file name is ignored: the stored name is the server-made submission id.
  return intake.accept({ participant, cpuOrGpu: cpuOrGpu as CpuOrGpu, data: part.file, note: field("note") });
}
