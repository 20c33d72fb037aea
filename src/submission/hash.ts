import { createHash } from "node:crypto";
import { createReadStream, read } from "node:fs";
import { promisify } from "node:util";

const readAt = promisify(read);
const CHUNK = 1024 * 1024;

/** SHA-256 of a file as lowercase hex, streamed (constant memory). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * SHA-256 of an open descriptor's content by positional reads. Never closes the descriptor (an fs stream
 * would on abort, under the feet of its owner); stops early when the signal aborts.
 */
export async function sha256Fd(fd: number, signal?: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(CHUNK);
  for (let position = 0; ;) {
    signal?.throwIfAborted();
    const { bytesRead } = await readAt(fd, buffer, 0, CHUNK, position);
    if (bytesRead === 0) return hash.digest("hex");
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
}
