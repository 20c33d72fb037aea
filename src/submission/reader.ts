/**
 * The descriptor reader yauzl reads the zip through. yauzl's own (fd-slicer) crashes when a stream is
 * destroyed while one of its reads is queued, and Node's fs streams close the descriptor when destroyed;
 * this one does neither, and closes the descriptor only once no read is in flight.
 *
 * Small reads (central-directory records, local headers) are served synchronously from a ring of 64 KiB
 * windows: a thread-pool round trip costs far more than a pread from the page cache, and a local header's
 * window usually holds the small entry's data too. readAt also serves the synchronous writer's entry data;
 * yauzl's read streams (the portable writer) read on the thread pool.
 */
import { close, read, readSync } from "node:fs";
import { Readable } from "node:stream";
import yauzl from "yauzl";

const WINDOW = 64 * 1024;
/** Windows kept: more than the entries extraction keeps in flight. */
const WINDOWS = 32;
/** Read size of streamed entry data. */
const STREAM_CHUNK = 64 * 1024;

interface Window {
  start: number;
  end: number;
  buffer: Buffer;
}

export class FdReader extends yauzl.RandomAccessReader {
  private inFlight = 0;
  private closing: ((error: Error | null) => void) | undefined;
  /** Preallocated on first use and recycled, so reading makes no garbage. */
  private readonly windows: Window[] = [];
  private nextWindow = 0;

  constructor(readonly fd: number) {
    super();
  }

  /**
   * Copies [position, position + length) into target, from a cached window or by a synchronous read.
   * Returns the bytes copied (fewer only at the end of the file).
   */
  readAt(target: Buffer, targetOffset: number, length: number, position: number): number {
    for (const window of this.windows) {
      if (position >= window.start && position + length <= window.end) {
        return window.buffer.copy(
          target,
          targetOffset,
          position - window.start,
          position - window.start + length,
        );
      }
    }
    if (length > WINDOW) return readSync(this.fd, target, targetOffset, length, position);
    let window = this.windows[this.nextWindow];
    if (window === undefined) {
      window = { start: 0, end: 0, buffer: Buffer.allocUnsafe(WINDOW) };
      this.windows.push(window);
    }
    this.nextWindow = (this.nextWindow + 1) % WINDOWS;
    // Invalidate before reading, so a failed read leaves no stale window behind.
    window.end = window.start = -1;
    const bytesRead = readSync(this.fd, window.buffer, 0, WINDOW, position);
    window.start = position;
    window.end = position + bytesRead;
    return window.buffer.copy(target, targetOffset, 0, Math.min(length, bytesRead));
  }

  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    // yauzl's callback takes (error, bytesRead), though its typings only name the error.
    callback: (error: Error | null, bytesRead?: number) => void,
  ): void {
    let bytesRead: number;
    try {
      bytesRead = this.readAt(buffer, offset, length, position);
    } catch (error) {
      process.nextTick(callback, error as Error);
      return;
    }
    process.nextTick(callback, null, bytesRead);
  }

  override _readStreamForRange(start: number, end: number): Readable {
    return new RangeStream(this, start, end);
  }

  /** Positional read on the thread pool; the descriptor stays open until it completes. */
  readAsync(
    target: Buffer,
    length: number,
    position: number,
    callback: (error: Error | null, bytesRead: number) => void,
  ): void {
    this.inFlight++;
    read(this.fd, target, 0, length, position, (error, bytesRead) => {
      this.inFlight--;
      this.closeIfIdle();
      callback(error, bytesRead);
    });
  }

  override close(callback: (error: Error | null) => void): void {
    this.closing = callback;
    this.closeIfIdle();
  }

  private closeIfIdle(): void {
    const callback = this.closing;
    if (callback === undefined || this.inFlight > 0) return;
    this.closing = undefined;
    close(this.fd, callback);
  }
}

/** [start, end) of the zip, read on the thread pool a chunk at a time. */
class RangeStream extends Readable {
  constructor(
    private readonly reader: FdReader,
    private position: number,
    private readonly end: number,
  ) {
    super({ highWaterMark: STREAM_CHUNK });
  }

  override _read(): void {
    const length = Math.min(STREAM_CHUNK, this.end - this.position);
    if (length <= 0) {
      this.push(null);
      return;
    }
    const chunk = Buffer.allocUnsafe(length);
    this.reader.readAsync(chunk, length, this.position, (error, bytesRead) => {
      if (this.destroyed) return;
      if (error) return void this.destroy(error);
      if (bytesRead === 0) return void this.destroy(new Error("unexpected EOF"));
      this.position += bytesRead;
      this.push(bytesRead === length ? chunk : chunk.subarray(0, bytesRead));
    });
  }
}
