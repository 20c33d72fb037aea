import { Writable } from "node:stream";

/**
 * Keeps the head and the tail of a byte stream within a fixed budget, counting everything that passed:
 * a program that prints gigabytes costs us `headBytes + tailBytes` of memory, not gigabytes.
 */
export class CappedCapture extends Writable {
  private readonly head: Buffer;
  private headLength = 0;
  private readonly tail: Buffer;
  private tailStart = 0; // ring buffer: index of the oldest byte once it has wrapped
  private tailLength = 0;
  private newlines = 0;
  private lastByte = -1;
  totalBytes = 0;

  constructor(
    readonly headBytes: number,
    readonly tailBytes: number,
  ) {
    super();
    this.head = Buffer.alloc(headBytes);
    this.tail = Buffer.alloc(tailBytes);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.append(chunk);
    done();
  }

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.totalBytes += chunk.length;
    this.newlines += countNewlines(chunk);
    this.lastByte = chunk[chunk.length - 1]!;
    let rest = chunk;
    if (this.headLength < this.headBytes) {
      const taken = rest.copy(this.head, this.headLength, 0, this.headBytes - this.headLength);
      this.headLength += taken;
      rest = rest.subarray(taken);
    }
    if (rest.length > 0 && this.tailBytes > 0) this.pushTail(rest);
  }

  private pushTail(bytes: Buffer): void {
    const size = this.tailBytes;
    if (bytes.length >= size) {
      bytes.copy(this.tail, 0, bytes.length - size);
      this.tailStart = 0;
      this.tailLength = size;
      return;
    }
    let writeAt = (this.tailStart + this.tailLength) % size;
    const firstPart = Math.min(bytes.length, size - writeAt);
    bytes.copy(this.tail, writeAt, 0, firstPart);
    bytes.copy(this.tail, 0, firstPart);
    writeAt = (writeAt + bytes.length) % size;
    const overflow = Math.max(0, this.tailLength + bytes.length - size);
    this.tailLength = Math.min(size, this.tailLength + bytes.length);
    this.tailStart = (this.tailStart + overflow) % size;
  }

  get truncated(): boolean {
    return this.totalBytes > this.headLength + this.tailLength;
  }

  /** Lines seen, counting a last line without its newline. */
  get lineCount(): number {
    return this.newlines + (this.totalBytes > 0 && this.lastByte !== 0x0a ? 1 : 0);
  }

  /** The kept text; where bytes were dropped in the middle, a marker says how many. */
  text(): string {
    const head = this.head.subarray(0, this.headLength);
    const tail = Buffer.concat([
      this.tail.subarray(this.tailStart, Math.min(this.tailStart + this.tailLength, this.tailBytes)),
      this.tail.subarray(0, Math.max(0, this.tailStart + this.tailLength - this.tailBytes)),
    ]);
    if (!this.truncated) return Buffer.concat([head, tail]).toString("utf8");
    const dropped = this.totalBytes - head.length - tail.length;
    return `${head.toString("utf8")}\n[... ${dropped} bytes cut by proctor ...]\n${tail.toString("utf8")}`;
  }
}

function countNewlines(chunk: Buffer): number {
  let count = 0;
  let at = chunk.indexOf(0x0a);
  while (at !== -1) {
    count++;
    at = chunk.indexOf(0x0a, at + 1);
  }
  return count;
}
