/**
 * The stream pieces both passes of image-archive inspection use: a byte meter that refuses past a cap, the
 * compression-ratio test, and the mapping of tar and zlib failures to refusals.
 */
import type { Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { RATIO_FLOOR_BYTES } from "./limits.js";
import { InvalidImageError, RESAVE, refuseArchive, refuseLayer } from "./image-rules.js";
import type { Pass } from "./image-archive.js";

/** Counts (and optionally hashes) bytes through a stream; `onBytes` throws to refuse. */
export class Meter extends Transform {
  bytes = 0;
  constructor(
    private readonly onBytes: (total: number) => void = () => undefined,
    private readonly hash?: Hash,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: string, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash?.update(chunk);
    try {
      this.onBytes(this.bytes);
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback(null, chunk);
  }
}

export function ratioCheck(produced: number, consumed: number, limit: number): boolean {
  return produced >= RATIO_FLOOR_BYTES && produced > Math.max(consumed, 1) * limit;
}

/** Turns a tar or zlib failure into a refusal; leaves refusals and the platform's own errors alone. */
export function mapStreamError(
  error: unknown,
  pass: Pass,
  layer: string | undefined,
): InvalidImageError | undefined {
  if (error instanceof InvalidImageError) return error;
  if (!(error instanceof Error) || error instanceof TypeError || error instanceof ReferenceError)
    return undefined;
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === "string" && !code.startsWith("Z_") && code !== "ERR_STREAM_PREMATURE_CLOSE")
    return undefined;
  const detail = error.message;
  if (layer !== undefined) {
    return refuseLayer(
      "corrupt_layer",
      pass.archiveName,
      layer,
      undefined,
      `the layer is corrupt (${detail})`,
      RESAVE,
    );
  }
  const rule = /Invalid tar header|Unexpected end of data/.test(detail)
    ? "not_an_archive"
    : "corrupt_archive";
  return refuseArchive(
    rule,
    pass.archiveName,
    undefined,
    rule === "not_an_archive"
      ? `it is not a complete tar archive (${detail})`
      : `the archive is corrupt (${detail})`,
    RESAVE,
  );
}
